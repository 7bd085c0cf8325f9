"""Events the book emits: small named tuples, cheap to build on the hot path.

Events are tuples, so two events of different types with equal fields compare equal; compare
`type(event)` as well when that matters.

What one `submit` returns, in order:

1. `Rejected(order_id, reason)` alone (no side effects, no sequence number used), or
   `Accepted(order_id, seq)`;
2. zero or more `Trade` events, interleaved with `Cancelled(maker, ..., "self_trade_prevented")`
   for resting orders removed by `cancel_oldest` / `cancel_both`;
3. the incoming order's outcome: `Rested(order_id, remaining)`, or
   `Cancelled(order_id, remaining, reason)`, or nothing when the last `Trade` shows
   `taker_remaining == 0` (fully filled).

A resting order is fully filled when a `Trade` shows `maker_remaining == 0`; there is no
separate "filled" event.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from market.trading.engine.commands import Side


class RejectReason(StrEnum):
    """Why a command had no effect (strings match the API's reason codes)."""

    PRICE_NOT_ON_TICK = "price_not_on_tick"
    QUANTITY_NOT_ON_LOT = "quantity_not_on_lot"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    ORDER_NOT_OPEN = "order_not_open"


class CancelReason(StrEnum):
    """Why an accepted order's remaining quantity left the book."""

    USER = "user"
    EXPIRED = "expired"
    IOC_REMAINDER = "ioc_remainder"  # IOC and market orders: nothing more to take at the limit
    SELF_TRADE_PREVENTED = "self_trade_prevented"
    INSUFFICIENT_FUNDS = "insufficient_funds"  # the buy's max_notional_fen ran out


class Accepted(NamedTuple):
    """The order passed validation and got `seq`, its time priority (persist it for restore)."""

    order_id: str
    seq: int


class Rejected(NamedTuple):
    """The command was refused with a machine-readable reason; nothing changed."""

    order_id: str
    reason: RejectReason


class Trade(NamedTuple):
    """One fill at the maker's price. `seq` is the book's gap-free trade sequence number.

    `maker_remaining` / `taker_remaining` are the quantities left after this fill, so the
    service can set both orders' status without asking the book.
    """

    seq: int
    maker_order_id: str
    taker_order_id: str
    maker_party_id: str
    taker_party_id: str
    price: int
    quantity: int
    aggressor_side: Side
    maker_remaining: int
    taker_remaining: int

    @property
    def notional_fen(self) -> int:
        """Cash that changes hands before fees."""
        return self.price * self.quantity

    @property
    def buyer_order_id(self) -> str:
        return self.taker_order_id if self.aggressor_side is Side.BUY else self.maker_order_id

    @property
    def seller_order_id(self) -> str:
        return self.maker_order_id if self.aggressor_side is Side.BUY else self.taker_order_id

    @property
    def buyer_party_id(self) -> str:
        return self.taker_party_id if self.aggressor_side is Side.BUY else self.maker_party_id

    @property
    def seller_party_id(self) -> str:
        return self.maker_party_id if self.aggressor_side is Side.BUY else self.taker_party_id


class Rested(NamedTuple):
    """The incoming order now rests on the book with `remaining` units."""

    order_id: str
    remaining: int


class Cancelled(NamedTuple):
    """The order's `remaining` units were cancelled; the service releases what they held."""

    order_id: str
    remaining: int
    reason: CancelReason


Event = Accepted | Rejected | Trade | Rested | Cancelled
