"""The order batch's SQL: one round trip to lock the instrument, one to read what the batch
needs, one to write what it did.

Raw asyncpg on the session's connection (see `market.db.raw`): the batch runs under the
instrument's lock, so every round trip and every microsecond of statement building here is
paid by every order of the instrument. The statements are built once, at import, from the
tables' columns (`models.py`) and the rows' fields (`rows.py`); `market.db.raw` numbers their
parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.locking import lock_key
from market.db.raw import (
    RawConnection,
    attribute_columns,
    parameters,
    raw_connection,
    typed_columns,
    unnest,
)
from market.trading.models import (
    BookCommand,
    Instrument,
    Order,
    OrderState,
    Settlement,
    Trade,
)
from market.trading.rows import (
    DeliverableHolding,
    EscrowPart,
    SettlementRow,
    TradeRow,
)

ORDERS: Table = Order.__table__  # type: ignore[attr-defined]
BOOK_COMMANDS: Table = BookCommand.__table__  # type: ignore[attr-defined]
TRADES: Table = Trade.__table__  # type: ignore[attr-defined]
SETTLEMENTS: Table = Settlement.__table__  # type: ignore[attr-defined]

# An order's columns, in the table's order: `OrderState`'s fields (tests/unit/trading/test_rows.py).
ORDER_COLUMNS = tuple(column.name for column in ORDERS.columns)
# What a batch changes on an order it did not create.
ORDER_CHANGES = (
    "filled_quantity",
    "remaining_quantity",
    "filled_notional_fen",
    "status",
    "reject_reason",
    "engine_seq",
    "ended_seq",
    "reserved_cash_fen",
    "escrowed_units",
    "updated_at",
)
INSTRUMENT_COUNTERS = ("seq", "command_seq", "next_order_seq", "trade_seq", "last_price_fen")
# Every row a batch writes has the batch's instrument and time: sent once, not as arrays.
SHARED = ("instrument", "executed_at", "created_at")


def row_columns(table: Table, row: type[Any]) -> tuple[str, ...]:
    """The columns of `table` that a row dataclass carries, in the table's order, less the
    ones every row of a batch shares."""
    carried = {f.name for f in fields(row)}
    return tuple(c.name for c in table.columns if c.name in carried and c.name not in SHARED)


TRADE_COLUMNS = row_columns(TRADES, TradeRow)
SETTLEMENT_COLUMNS = row_columns(SETTLEMENTS, SettlementRow)
COMMAND_COLUMNS = ("seq", "command")

# The batch's first statement: the instrument's advisory lock and its row, fresh. The row lock
# (every batch updates the row) makes READ COMMITTED re-read a row another process changed
# while this statement waited, so the lock and the read need one round trip, not two.
_symbol, _key = parameters(1, 2)
_LOCK_INSTRUMENT = (
    f"SELECT i.*, pg_advisory_xact_lock({_key}) IS NULL AS _ FROM instruments AS i"
    f" WHERE i.symbol = {_symbol} FOR NO KEY UPDATE"
)

_ORDER_ROW = "ROW(" + ", ".join(f"o.{c}" for c in ORDER_COLUMNS) + ")"


def _escrow(ids: str) -> str:
    """What the orders `ids` hold in escrow, per batch (oldest serials first)."""
    return f"""
  (SELECT array_agg(ROW(hold_ref, batch_id, n) ORDER BY hold_ref, first)
     FROM (SELECT hold_ref, batch_id, sum(serial_end - serial_start + 1)::bigint AS n,
                  min(serial_start) AS first
             FROM unit_ranges WHERE hold_ref = ANY({ids}::text[]) AND bucket = 'escrowed'
             GROUP BY hold_ref, batch_id) AS e) AS escrow
"""


# Arrays of anonymous records: asyncpg decodes them (in C) into tuples of typed values.
def _prefetch_statement() -> str:
    client_keys, after = unnest(typed_columns(ORDERS, ("party_id", "client_order_id")), 1)
    submitters, buyers, sellers, product_type, symbol, now, order_ids = parameters(after, 7)
    return f"""
