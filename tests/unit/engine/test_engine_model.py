"""The engine against a naive reference model, driven by the same random commands.

After every step: identical events, identical resting orders, `book.check()`, and the book
invariants (no overfill, no self-trade, fills at the maker's price within the taker's limit).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from market.trading.engine import (
    CancelOrder,
    Event,
    ExpireOrder,
    InstrumentRules,
    NewOrder,
    OrderBook,
    OrderType,
    RestoreOrder,
    Side,
    Stp,
    TimeInForce,
    Trade,
)
from tests.unit.engine.reference import ReferenceBook

PARTIES = ("p1", "p2", "p3")


def as_comparable(events: list[Event]) -> list[tuple[str, tuple[object, ...]]]:
    # Events are tuples: include the type so that e.g. Rested and Accepted never compare equal.
    return [(type(e).__name__, tuple(e)) for e in events]


class Ledger:
    """What the test saw: each order's quantity, limit and fills, for the invariants."""

    def __init__(self) -> None:
        self.orders: dict[str, NewOrder] = {}
        self.filled: dict[str, int] = {}

    def record(self, cmd: NewOrder | None, events: list[Event]) -> None:
        if cmd is not None:
            self.orders[cmd.order_id] = cmd
            self.filled[cmd.order_id] = 0
        for event in events:
            if type(event) is not Trade:
                continue
            assert event.maker_party_id != event.taker_party_id, "self-trade"
            taker = self.orders[event.taker_order_id]
            assert self.orders[event.maker_order_id].price == event.price, "not at maker's price"
            if taker.price is not None:
                ok = (
                    event.price <= taker.price
                    if taker.side is Side.BUY
                    else event.price >= taker.price
                )
                assert ok, "trade outside the taker's limit"
            for order_id in (event.maker_order_id, event.taker_order_id):
                self.filled[order_id] += event.quantity
                assert self.filled[order_id] <= self.orders[order_id].quantity, "overfill"
            assert event.maker_remaining == open_quantity(self, event.maker_order_id)
            assert event.taker_remaining == open_quantity(self, event.taker_order_id)


def open_quantity(ledger: Ledger, order_id: str) -> int:
    return ledger.orders[order_id].quantity - ledger.filled[order_id]


class BookVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook(InstrumentRules())
        self.model = ReferenceBook(InstrumentRules())
        self.ledger = Ledger()
        self.issued = 0

    @initialize(
        tick=st.sampled_from([1, 2]),
        lot=st.sampled_from([1, 2]),
        banded=st.booleans(),
    )
    def set_rules(self, tick: int, lot: int, banded: bool) -> None:
        band = {"band_low_fen": 96, "band_high_fen": 104} if banded else {}
        rules = InstrumentRules(tick_size_fen=tick, lot_size=lot, **band)
        self.book.set_rules(rules)
        self.model.rules = rules

    def compare(self, ours: list[Event], theirs: list[Event]) -> None:
        assert as_comparable(ours) == as_comparable(theirs)

    @rule(
        side=st.sampled_from(Side),
        party=st.sampled_from(PARTIES),
        quantity=st.integers(1, 12),
        price=st.integers(94, 106),
        market=st.integers(0, 9),
        tif=st.sampled_from(TimeInForce),
        stp=st.sampled_from(Stp),
        budget=st.none() | st.integers(0, 1500),
    )
    def submit(
        self,
        side: Side,
        party: str,
        quantity: int,
        price: int,
        market: int,
        tif: TimeInForce,
        stp: Stp,
        budget: int | None,
    ) -> None:
        is_market = market == 0
        cmd = NewOrder(
            f"o{self.issued}",
            party,
            side,
            quantity,
            None if is_market else price,
            order_type=OrderType.MARKET if is_market else OrderType.LIMIT,
            time_in_force=tif,
            stp=stp,
            max_notional_fen=budget if side is Side.BUY else None,
        )
        self.issued += 1
        ours = self.book.submit(cmd)
        self.compare(ours, self.model.submit(cmd))
        self.ledger.record(cmd, ours)

    @precondition(lambda self: self.issued > 0)
    @rule(data=st.data(), expire=st.booleans())
    def cancel(self, data: st.DataObject, expire: bool) -> None:
        order_id = f"o{data.draw(st.integers(0, self.issued))}"  # may be unknown or finished
        if expire:
            self.compare(
                self.book.expire(ExpireOrder(order_id)), self.model.remove(ExpireOrder(order_id))
            )
        else:
            self.compare(
                self.book.cancel(CancelOrder(order_id)), self.model.remove(CancelOrder(order_id))
            )

    @rule()
    def restart(self) -> None:
        """Rebuild the book from its resting orders, as the service does after a restart."""
        rebuilt = OrderBook(
            self.book.rules,
            next_order_seq=self.book.next_order_seq,
            next_trade_seq=self.book.next_trade_seq,
        )
        for o in self.book.resting_orders():
            rebuilt.restore(
                RestoreOrder(
                    o.order_id,
                    o.party_id,
                    o.side,
                    o.price,
                    o.remaining,
                    o.seq,
                    o.time_in_force,
                    o.stp,
                )
            )
        assert rebuilt.depth(100) == self.book.depth(100)
        self.book = rebuilt

    @invariant()
    def same_state(self) -> None:
        self.book.check()
        assert list(self.book.resting_orders()) == self.model.snapshot()
        assert self.book.next_trade_seq == self.model.next_trade_seq
        bid, ask = self.book.best_bid(), self.book.best_ask()
        assert bid is None or ask is None or bid < ask


BookVersusModel.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookVersusModel = BookVersusModel.TestCase


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_long_random_stream_matches_model(seed: int) -> None:
    """Deeper books than the state machine reaches: a few thousand commands, fixed seeds."""
    print(f"seed={seed}")
    rng = random.Random(seed)
    rules = InstrumentRules(tick_size_fen=1, lot_size=1, band_low_fen=80, band_high_fen=120)
    book, model, ledger = OrderBook(rules), ReferenceBook(rules), Ledger()
    for i in range(3000):
        if i and rng.random() < 0.15:
            cancel = CancelOrder(f"o{rng.randrange(i)}")
            assert as_comparable(book.cancel(cancel)) == as_comparable(model.remove(cancel))
            continue
        side = rng.choice([Side.BUY, Side.SELL])
        is_market = rng.random() < 0.05
        cmd = NewOrder(
            f"o{i}",
            rng.choice(["a", "b", "c", "d", "e"]),
            side,
            rng.randint(1, 20),
            None if is_market else rng.randint(95, 105),
            order_type=OrderType.MARKET if is_market else OrderType.LIMIT,
            time_in_force=rng.choice(list(TimeInForce)),
            stp=rng.choice(list(Stp)),
            max_notional_fen=rng.choice([None, 500, 2000]) if side is Side.BUY else None,
        )
        ours = book.submit(cmd)
        assert as_comparable(ours) == as_comparable(model.submit(cmd)), f"seed={seed} step={i}"
        ledger.record(cmd, ours)
        if i % 100 == 0:
            book.check()
    book.check()
    assert list(book.resting_orders()) == model.snapshot()
