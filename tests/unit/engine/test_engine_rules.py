"""Hand-written scenarios for every trading rule of the matching engine."""

from __future__ import annotations

import pytest

from market.trading.engine import (
    Accepted,
    BookInvariantError,
    Cancelled,
    CancelOrder,
    Command,
    DepthLevel,
    Event,
    ExpireOrder,
    InstrumentRules,
    NewOrder,
    OrderBook,
    OrderType,
    Rejected,
    Rested,
    RestingOrder,
    RestoreOrder,
    Side,
    Stp,
    TimeInForce,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL


def make_book(**rules: int) -> OrderBook:
    return OrderBook(InstrumentRules(**rules))


def run(book: OrderBook, *commands: Command) -> list[Event]:
    """Process commands, checking the book after each, and return the last command's events."""
    events: list[Event] = []
    for command in commands:
        events = book.process(command)
        book.check()
    return events


def limit(order_id: str, party: str, side: Side, qty: int, price: int, **kw: object) -> NewOrder:
    return NewOrder(order_id, party, side, qty, price, **kw)  # type: ignore[arg-type]


def market(order_id: str, party: str, side: Side, qty: int, **kw: object) -> NewOrder:
    return NewOrder(order_id, party, side, qty, order_type=OrderType.MARKET, **kw)  # type: ignore[arg-type]


def trades(events: list[Event]) -> list[tuple[str, str, int, int]]:
    return [
        (e.maker_order_id, e.taker_order_id, e.price, e.quantity)
        for e in events
        if type(e) is Trade
    ]


def typed(events: list[Event]) -> list[tuple[str, tuple[object, ...]]]:
    return [(type(e).__name__, tuple(e)) for e in events]


class TestPriceTimePriority:
    def test_same_price_fills_first_come_first(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 5, 100), limit("s2", "b", SELL, 5, 100))
        events = run(book, limit("b1", "c", BUY, 7, 100))
        assert trades(events) == [("s1", "b1", 100, 5), ("s2", "b1", 100, 2)]
        assert book.remaining("s2") == 3
        assert book.remaining("s1") == 0

    def test_better_price_first_and_execution_at_maker_price(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 5, 102), limit("s2", "b", SELL, 5, 101))
        events = run(book, limit("b1", "c", BUY, 8, 105))
        assert trades(events) == [("s2", "b1", 101, 5), ("s1", "b1", 102, 3)]

    def test_sell_taker_hits_highest_bid_at_bid_price(self) -> None:
        book = make_book()
        run(book, limit("b1", "a", BUY, 5, 99), limit("b2", "b", BUY, 5, 100))
        events = run(book, limit("s1", "c", SELL, 6, 90))
        assert trades(events) == [("b2", "s1", 100, 5), ("b1", "s1", 99, 1)]
        trade = events[1]
        assert isinstance(trade, Trade)
        assert trade.aggressor_side is SELL
        assert (trade.buyer_order_id, trade.seller_order_id) == ("b2", "s1")
        assert (trade.buyer_party_id, trade.seller_party_id) == ("b", "c")
        assert trade.notional_fen == 500

    def test_event_sequence_of_a_partial_fill_that_rests(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 3, 100))
        events = run(book, limit("b1", "c", BUY, 5, 100))
        assert typed(events) == [
            ("Accepted", ("b1", 2)),
            ("Trade", (1, "s1", "b1", "a", "c", 100, 3, BUY, 0, 2)),
            ("Rested", ("b1", 2)),
        ]
        assert book.best_bid() == 100
        assert book.best_ask() is None

    def test_non_crossing_orders_rest_and_trade_seq_is_gap_free(self) -> None:
        book = make_book()
        run(book, limit("b1", "a", BUY, 5, 99), limit("s1", "b", SELL, 5, 101))
        assert book.best_bid() == 99
        assert book.best_ask() == 101
        first = run(book, limit("b2", "c", BUY, 2, 101))
        second = run(book, limit("s2", "c", SELL, 2, 99))
        seqs = [e.seq for e in first + second if isinstance(e, Trade)]
        assert seqs == [1, 2]

    def test_depth_aggregates_best_first(self) -> None:
        book = make_book()
        run(
            book,
            limit("b1", "a", BUY, 5, 99),
            limit("b2", "b", BUY, 3, 99),
            limit("b3", "a", BUY, 1, 98),
            limit("s1", "a", SELL, 2, 101),
            limit("s2", "a", SELL, 4, 103),
        )
        depth = book.depth(10)
        assert depth.bids == [DepthLevel(99, 8, 2), DepthLevel(98, 1, 1)]
        assert depth.asks == [DepthLevel(101, 2, 1), DepthLevel(103, 4, 1)]
        assert book.depth(1).bids == [DepthLevel(99, 8, 2)]
        assert book.depth(0) == ([], [])