SELECT
  (SELECT array_agg({_ORDER_ROW}) FROM orders o
     JOIN {client_keys} AS k(p, c) ON o.party_id = k.p AND o.client_order_id = k.c)
     AS client_orders,
  (SELECT array_agg(ROW(id, status)) FROM parties WHERE id = ANY({submitters}::text[])) AS parties,
  (SELECT array_agg(ROW(party_id, available)) FROM cash_accounts
     WHERE party_id = ANY({buyers}::text[])) AS cash,
  (SELECT array_agg(ROW(h.party_id, h.batch_id, h.available, b.vintage, b.region_code,
                        b.period_end) ORDER BY b.serial_start)
     FROM holdings h JOIN batches b ON b.id = h.batch_id
     WHERE h.party_id = ANY({sellers}::text[]) AND h.available > 0
       AND b.product_type = {product_type}) AS units,
  (SELECT array_agg(id ORDER BY expires_at, id) FROM orders
     WHERE instrument = {symbol} AND status IN ('open', 'partially_filled')
       AND expires_at IS NOT NULL AND expires_at <= {now}) AS due,
  (SELECT array_agg({_ORDER_ROW}) FROM orders o WHERE o.id = ANY({order_ids}::text[])) AS orders,
{_escrow(order_ids)}"""


def _orders_statement() -> str:
    (order_ids,) = parameters(1, 1)
    return f"""
SELECT
  (SELECT array_agg({_ORDER_ROW}) FROM orders o WHERE o.id = ANY({order_ids}::text[])) AS orders,
{_escrow(order_ids)}"""


def _insert(
    table: Table, alias: str, columns: Sequence[str], shared: Mapping[str, str], first: int
) -> tuple[str, int]:
    """INSERT of rows sent as one array per column, plus the `shared` columns (one parameter
    each, already numbered); and the next free parameter number."""
    arrays, after = unnest(typed_columns(table, columns), first)
    names = ", ".join([*columns, *shared])
    values = ", ".join([*(f"{alias}.{c}" for c in columns), *shared.values()])
    return (
        f"INSERT INTO {table.name} ({names})\n"
        f"  SELECT {values}\n"
        f"  FROM {arrays} AS {alias}({', '.join(columns)})",
        after,
    )


def _write_statement() -> str:
    new_orders, n = _insert(ORDERS, "o", ORDER_COLUMNS, {}, 1)
    changes, n = unnest(typed_columns(ORDERS, ("id", *ORDER_CHANGES)), n)
    symbol, now = parameters(n, 2)
    n += 2
    shared = {"instrument": symbol, "executed_at": now, "created_at": now}
    commands, n = _insert(
        BOOK_COMMANDS, "c", COMMAND_COLUMNS, {"instrument": shared["instrument"]}, n
    )
    trades, n = _insert(
        TRADES, "t", TRADE_COLUMNS, {c: shared[c] for c in ("instrument", "executed_at")}, n
    )
    settlements, n = _insert(
        SETTLEMENTS, "s", SETTLEMENT_COLUMNS, {"created_at": shared["created_at"]}, n
    )
    counters = parameters(n, len(INSTRUMENT_COUNTERS))
    return f"""
