"""Pure price-time priority matching engine: stdlib only, integers, no clock, no I/O.

Usage: `book = OrderBook(InstrumentRules(...))`, then `book.submit(NewOrder(...))`,
`book.cancel(CancelOrder(id))`, `book.expire(ExpireOrder(id))` each return a list of events;
`book.restore(RestoreOrder(...))` rebuilds resting orders after a restart.
"""

from market.trading.engine.book import OrderBook
from market.trading.engine.commands import (
    CancelOrder,
    Command,
    ExpireOrder,
    NewOrder,
    OrderType,
    RestoreOrder,
    Side,
    Stp,
    TimeInForce,
)
from market.trading.engine.events import (
    Accepted,
    Cancelled,
    CancelReason,
    Event,
    Rejected,
    RejectReason,
    Rested,
    Trade,
)
from market.trading.engine.invariants import BookInvariantError
from market.trading.engine.levels import Depth, DepthLevel, RestingOrder
from market.trading.engine.rules import InstrumentRules

__all__ = [
    "Accepted",
    "BookInvariantError",
    "CancelOrder",
    "CancelReason",
    "Cancelled",
    "Command",
    "Depth",
    "DepthLevel",
    "Event",
    "ExpireOrder",
    "InstrumentRules",
    "NewOrder",
    "OrderBook",
    "OrderType",
    "RejectReason",
    "Rejected",
    "Rested",
    "RestingOrder",
    "RestoreOrder",
    "Side",
    "Stp",
    "TimeInForce",
    "Trade",
]
