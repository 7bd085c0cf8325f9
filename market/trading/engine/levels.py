"""The book's internal storage: mutable orders, FIFO price levels, and public read-only views.

Each side keeps a dict `key -> _Level` and a list of keys sorted ascending so that the best
level is always the last element (O(1) to read and to pop when it empties). Bids use
`key = price`, asks `key = -price`. For an incoming order at limit price `p`, a resting level
with key `k` on the opposite side is marketable exactly when `k >= -own_key(p)`.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from market.trading.engine.commands import Side, Stp, TimeInForce


class _Order:
    """A resting order. Mutable only in `remaining`; lives in one level and in the id index."""

    __slots__ = ("order_id", "party_id", "price", "remaining", "seq", "side", "stp", "tif")

    def __init__(
        self,
        order_id: str,
        party_id: str,
        side: Side,
        price: int,
        remaining: int,
        seq: int,
        tif: TimeInForce,
        stp: Stp,
    ) -> None:
        self.order_id = order_id
        self.party_id = party_id
        self.side = side
        self.price = price
        self.remaining = remaining
        self.seq = seq
        self.tif = tif
        self.stp = stp


class _Level:
    """All resting orders at one price, in arrival order, with their total quantity and count.

    Cancelling marks the order dead (`remaining = 0`) and leaves it in the deque, so cancel is
    O(1) instead of a linear `deque.remove`; matching drops dead orders when they reach the
    front, and `compact` drops them when they outnumber the live ones. So `orders` may hold
    dead entries; `count` is the number of live ones.
    """

    __slots__ = ("count", "orders", "price", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[_Order] = deque()
        self.total = 0
        self.count = 0

    def compact(self) -> None:
        self.orders = deque(order for order in self.orders if order.remaining)


class RestingOrder(NamedTuple):
    """A snapshot of a resting order (what `restore` needs to rebuild it)."""

    order_id: str
    party_id: str
    side: Side
    price: int
    remaining: int
    seq: int
    time_in_force: TimeInForce
    stp: Stp


class DepthLevel(NamedTuple):
    """One aggregated price level."""

    price: int
    quantity: int
    orders: int


class Depth(NamedTuple):
    """Aggregated levels per side, best first."""

    bids: list[DepthLevel]
    asks: list[DepthLevel]


def snapshot(order: _Order) -> RestingOrder:
    return RestingOrder(
        order.order_id,
        order.party_id,
        order.side,
        order.price,
        order.remaining,
        order.seq,
        order.tif,
        order.stp,
    )