WITH new_orders AS (
  {new_orders}
), changed_orders AS (
  UPDATE orders AS o SET {", ".join(f"{c} = c.{c}" for c in ORDER_CHANGES)}
  FROM {changes} AS c({", ".join(("id", *ORDER_CHANGES))})
  WHERE o.id = c.id
), commands AS (
  {commands}
), new_trades AS (
  {trades}
), new_settlements AS (
  {settlements}
)
UPDATE instruments
SET {", ".join(f"{c} = {p}" for c, p in zip(INSTRUMENT_COUNTERS, counters, strict=True))}
WHERE symbol = {symbol}
"""


_PREFETCH = _prefetch_statement()
_ORDERS = _orders_statement()
_WRITE = _write_statement()


@dataclass(slots=True)
class Prefetched:
    client_orders: dict[tuple[str, str], OrderState] = field(default_factory=dict)
    party_status: dict[str, str] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    units: dict[str, list[DeliverableHolding]] = field(default_factory=dict)
    due: list[str] = field(default_factory=list)
    orders: dict[str, OrderState] = field(default_factory=dict)
    escrow: dict[str, list[EscrowPart]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchWrites:
    """Everything a batch writes besides units, cash and certificates."""

    instrument: Instrument
    now: datetime
    new_orders: list[OrderState]
    changed_orders: list[OrderState]
    first_command_seq: int
    commands: list[dict[str, Any]]  # the engine commands, as logged (`books.command_json`)
    trades: list[TradeRow]
    settlements: list[SettlementRow]


class BatchRepository:
    def __init__(self, connection: RawConnection) -> None:
        self.connection = connection

    @classmethod
    async def lock(
        cls, session: AsyncSession, symbol: str
    ) -> tuple[BatchRepository, Instrument | None]:
        """Begin the batch's transaction holding the instrument's advisory lock (and its row
        lock); the instrument as committed by whoever held them last (None if unknown)."""
        connection = await session.connection()
        result = await connection.exec_driver_sql(
            _LOCK_INSTRUMENT, (symbol, lock_key("instrument", symbol))
        )
        row = result.mappings().first()
        repository = cls(await raw_connection(session))
        if row is None:
            return repository, None
        return repository, Instrument.model_validate(row)

    async def prefetch(
        self,
        *,
        symbol: str,
        now: datetime,
        product_type: str,
        client_keys: list[tuple[str, str]],
        submitters: list[str],
        buyers: list[str],
        sellers: list[str],
        order_ids: list[str],
    ) -> Prefetched:
        """Earlier orders with the batch's client ids, the submitters' status, buyers' cash,
        sellers' deliverable units (oldest batch first), due GTD orders, and the orders the
        batch will likely touch with what each holds in escrow — in one round trip."""
        row = await self.connection.fetchrow(
            _PREFETCH,
            [k[0] for k in client_keys],
            [k[1] for k in client_keys],
            submitters,
            buyers,
            sellers,
            product_type,
            symbol,
            now,
            order_ids,
        )
        assert row is not None
        found = Prefetched()
        for values in row["client_orders"] or ():
            order = OrderState(*values)
            found.client_orders[(order.party_id, order.client_order_id)] = order
        found.party_status = dict(row["parties"] or ())
        found.cash = dict(row["cash"] or ())
        found.units = {p: [] for p in sellers}
        for party, batch, available, vintage, region, period_end in row["units"] or ():
            found.units[party].append(
                DeliverableHolding(
                    party_id=party,
                    batch_id=batch,
                    available=available,
                    vintage=vintage,
                    region_code=region,
                    period_end=period_end,
                )
            )
        found.due = list(row["due"] or ())
        _orders_into(found, row)
        return found

    async def orders(self, order_ids: list[str]) -> Prefetched:
        """Orders by id with what each holds in escrow (`orders` and `escrow` filled in)."""
        row = await self.connection.fetchrow(_ORDERS, order_ids)
        assert row is not None
        found = Prefetched()
        _orders_into(found, row)
        return found

    async def write(self, w: BatchWrites) -> None:
        """Orders (new and changed), the command log, trades, settlements and the instrument's
        counters, in one statement (arguments in `_write_statement`'s order)."""
        await self.connection.execute(
            _WRITE,
            *attribute_columns(w.new_orders, ORDER_COLUMNS),
            *attribute_columns(w.changed_orders, ("id", *ORDER_CHANGES)),
            w.instrument.symbol,
            w.now,
            [w.first_command_seq + n for n in range(len(w.commands))],
            [_json(c) for c in w.commands],
            *attribute_columns(w.trades, TRADE_COLUMNS),
            *_settlement_arrays(w.settlements),
            *(getattr(w.instrument, c) for c in INSTRUMENT_COUNTERS),
        )


_RANGES_AT = SETTLEMENT_COLUMNS.index("ranges")


def _settlement_arrays(settlements: list[SettlementRow]) -> list[list[Any]]:
    arrays = attribute_columns(settlements, SETTLEMENT_COLUMNS)
    arrays[_RANGES_AT] = [_json(ranges) for ranges in arrays[_RANGES_AT]]
    return arrays


# `json.dumps(value, separators=...)` would build this encoder on every call.
_json = json.JSONEncoder(separators=(",", ":")).encode


def _orders_into(found: Prefetched, row: asyncpg.Record) -> None:
    for values in row["orders"] or ():
        order = OrderState(*values)
        found.orders[order.id] = order
        found.escrow[order.id] = []
    for hold_ref, batch, quantity in row["escrow"] or ():
        found.escrow.setdefault(hold_ref, []).append(EscrowPart(batch, quantity))
