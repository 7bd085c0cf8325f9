"""The surveillance rules of DOMAIN.md as pure functions: facts in, findings out.

No database and no clock: `surveillance.py` reads the facts past its watermark and the history
each rule needs, calls these, and records what they find. Integers only (quantities, fen).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

CYCLE_WINDOW = timedelta(minutes=10)
CYCLE_QUANTITY_TOLERANCE_PCT = 10
SPIKE_WINDOW = timedelta(seconds=60)
SPIKE_PCT = 5
CONCENTRATION_MIN_TRADES = 10
CONCENTRATION_PCT = 50
LAYERING_WINDOW = timedelta(minutes=5)
LAYERING_MIN_ORDERS = 20
LAYERING_PCT = 90


@dataclass(frozen=True, slots=True)
class TradeFact:
    id: str
    instrument: str
    seq: int
    price_fen: int
    quantity: int
    buyer_id: str
    seller_id: str
    buy_order_id: str
    sell_order_id: str
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: str
    instrument: str | None
    parties: list[str]
    trade_ids: list[str]
    order_ids: list[str]
    detail: str
    dedupe_key: str
    observed_at: datetime
    facts: dict[str, str] = field(default_factory=dict)


def _near(quantity: int, first: int) -> bool:
    """`quantity` is the first leg's quantity ± 10 % (inclusive)."""
    return abs(quantity - first) * 100 <= first * CYCLE_QUANTITY_TOLERANCE_PCT


class CycleIndex:
    """Earlier trades of one instrument by seller and by (seller, buyer), each newest first."""

    def __init__(self, trades: Iterable[TradeFact]) -> None:
        self.by_seller: dict[str, list[TradeFact]] = defaultdict(list)
        self.by_pair: dict[tuple[str, str], list[TradeFact]] = defaultdict(list)
        for t in sorted(trades, key=lambda t: t.seq, reverse=True):
            self.by_seller[t.seller_id].append(t)
            self.by_pair[(t.seller_id, t.buyer_id)].append(t)


def _in_window(legs: list[TradeFact], closing: TradeFact) -> Iterator[TradeFact]:
    """The legs before `closing` on its instrument and at most 10 minutes older, newest first."""
    start = closing.executed_at - CYCLE_WINDOW
    for t in legs:
        if t.seq >= closing.seq or t.instrument != closing.instrument:
            continue
        if t.executed_at < start:
            return
        yield t


def find_cycle(
    closing: TradeFact, earlier: CycleIndex | Iterable[TradeFact]
) -> list[TradeFact] | None:
    """The legs of a cycle of 2 or 3 parties that `closing` completes, oldest first, or None.

    Units travel from seller to buyer. `closing` (C sells to A) closes A→C→A when an earlier
    trade had A sell to C, or A→B→C→A when A sold to B and then B sold to C. The legs are in
    sequence order on one instrument, the first leg at most 10 minutes before `closing`, and
    every leg's quantity is the first leg's ± 10 %. A shorter cycle is preferred, then the most
    recent.
    """
    index = earlier if isinstance(earlier, CycleIndex) else CycleIndex(earlier)
    home, last = closing.buyer_id, closing.seller_id
    for first in _in_window(index.by_pair.get((home, last), []), closing):
        if _near(closing.quantity, first.quantity):
            return [first, closing]
    for first in _in_window(index.by_seller.get(home, []), closing):
        middle_party = first.buyer_id
        if middle_party in (home, last) or not _near(closing.quantity, first.quantity):
            continue
        for middle in _in_window(index.by_pair.get((middle_party, last), []), closing):
            if middle.seq <= first.seq:
                break
            if _near(middle.quantity, first.quantity):
                return [first, middle, closing]
    return None


def price_spike(trade: TradeFact, previous: TradeFact | None) -> bool:
    """More than 5 % away from the instrument's previous trade, made at most 60 s before."""
    if previous is None or trade.executed_at - previous.executed_at > SPIKE_WINDOW:
        return False
    return abs(trade.price_fen - previous.price_fen) * 100 > previous.price_fen * SPIKE_PCT


@dataclass(frozen=True, slots=True)
class DayVolume:
    """One instrument's trades on one UTC day: count, total quantity, and each party's side."""

    instrument: str
    day: date
    trades: int
    total: int
    by_party_side: dict[tuple[str, str], int]


def concentrated(volume: DayVolume) -> list[tuple[str, str, int]]:
    """(party, side, quantity) for each party on one side of more than 50 % of the day's
    volume, on a day with at least 10 trades."""
    if volume.trades < CONCENTRATION_MIN_TRADES or volume.total <= 0:
        return []
    return sorted(
        (party, side, quantity)
        for (party, side), quantity in volume.by_party_side.items()
        if quantity * 100 > volume.total * CONCENTRATION_PCT
    )


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """One of a party's orders on one instrument: when placed, and when the owner cancelled it."""

    id: str
    created_at: datetime
    cancelled_at: datetime | None


def layering_at(orders: Sequence[PlacedOrder], at: datetime) -> list[PlacedOrder] | None:
    """The orders placed in the 5 minutes up to `at` when at least 20 were placed and the owner
    had cancelled more than 90 % of them by `at`; else None."""
    placed = [o for o in orders if at - LAYERING_WINDOW <= o.created_at <= at]
    if len(placed) < LAYERING_MIN_ORDERS:
        return None
    cancelled = sum(1 for o in placed if o.cancelled_at is not None and o.cancelled_at <= at)
    if cancelled * 100 > len(placed) * LAYERING_PCT:
        return placed
    return None
