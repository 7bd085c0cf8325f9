"""Commands the book accepts: plain immutable values, validated for shape by the caller.

Prices are integer fen (CNY minor units), quantities integer units. The engine never sees a
float, a clock or a balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    """Which side of the book an order is on."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """`limit` orders carry a price; `market` orders take liquidity and never rest."""

    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    """How long an order may live.

    `GTD` rests exactly like `GTC`: the engine has no clock, so the service sends an
    `ExpireOrder` when the time comes.
    """

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTD = "GTD"


class Stp(StrEnum):
    """Self-trade prevention mode of the incoming order (a party never trades with itself).

    - `cancel_newest`: the incoming order's remaining quantity is cancelled, the resting
      order stays.
    - `cancel_oldest`: the resting order is cancelled and matching continues.
    - `cancel_both`: both are cancelled.
    """

    CANCEL_NEWEST = "cancel_newest"
    CANCEL_OLDEST = "cancel_oldest"
    CANCEL_BOTH = "cancel_both"


@dataclass(frozen=True, slots=True)
class NewOrder:
    """Submit an order.

    `price` is required for limit orders and must be `None` for market orders.
    `max_notional_fen` is an optional cash budget for buy orders (limit or market): matching
    stops before Σ price × quantity of this order's fills would exceed it, and the remaining
    quantity is cancelled with reason `insufficient_funds`. Fees are not included: a service
    that wants fees covered passes the cash it may spend on principal, e.g.
    `available * 10_000 // (10_000 + buyer_fee_bps)` minus one fen per possible fill for
    per-trade fee rounding. A limit buy whose matching ends for any other reason rests as usual
    (the service reserved `price × quantity` for it).
    """

    order_id: str
    party_id: str
    side: Side
    quantity: int
    price: int | None = None
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC
    stp: Stp = Stp.CANCEL_NEWEST
    max_notional_fen: int | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Cancel a resting order at its owner's request (reason `user`)."""

    order_id: str


@dataclass(frozen=True, slots=True)
class ExpireOrder:
    """Expire a resting order (the service's GTD timer fired; reason `expired`)."""

    order_id: str


@dataclass(frozen=True, slots=True)
class RestoreOrder:
    """Put a resting order back after a restart, without matching, keeping its sequence number.

    The service replays its open orders in ascending `seq`; `quantity` is the remaining
    quantity.
    """

    order_id: str
    party_id: str
    side: Side
    price: int
    quantity: int
    seq: int
    time_in_force: TimeInForce = TimeInForce.GTC
    stp: Stp = Stp.CANCEL_NEWEST


Command = NewOrder | CancelOrder | ExpireOrder | RestoreOrder
