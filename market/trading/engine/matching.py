"""The matching walk over one side of the book, with and without effects.

`keys` is that side's sorted key list (best last) and `levels` its key -> level map; a level
with key `k` is marketable for the incoming order when `k >= limit_key` (see `levels`).
"""

from __future__ import annotations

from market.trading.engine.commands import Side, Stp
from market.trading.engine.events import Cancelled, CancelReason, Event, Trade
from market.trading.engine.levels import _Level, _Order

_NEWEST = Stp.CANCEL_NEWEST
_BOTH = Stp.CANCEL_BOTH
_STP = CancelReason.SELF_TRADE_PREVENTED
_NO_FUNDS = CancelReason.INSUFFICIENT_FUNDS
# NamedTuple constructors are Python functions; building the tuple directly is ~2x faster.
_new = tuple.__new__


def match(
    events: list[Event],
    keys: list[int],
    levels: dict[int, _Level],
    index: dict[str, _Order],
    lot: int,
    trade_seq: int,
    order_id: str,
    party_id: str,
    aggressor: Side,
    qty: int,
    limit_key: int,
    stp: Stp,
    budget: int | None,
) -> tuple[int, CancelReason | None, int]:
    """Take liquidity in price-time order at the makers' prices.

    Appends `Trade` and STP `Cancelled` events; returns the taker's remaining quantity, the
    reason matching had to stop early (or `None` when it ran out of marketable liquidity or
    filled), and the next trade sequence number.
    """
    append = events.append
    remaining = qty
    stop: CancelReason | None = None
    while keys:
        key = keys[-1]
        if key < limit_key:
            break
        level = levels[key]
        price = level.price
        orders = level.orders
        while orders:
            maker = orders[0]
            maker_qty = maker.remaining
            if not maker_qty:  # cancelled earlier, dropped lazily
                orders.popleft()
                continue
            if maker.party_id == party_id:
                if stp is _NEWEST:
                    stop = _STP
                    break
                orders.popleft()
                level.total -= maker_qty
                level.count -= 1
                del index[maker.order_id]
                maker.remaining = 0
                append(_new(Cancelled, (maker.order_id, maker_qty, _STP)))
                if stp is _BOTH:
                    stop = _STP
                    break
                continue
            fill = maker_qty if maker_qty < remaining else remaining
            if budget is not None:
                affordable = budget // price // lot * lot
                if affordable < fill:
                    stop = _NO_FUNDS
                    if not affordable:
                        break
                    fill = affordable
                budget -= fill * price
            maker_qty -= fill
            remaining -= fill
            level.total -= fill
            append(
                _new(
                    Trade,
                    (
                        trade_seq,
                        maker.order_id,
                        order_id,
                        maker.party_id,
                        party_id,
                        price,
                        fill,
                        aggressor,
                        maker_qty,
                        remaining,
                    ),
                )
            )
            trade_seq += 1
            maker.remaining = maker_qty
            if not maker_qty:
                orders.popleft()
                level.count -= 1
                del index[maker.order_id]
            if stop is not None or not remaining:
                break
        if not level.count:
            del levels[key]
            keys.pop()
        if stop is not None or not remaining:
            break
    return remaining, stop, trade_seq


def fillable(
    keys: list[int],
    levels: dict[int, _Level],
    lot: int,
    party_id: str,
    qty: int,
    limit_key: int,
    stp: Stp,
    budget: int | None,
) -> bool:
    """Would `match` fill all of `qty`? The same walk without effects (for FOK)."""
    needed = qty
    for i in range(len(keys) - 1, -1, -1):
        key = keys[i]
        if key < limit_key:
            return False
        level = levels[key]
        price = level.price
        for maker in level.orders:
            if not maker.remaining:
                continue
            if maker.party_id == party_id:
                if stp is _NEWEST or stp is _BOTH:
                    return False
                continue
            fill = min(maker.remaining, needed)
            if budget is not None:
                if budget // price // lot * lot < fill:
                    return False
                budget -= fill * price
            needed -= fill
            if not needed:
                return True
    return False
