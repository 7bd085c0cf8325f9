"""Internal consistency of a book (DOMAIN invariant 6), checked by `OrderBook.check()`."""

from __future__ import annotations

from itertools import pairwise

from market.trading.engine.commands import Side
from market.trading.engine.levels import _Level, _Order


class BookInvariantError(AssertionError):
    """The book's internal state is inconsistent: a bug, never a market condition."""


def _require(condition: bool, message: str) -> None:
    # Explicit raise rather than `assert`, so the check also runs under `python -O`.
    if not condition:
        raise BookInvariantError(message)


def _check_side(
    levels: dict[int, _Level],
    keys: list[int],
    orders: dict[str, _Order],
    side: Side,
) -> int:
    sign = 1 if side is Side.BUY else -1
    _require(all(a < b for a, b in pairwise(keys)), f"{side} keys not sorted")
    _require(set(keys) == set(levels), f"{side} keys differ from levels")
    count = 0
    for key, level in levels.items():
        _require(level.price > 0 and key == sign * level.price, f"{side} level key {key} wrong")
        _require(level.count > 0, f"{side} level {level.price} is empty")
        total = 0
        live = 0
        previous_seq = None
        for order in level.orders:
            if not order.remaining:
                # A cancelled order waiting to be dropped lazily: it must be out of the index.
                _require(
                    order.order_id not in orders or orders[order.order_id] is not order,
                    f"dead order {order.order_id} still indexed",
                )
                continue
            _require(order.remaining > 0, f"order {order.order_id} has negative quantity")
            _require(order.side is side, f"order {order.order_id} on the wrong side")
            _require(order.price == level.price, f"order {order.order_id} at the wrong level")
            _require(orders.get(order.order_id) is order, f"order {order.order_id} not indexed")
            _require(
                previous_seq is None or previous_seq < order.seq,
                f"level {level.price} not in FIFO sequence order",
            )
            previous_seq = order.seq
            total += order.remaining
            live += 1
        _require(live == level.count, f"{side} level {level.price} count {level.count} != {live}")
        _require(total == level.total, f"{side} level {level.price} total {level.total} != {total}")
        count += live
    return count


def check_book(
    bids: dict[int, _Level],
    bid_keys: list[int],
    asks: dict[int, _Level],
    ask_keys: list[int],
    orders: dict[str, _Order],
) -> None:
    """Raise `BookInvariantError` unless the book is sorted, consistent and not crossed."""
    resting = _check_side(bids, bid_keys, orders, Side.BUY)
    resting += _check_side(asks, ask_keys, orders, Side.SELL)
    _require(resting == len(orders), "order index holds orders that are not on a level")
    if bid_keys and ask_keys:
        best_bid, best_ask = bid_keys[-1], -ask_keys[-1]
        _require(best_bid < best_ask, f"book crossed: bid {best_bid} >= ask {best_ask}")