class TestMarketOrders:
    def test_market_buy_sweeps_and_remainder_is_cancelled(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100), limit("s2", "b", SELL, 2, 105))
        events = run(book, market("m1", "c", BUY, 10))
        assert trades(events) == [("s1", "m1", 100, 2), ("s2", "m1", 105, 2)]
        assert events[-1] == Cancelled("m1", 6, "ioc_remainder")
        assert len(book) == 0

    def test_market_buy_with_budget_stops_when_cash_runs_out(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100), limit("s2", "b", SELL, 5, 150))
        events = run(book, market("m1", "c", BUY, 10, max_notional_fen=600))
        # 2 × 100 = 200 spent, 400 left buys 2 more at 150 (300), 100 left < 150.
        assert trades(events) == [("s1", "m1", 100, 2), ("s2", "m1", 150, 2)]
        assert events[-1] == Cancelled("m1", 6, "insufficient_funds")
        assert book.remaining("s2") == 3

    def test_budget_respects_lot_size(self) -> None:
        book = make_book(lot_size=10)
        run(book, limit("s1", "a", SELL, 50, 10))
        events = run(book, market("m1", "c", BUY, 50, max_notional_fen=299))
        assert trades(events) == [("s1", "m1", 10, 20)]
        assert events[-1] == Cancelled("m1", 30, "insufficient_funds")

    def test_market_sell_on_empty_book(self) -> None:
        events = run(make_book(), market("m1", "c", SELL, 3))
        assert typed(events) == [
            ("Accepted", ("m1", 1)),
            ("Cancelled", ("m1", 3, "ioc_remainder")),
        ]

    def test_market_order_stays_inside_the_band(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100), limit("s2", "a", SELL, 2, 130))
        book.set_rules(InstrumentRules(band_low_fen=90, band_high_fen=110))
        events = run(book, market("m1", "c", BUY, 4))
        assert trades(events) == [("s1", "m1", 100, 2)]
        assert events[-1] == Cancelled("m1", 2, "ioc_remainder")

    def test_limit_buy_with_budget_rests_when_budget_does_not_bind(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100))
        events = run(book, limit("b1", "c", BUY, 5, 100, max_notional_fen=500))
        assert events[-1] == Rested("b1", 3)


