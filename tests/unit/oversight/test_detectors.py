"""The surveillance rules as pure functions: each fires where DOMAIN.md says, and only there."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from market.oversight.detectors import (
    DayVolume,
    PlacedOrder,
    TradeFact,
    concentrated,
    find_cycle,
    layering_at,
    price_spike,
)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
_seq = itertools.count(1)


def trade(
    seller: str, buyer: str, quantity: int = 100, at: timedelta = timedelta(), price: int = 5_000
) -> TradeFact:
    seq = next(_seq)
    return TradeFact(
        id=f"trd_{seq}",
        instrument="CS",
        seq=seq,
        price_fen=price,
        quantity=quantity,
        buyer_id=buyer,
        seller_id=seller,
        buy_order_id=f"ord_b{seq}",
        sell_order_id=f"ord_s{seq}",
        executed_at=T0 + at,
    )


def cycle_of(*legs: TradeFact) -> list[str] | None:
    found = find_cycle(legs[-1], legs[:-1])
    return None if found is None else [t.id for t in found]


class TestCircularTrading:
    def test_two_parties_back_and_forth(self) -> None:
        a_b, b_a = trade("A", "B"), trade("B", "A", at=timedelta(minutes=9))
        assert cycle_of(a_b, b_a) == [a_b.id, b_a.id]

    def test_three_parties(self) -> None:
        legs = (
            trade("A", "B"),
            trade("B", "C", 95, timedelta(minutes=3)),
            trade("C", "A", 109, timedelta(minutes=10)),
        )
        assert cycle_of(*legs) == [t.id for t in legs]

    def test_a_cycle_of_four_is_not_one(self) -> None:
        legs = trade("A", "B"), trade("B", "C"), trade("C", "D"), trade("D", "A")
        assert cycle_of(*legs) is None

    def test_longer_than_ten_minutes_is_not_one(self) -> None:
        a_b, b_a = trade("A", "B"), trade("B", "A", at=timedelta(minutes=10, microseconds=1))
        assert cycle_of(a_b, b_a) is None

    def test_quantities_more_than_ten_percent_apart_are_not_one(self) -> None:
        assert cycle_of(trade("A", "B", 100), trade("B", "A", 111)) is None
        assert cycle_of(trade("A", "B", 100), trade("B", "A", 89)) is None
        assert cycle_of(trade("A", "B", 100), trade("B", "A", 90)) is not None
        legs = trade("A", "B", 100), trade("B", "C", 120), trade("C", "A", 100)
        assert cycle_of(*legs) is None

    def test_legs_out_of_order_are_not_one(self) -> None:
        b_c = trade("B", "C")
        a_b = trade("A", "B")  # after B already sold to C: the units did not travel on
        assert cycle_of(b_c, a_b, trade("C", "A")) is None

    def test_one_way_flow_is_not_one(self) -> None:
        assert cycle_of(trade("A", "B"), trade("A", "B"), trade("C", "B")) is None


class TestPriceSpike:
    def test_more_than_five_percent_within_a_minute(self) -> None:
        first = trade("A", "B", price=5_000)
        assert price_spike(trade("A", "B", at=timedelta(seconds=59), price=5_260), first)
        assert price_spike(trade("A", "B", at=timedelta(seconds=60), price=4_740), first)

    def test_four_point_nine_percent_or_exactly_five_is_not(self) -> None:
        first = trade("A", "B", price=5_000)
        assert not price_spike(trade("A", "B", price=5_245), first)
        assert not price_spike(trade("A", "B", price=5_250), first)
        assert not price_spike(trade("A", "B", price=4_750), first)

    def test_after_sixty_seconds_is_not(self) -> None:
        first = trade("A", "B", price=5_000)
        later = trade("A", "B", at=timedelta(seconds=60, microseconds=1), price=6_000)
        assert not price_spike(later, first)

    def test_the_first_trade_is_not(self) -> None:
        assert not price_spike(trade("A", "B"), None)


def volume(trades: int, **sides: int) -> DayVolume:
    by_party = {(k[:-2], "buy" if k.endswith("_b") else "sell"): v for k, v in sides.items()}
    total = sum(v for (_, side), v in by_party.items() if side == "buy")
    return DayVolume("CS", date(2026, 12, 1), trades, total, by_party)


class TestConcentration:
    def test_more_than_half_of_a_side_on_a_day_of_ten_trades(self) -> None:
        found = concentrated(volume(10, X_b=51, Y_b=49, S_s=60, T_s=40))
        assert found == [("S", "sell", 60), ("X", "buy", 51)]

    def test_nine_trades_is_not(self) -> None:
        assert concentrated(volume(9, X_b=100, S_s=100)) == []

    def test_exactly_half_is_not(self) -> None:
        assert concentrated(volume(12, X_b=50, Y_b=50, S_s=50, T_s=50)) == []


def orders(
    placed: int, cancelled: int, *, spread: timedelta = timedelta(seconds=10)
) -> list[PlacedOrder]:
    return [
        PlacedOrder(
            f"ord_{i}",
            T0 + i * spread,
            T0 + i * spread + timedelta(seconds=1) if i < cancelled else None,
        )
        for i in range(placed)
    ]


class TestLayering:
    def test_more_than_ninety_percent_of_twenty_cancelled(self) -> None:
        placed = orders(20, 19)
        found = layering_at(placed, T0 + timedelta(minutes=4))
        assert found is not None and len(found) == 20

    def test_exactly_ninety_percent_is_not(self) -> None:
        assert layering_at(orders(20, 18), T0 + timedelta(minutes=4)) is None

    def test_fewer_than_twenty_orders_is_not(self) -> None:
        assert layering_at(orders(19, 19), T0 + timedelta(minutes=4)) is None

    def test_orders_spread_over_more_than_five_minutes_are_not(self) -> None:
        spread = orders(20, 20, spread=timedelta(seconds=20))  # 20 orders over 6 min 20 s
        assert layering_at(spread, spread[-1].created_at + timedelta(seconds=1)) is None

    def test_cancels_after_the_moment_do_not_count_yet(self) -> None:
        placed = [
            PlacedOrder(
                f"ord_{i}",
                T0 + timedelta(seconds=i),
                T0 + timedelta(seconds=60 + 10 * i) if i < 19 else None,
            )
            for i in range(20)
        ]
        assert layering_at(placed, T0 + timedelta(seconds=120)) is None  # 7 of 20 so far
        assert layering_at(placed, T0 + timedelta(seconds=240)) is not None  # 19 of 20
