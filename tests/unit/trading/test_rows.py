"""The hot path's plain rows match their tables, and the batch's write statement its arguments.

A migration that adds a NOT NULL column without a server default, or renames one, fails here
instead of failing every order batch at runtime.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Table

from market.registry.models import Batch, Holding
from market.trading.batch_repository import (
    _LOCK_INSTRUMENT,
    _ORDERS,
    _PREFETCH,
    _WRITE,
    BatchRepository,
    BatchWrites,
)
from market.trading.models import Instrument, Order, OrderState, Settlement, Trade
from market.trading.rows import DeliverableHolding, SettlementRow, TradeRow

NOW = datetime(2026, 1, 1, tzinfo=UTC)

ROWS: list[tuple[type[Any], Table]] = [
    (TradeRow, Trade.__table__),  # type: ignore[attr-defined]
    (SettlementRow, Settlement.__table__),  # type: ignore[attr-defined]
    (OrderState, Order.__table__),  # type: ignore[attr-defined]
]


def names(row: type[Any]) -> list[str]:
    return [f.name for f in fields(row)]


@pytest.mark.parametrize(("row", "table"), ROWS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_field_is_a_column(row: type[Any], table: Table) -> None:
    assert set(names(row)) <= set(table.columns.keys())


@pytest.mark.parametrize(("row", "table"), ROWS, ids=lambda v: getattr(v, "__name__", ""))
def test_every_required_column_is_a_field(row: type[Any], table: Table) -> None:
    required = {
        c.name
        for c in table.columns
        if not c.nullable and c.server_default is None and c.identity is None
    }
    assert required <= set(names(row))


def test_an_order_state_is_the_order_columns_in_the_table_order() -> None:
    # The batch decodes orders positionally from a ROW(...) of the table's columns.
    assert names(OrderState) == list(Order.__table__.columns.keys())  # type: ignore[attr-defined]


def test_a_deliverable_holding_is_columns_of_holdings_and_batches() -> None:
    holdings, batches = Holding.__table__, Batch.__table__  # type: ignore[attr-defined]
    for name in names(DeliverableHolding):
        assert name in holdings.columns or name in batches.columns, name


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, statement: str, *args: Any) -> str:
        self.calls.append((statement, args))
        return "UPDATE 1"


def highest_parameter(statement: str) -> int:
    return max(int(n) for n in re.findall(r"\$(\d+)", statement))


def test_each_statement_numbers_its_parameters_without_a_gap() -> None:
    for statement in (_LOCK_INSTRUMENT, _PREFETCH, _ORDERS, _WRITE):
        used = {int(n) for n in re.findall(r"\$(\d+)", statement)}
        assert used == set(range(1, highest_parameter(statement) + 1))


async def test_the_write_passes_one_argument_per_parameter_and_one_value_per_row() -> None:
    order = OrderState(
        *("x", "SYM", "p", "c", "buy", "limit", 100, 1, 0, 1, 0, "open", None, "GTC", None),
        *("cancel_newest", None, None, 1, None, 0, 0, NOW, NOW),
    )
    trade = TradeRow(*("t", "SYM", 1, "continuous", 100, 1, "b", "s", "bo", "so", "so", "buy", NOW))
    settlement = SettlementRow("st", "t", "settled", 100, 0, 0, [], None, NOW)
    instrument = Instrument(symbol="SYM", seq=3, command_seq=2, next_order_seq=5, trade_seq=1)
    recorder = Recorder()
    await BatchRepository(recorder).write(  # type: ignore[arg-type]
        BatchWrites(
            instrument=instrument,
            now=NOW,
            new_orders=[order],
            changed_orders=[order, order],
            first_command_seq=3,
            commands=[{"op": "cancel", "order_id": "x"}] * 3,
            trades=[trade] * 5,
            settlements=[settlement] * 5,
        )
    )
    [(statement, args)] = recorder.calls
    assert len(args) == highest_parameter(statement)
    arrays = [len(a) for a in args if isinstance(a, list)]
    assert sorted(set(arrays)) == [1, 2, 3, 5]
    assert args[-5:] == (3, 2, 5, 1, None)  # the instrument's counters


def test_certifying_a_trade_keeps_every_other_field() -> None:
    trade = TradeRow(*(f"value {n}" for n in range(len(fields(TradeRow)))))
    assert trade.certified("crt_1") == replace(trade, certificate_id="crt_1")


def test_escrowing_from_a_holding_keeps_every_other_field() -> None:
    values: list[Any] = [f"value {n}" for n in range(len(fields(DeliverableHolding)))]
    values[names(DeliverableHolding).index("available")] = 10
    holding = DeliverableHolding(*values)
    assert holding.less(3) == replace(holding, available=7)