class TestTimeInForce:
    def test_ioc_remainder_is_cancelled(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100))
        events = run(book, limit("b1", "c", BUY, 5, 100, time_in_force=TimeInForce.IOC))
        assert trades(events) == [("s1", "b1", 100, 2)]
        assert events[-1] == Cancelled("b1", 3, "ioc_remainder")
        assert book.best_bid() is None

    def test_fok_fills_completely(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100), limit("s2", "b", SELL, 3, 101))
        events = run(book, limit("b1", "c", BUY, 5, 101, time_in_force=TimeInForce.FOK))
        assert trades(events) == [("s1", "b1", 100, 2), ("s2", "b1", 101, 3)]
        assert isinstance(events[-1], Trade)
        assert events[-1].taker_remaining == 0

    def test_fok_not_fillable_is_rejected_without_effect(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 2, 100), limit("s2", "b", SELL, 3, 102))
        events = run(book, limit("b1", "c", BUY, 5, 101, time_in_force=TimeInForce.FOK))
        assert typed(events) == [("Rejected", ("b1", "fok_not_fillable"))]
        assert book.remaining("s1") == 2
        assert book.next_order_seq == 3  # no sequence number used

    def test_fok_counts_budget(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 5, 100))
        fok = TimeInForce.FOK
        events = run(book, market("m1", "c", BUY, 5, time_in_force=fok, max_notional_fen=499))
        assert events == [Rejected("m1", "fok_not_fillable")]
        events = run(book, market("m2", "c", BUY, 5, time_in_force=fok, max_notional_fen=500))
        assert trades(events) == [("s1", "m2", 100, 5)]

    def test_gtd_rests_and_expires_on_command(self) -> None:
        book = make_book()
        run(book, limit("b1", "a", BUY, 5, 100, time_in_force=TimeInForce.GTD))
        assert book.remaining("b1") == 5
        assert run(book, ExpireOrder("b1")) == [Cancelled("b1", 5, "expired")]
        assert book.best_bid() is None
        assert run(book, ExpireOrder("b1")) == [Rejected("b1", "order_not_open")]


class TestCancel:
    def test_cancel_releases_remaining(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 5, 100), limit("b1", "c", BUY, 2, 100))
        assert run(book, CancelOrder("s1")) == [Cancelled("s1", 3, "user")]
        assert book.order("s1") is None
        assert book.depth().asks == []

    def test_cancel_unknown_or_filled_is_order_not_open(self) -> None:
        book = make_book()
        run(book, limit("s1", "a", SELL, 5, 100), limit("b1", "c", BUY, 5, 100))
        assert run(book, CancelOrder("s1")) == [Rejected("s1", "order_not_open")]
        assert run(book, CancelOrder("nope")) == [Rejected("nope", "order_not_open")]

    def test_cancelled_order_in_the_middle_of_a_level_is_skipped(self) -> None:
        book = make_book()
        run(
            book,
            limit("s1", "a", SELL, 1, 100),
            limit("s2", "b", SELL, 1, 100),
            limit("s3", "d", SELL, 1, 100),
            CancelOrder("s2"),
        )
        assert book.depth().asks == [DepthLevel(100, 2, 2)]
        events = run(book, limit("b1", "c", BUY, 3, 100))
        assert trades(events) == [("s1", "b1", 100, 1), ("s3", "b1", 100, 1)]
        assert events[-1] == Rested("b1", 1)

    def test_many_cancels_keep_the_level_compact(self) -> None:
        book = make_book()
        for i in range(100):
            run(book, limit(f"s{i}", "a", SELL, 1, 100))
        for i in range(99):
            run(book, CancelOrder(f"s{i}"))
        assert book.depth().asks == [DepthLevel(100, 1, 1)]
        events = run(book, limit("b1", "c", BUY, 1, 100))
        assert trades(events) == [("s99", "b1", 100, 1)]


