"""Risk's pure pieces: what a buy reserves, which units a sell escrows, how an escrow is cut."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from market.trading.models import OrderState
from market.trading.risk import (
    Shortfall,
    allocate_units,
    buy_reservation,
    split_escrow,
    take_escrow,
)
from market.trading.rows import DeliverableHolding, EscrowPart

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def buy(kind: str, price_fen: int | None, quantity: int) -> OrderState:
    return OrderState(
        *("ord_1", "SYM", "buyer", "c1", "buy", kind, price_fen, quantity, 0, quantity, 0),
        *("open", None, "GTC", None, "cancel_newest", None, None, None, None, 0, 0, NOW, NOW),
    )


def holding(batch_id: str, available: int) -> DeliverableHolding:
    return DeliverableHolding("seller", batch_id, available, 2024, "110000", date(2030, 1, 1))


class TestBuyReservation:
    def test_a_limit_buy_reserves_its_notional_and_the_most_fee(self) -> None:
        reservation = buy_reservation(buy("limit", 1_000, 3), 10_000, 25)
        assert reservation is not None
        assert (reservation.amount, reservation.budget) == (3_000 + 7, None)

    def test_a_limit_buy_without_the_cash_reserves_nothing(self) -> None:
        assert buy_reservation(buy("limit", 1_000, 3), 3_006, 25) is None

    def test_a_market_buy_reserves_everything_and_its_budget_leaves_room_for_the_fee(
        self,
    ) -> None:
        reservation = buy_reservation(buy("market", None, 3), 10_025, 25)
        assert reservation is not None
        assert (reservation.amount, reservation.budget) == (10_025, 10_000)

    def test_a_market_buy_without_cash_reserves_nothing(self) -> None:
        assert buy_reservation(buy("market", None, 3), 0, 25) is None


class TestAllocateUnits:
    def test_oldest_holdings_first(self) -> None:
        parts = allocate_units(5, None, [holding("b1", 2), holding("b2", 9)], lambda h: True)
        assert parts == [EscrowPart("b1", 2), EscrowPart("b2", 3)]

    def test_only_the_named_batch(self) -> None:
        parts = allocate_units(2, "b2", [holding("b1", 2), holding("b2", 9)], lambda h: True)
        assert parts == [EscrowPart("b2", 2)]

    def test_a_named_batch_that_is_not_usable(self) -> None:
        found = allocate_units(2, "b1", [holding("b1", 2)], lambda h: h.batch_id != "b1")
        assert found == Shortfall("batch_not_eligible", 0)

    def test_too_few_usable_units(self) -> None:
        found = allocate_units(
            5, None, [holding("b1", 2), holding("b2", 9)], lambda h: h.batch_id == "b1"
        )
        assert found == Shortfall("insufficient_units", 2)


ESCROW = [EscrowPart("b1", 2), EscrowPart("b2", 3)]


class TestEscrowCuts:
    def test_take_splits_a_part(self) -> None:
        assert take_escrow(ESCROW, 3) == (
            [EscrowPart("b1", 2), EscrowPart("b2", 1)],
            [EscrowPart("b2", 2)],
        )

    def test_take_at_a_part_boundary(self) -> None:
        assert take_escrow(ESCROW, 2) == ([EscrowPart("b1", 2)], [EscrowPart("b2", 3)])

    def test_take_everything(self) -> None:
        assert take_escrow(ESCROW, 5) == (ESCROW, [])

    def test_take_more_than_held(self) -> None:
        with pytest.raises(ValueError):
            take_escrow(ESCROW, 6)

    def test_split_into_consecutive_pieces(self) -> None:
        assert split_escrow(ESCROW, [1, 3]) == (
            [[EscrowPart("b1", 1)], [EscrowPart("b1", 1), EscrowPart("b2", 2)]],
            [EscrowPart("b2", 1)],
        )