class TestValidation:
    def test_price_not_on_tick(self) -> None:
        book = make_book(tick_size_fen=5)
        assert run(book, limit("b1", "a", BUY, 1, 101)) == [Rejected("b1", "price_not_on_tick")]

    def test_quantity_not_on_lot(self) -> None:
        book = make_book(lot_size=10)
        events = run(book, limit("b1", "a", BUY, 15, 100))
        assert events == [Rejected("b1", "quantity_not_on_lot")]
        events = run(book, market("m1", "a", BUY, 15))
        assert events == [Rejected("m1", "quantity_not_on_lot")]

    def test_price_out_of_band(self) -> None:
        book = OrderBook(InstrumentRules.from_reference(5000, 1000, tick_size_fen=1))
        assert book.rules.band_low_fen == 4500
        assert book.rules.band_high_fen == 5500
        assert run(book, limit("b1", "a", BUY, 1, 5501)) == [Rejected("b1", "price_out_of_band")]
        assert run(book, limit("s1", "a", SELL, 1, 4499)) == [Rejected("s1", "price_out_of_band")]
        assert isinstance(run(book, limit("b2", "a", BUY, 1, 5500))[0], Accepted)
        assert isinstance(run(book, limit("s2", "b", SELL, 1, 5500))[0], Accepted)

    def test_band_from_reference_rounds_inward_to_ticks(self) -> None:
        rules = InstrumentRules.from_reference(5003, 1000, tick_size_fen=10)
        assert (rules.band_low_fen, rules.band_high_fen) == (4510, 5500)

    def test_rejection_uses_no_sequence_number(self) -> None:
        book = make_book(tick_size_fen=5)
        run(book, limit("b1", "a", BUY, 1, 101))
        assert run(book, limit("b2", "a", BUY, 1, 100))[0] == Accepted("b2", 1)

    @pytest.mark.parametrize(
        "command",
        [
            NewOrder("x", "a", BUY, 0, 100),
            NewOrder("x", "a", BUY, 1, 0),
            NewOrder("x", "a", BUY, 1, None),
            NewOrder("x", "a", BUY, 1, 100, order_type=OrderType.MARKET),
            NewOrder("x", "a", SELL, 1, 100, max_notional_fen=100),
            NewOrder("x", "a", BUY, 1, 100, max_notional_fen=-1),
        ],
    )
    def test_malformed_commands_raise(self, command: NewOrder) -> None:
        with pytest.raises(ValueError):
            make_book().submit(command)

    def test_duplicate_open_order_id_raises(self) -> None:
        book = make_book()
        run(book, limit("b1", "a", BUY, 1, 100))
        with pytest.raises(ValueError):
            book.submit(limit("b1", "a", BUY, 1, 100))

    def test_rules_validate_themselves(self) -> None:
        with pytest.raises(ValueError):
            InstrumentRules(tick_size_fen=0)
        with pytest.raises(ValueError):
            InstrumentRules(band_low_fen=10, band_high_fen=5)


class TestSelfTradePrevention:
    def setup_book(self) -> OrderBook:
        book = make_book()
        run(
            book,
            limit("s1", "other", SELL, 2, 100),
            limit("s2", "me", SELL, 2, 100),
            limit("s3", "other", SELL, 2, 101),
        )
        return book

    def test_cancel_newest_cancels_incoming_remainder(self) -> None:
        book = self.setup_book()
        events = run(book, limit("b1", "me", BUY, 6, 101))
        assert trades(events) == [("s1", "b1", 100, 2)]
        assert events[-1] == Cancelled("b1", 4, "self_trade_prevented")
        assert book.remaining("s2") == 2
        assert book.best_bid() is None

    def test_cancel_oldest_cancels_resting_and_continues(self) -> None:
        book = self.setup_book()
        events = run(book, limit("b1", "me", BUY, 6, 101, stp=Stp.CANCEL_OLDEST))
        assert typed(events) == [
            ("Accepted", ("b1", 4)),
            ("Trade", (1, "s1", "b1", "other", "me", 100, 2, BUY, 0, 4)),
            ("Cancelled", ("s2", 2, "self_trade_prevented")),
            ("Trade", (2, "s3", "b1", "other", "me", 101, 2, BUY, 0, 2)),
            ("Rested", ("b1", 2)),
        ]

    def test_cancel_both(self) -> None:
        book = self.setup_book()
        events = run(book, limit("b1", "me", BUY, 6, 101, stp=Stp.CANCEL_BOTH))
        assert trades(events) == [("s1", "b1", 100, 2)]
        assert events[-2:] == [
            Cancelled("s2", 2, "self_trade_prevented"),
            Cancelled("b1", 4, "self_trade_prevented"),
        ]
        assert book.best_ask() == 101

    def test_fok_with_cancel_newest_is_not_fillable_behind_own_order(self) -> None:
        book = self.setup_book()
        fok = TimeInForce.FOK
        events = run(book, limit("b1", "me", BUY, 4, 101, time_in_force=fok))
        assert events == [Rejected("b1", "fok_not_fillable")]
        assert book.remaining("s2") == 2  # nothing cancelled by a rejected FOK

    def test_fok_with_cancel_oldest_skips_own_orders(self) -> None:
        book = self.setup_book()
        fok, oldest = TimeInForce.FOK, Stp.CANCEL_OLDEST
        events = run(book, limit("b1", "me", BUY, 4, 101, time_in_force=fok, stp=oldest))
        assert trades(events) == [("s1", "b1", 100, 2), ("s3", "b1", 101, 2)]
        assert Cancelled("s2", 2, "self_trade_prevented") in events
        rejected = run(book, limit("b2", "x", BUY, 1, 101, time_in_force=fok))
        assert rejected == [Rejected("b2", "fok_not_fillable")]


class TestRestore:
    def test_restore_rebuilds_an_identical_book(self) -> None:
        book = make_book()
        run(
            book,
            limit("b1", "a", BUY, 5, 99),
            limit("s1", "b", SELL, 5, 101, stp=Stp.CANCEL_BOTH),
            limit("b2", "c", BUY, 3, 99, time_in_force=TimeInForce.GTD),
            limit("s2", "d", SELL, 4, 99),  # fills b1 partly
            CancelOrder("s1"),
            limit("s3", "e", SELL, 2, 102),
        )
        saved = list(book.resting_orders())
        assert [o.order_id for o in saved] == ["b1", "b2", "s3"]
        assert saved[0] == RestingOrder(
            "b1", "a", BUY, 99, 1, 1, TimeInForce.GTC, Stp.CANCEL_NEWEST
        )

        rebuilt = OrderBook(book.rules, next_trade_seq=book.next_trade_seq)
        for o in saved:
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
            rebuilt.check()
        assert list(rebuilt.resting_orders()) == saved
        assert rebuilt.depth() == book.depth()
        assert rebuilt.next_order_seq == saved[-1].seq + 1
        follow_up = limit("s9", "z", SELL, 2, 99)
        assert rebuilt.submit(follow_up)[1:] == book.submit(limit("s9", "z", SELL, 2, 99))[1:]

    def test_restore_refuses_crossing_duplicates_and_out_of_order(self) -> None:
        book = make_book()
        book.restore(RestoreOrder("s1", "a", SELL, 100, 1, seq=5))
        with pytest.raises(ValueError):
            book.restore(RestoreOrder("b1", "b", BUY, 100, 1, seq=6))
        with pytest.raises(ValueError):
            book.restore(RestoreOrder("s1", "a", SELL, 101, 1, seq=7))
        with pytest.raises(ValueError):
            book.restore(RestoreOrder("s2", "a", SELL, 100, 1, seq=4))
        with pytest.raises(ValueError):
            book.restore(RestoreOrder("s3", "a", SELL, 100, 0, seq=9))
        assert run(book, RestoreOrder("s4", "a", SELL, 100, 2, seq=8)) == [Rested("s4", 2)]
        assert book.order("s4") == RestingOrder(
            "s4", "a", SELL, 100, 2, 8, TimeInForce.GTC, Stp.CANCEL_NEWEST
        )


def test_check_detects_corruption() -> None:
    book = make_book()
    run(book, limit("b1", "a", BUY, 5, 99))
    book._bids[99].total += 1
    with pytest.raises(BookInvariantError):
        book.check()


def test_front_lists_the_orders_an_incoming_quantity_meets_first() -> None:
    book = make_book()
    run(
        book,
        limit("a1", "p", SELL, 5, 101),
        limit("a2", "q", SELL, 5, 100),
        limit("a3", "r", SELL, 5, 100),
        limit("a4", "s", SELL, 5, 102),
        limit("b1", "t", BUY, 5, 99),
    )
    run(book, CancelOrder("a2"))  # dead entries are skipped
    assert book.front(SELL, 0) == []
    assert book.front(SELL, 1) == ["a3"]
    assert book.front(SELL, 6) == ["a3", "a1"]
    assert book.front(SELL, 100) == ["a3", "a1", "a4"]
    assert book.front(BUY, 3) == ["b1"]
    # the orders a crossing buy of that size trades with are exactly those listed
    events = run(book, limit("x", "u", BUY, 6, 102))
    assert [t[0] for t in trades(events)] == ["a3", "a1"]
