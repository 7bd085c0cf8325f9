"""The order batch's SQL: one round trip to lock the instrument, one to read what the batch
needs, one to write what it did.

Raw asyncpg on the session's connection (see `market.db.raw`): the batch runs under the
instrument's lock, so every round trip and every microsecond of statement building here is
paid by every order of the instrument.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.locking import lock_key
from market.db.raw import RawConnection, attribute_columns, columns, raw_connection
from market.trading.models import Instrument, OrderState

# The batch's first statement: the instrument's advisory lock and its row, fresh. The row lock
# (every batch updates the row) makes READ COMMITTED re-read a row another process changed
# while this statement waited, so the lock and the read need one round trip, not two.
_LOCK_INSTRUMENT = (
    "SELECT i.*, pg_advisory_xact_lock($2) IS NULL AS _ FROM instruments AS i"
    " WHERE i.symbol = $1 FOR NO KEY UPDATE"
)

_ORDER_COLUMNS = (
    "id, instrument, party_id, client_order_id, side, type, price_fen, quantity, "
    "filled_quantity, remaining_quantity, filled_notional_fen, status, reject_reason, "
    "time_in_force, expires_at, stp, batch_id, engine_seq, reserved_cash_fen, escrowed_units, "
    "created_at, updated_at"
)
_ORDER_FIELDS = tuple(_ORDER_COLUMNS.split(", "))
_ORDER_ROW = "ROW(" + ", ".join(f"o.{c}" for c in _ORDER_FIELDS) + ")"

# Arrays of anonymous records: asyncpg decodes them (in C) into tuples of typed values.
_ESCROW = """
  (SELECT array_agg(ROW(hold_ref, batch_id, n) ORDER BY hold_ref, first)
     FROM (SELECT hold_ref, batch_id, sum(serial_end - serial_start + 1)::bigint AS n,
                  min(serial_start) AS first
             FROM unit_ranges WHERE hold_ref = ANY(${ids}::text[]) AND bucket = 'escrowed'
             GROUP BY hold_ref, batch_id) AS e) AS escrow
"""

_PREFETCH = f"""
SELECT
  (SELECT array_agg({_ORDER_ROW}) FROM orders o
     JOIN unnest($1::text[], $2::text[]) AS k(p, c) ON o.party_id = k.p AND o.client_order_id = k.c)
     AS client_orders,
  (SELECT array_agg(ROW(id, status)) FROM parties WHERE id = ANY($3::text[])) AS parties,
  (SELECT array_agg(ROW(party_id, available)) FROM cash_accounts
     WHERE party_id = ANY($4::text[])) AS cash,
  (SELECT array_agg(ROW(h.party_id, h.batch_id, h.available, b.vintage, b.region_code,
                        b.period_end) ORDER BY b.serial_start)
     FROM holdings h JOIN batches b ON b.id = h.batch_id
     WHERE h.party_id = ANY($5::text[]) AND h.available > 0 AND b.product_type = $6) AS units,
  (SELECT array_agg(id ORDER BY expires_at, id) FROM orders
     WHERE instrument = $7 AND status IN ('open', 'partially_filled')
       AND expires_at IS NOT NULL AND expires_at <= $8) AS due,
  (SELECT array_agg({_ORDER_ROW}) FROM orders o WHERE o.id = ANY($9::text[])) AS orders,
{_ESCROW.format(ids=9)}"""

_ORDERS = f"""
SELECT
  (SELECT array_agg({_ORDER_ROW}) FROM orders o WHERE o.id = ANY($1::text[])) AS orders,
{_ESCROW.format(ids=1)}"""


_WRITE = f"""
WITH new_orders AS (
  INSERT INTO orders ({_ORDER_COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
                       $12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::text[],
                       $17::text[], $18::bigint[], $19::bigint[], $20::bigint[],
                       $21::timestamptz[], $22::timestamptz[])
), changed_orders AS (
  UPDATE orders AS o SET filled_quantity = c.fq, remaining_quantity = c.rq,
         filled_notional_fen = c.fn, status = c.st, reject_reason = c.rr, engine_seq = c.es,
         reserved_cash_fen = c.rc, escrowed_units = c.eu, updated_at = c.ua
  FROM unnest($23::text[], $24::bigint[], $25::bigint[], $26::bigint[], $27::text[], $28::text[],
              $29::bigint[], $30::bigint[], $31::bigint[], $32::timestamptz[])
       AS c(id, fq, rq, fn, st, rr, es, rc, eu, ua)
  WHERE o.id = c.id
), events AS (
  INSERT INTO order_events
         (order_id, instrument, seq, kind, quantity, price_fen, trade_id, reason, created_at)
  SELECT e.order_id, $33, e.seq, e.kind, e.quantity, e.price_fen, e.trade_id, e.reason, $34
  FROM unnest($35::text[], $36::bigint[], $37::text[], $38::bigint[], $39::bigint[],
              $40::text[], $41::text[]) AS e(order_id, seq, kind, quantity, price_fen, trade_id,
                                             reason)
), commands AS (
  INSERT INTO book_commands (instrument, seq, command)
  SELECT $33, c.seq, c.command::jsonb FROM unnest($42::bigint[], $43::text[]) AS c(seq, command)
), new_trades AS (
  INSERT INTO trades (id, instrument, seq, kind, price_fen, quantity, buyer_id, seller_id,
                      buy_order_id, sell_order_id, maker_order_id, aggressor_side, executed_at,
                      certificate_id)
  SELECT t.id, $33, t.seq, t.kind, t.price_fen, t.quantity, t.buyer_id, t.seller_id,
         t.buy_order_id, t.sell_order_id, t.maker_order_id, t.aggressor_side, $34,
         t.certificate_id
  FROM unnest($44::text[], $45::bigint[], $46::text[], $47::bigint[], $48::bigint[],
              $49::text[], $50::text[], $51::text[], $52::text[], $53::text[], $54::text[],
              $55::text[])
       AS t(id, seq, kind, price_fen, quantity, buyer_id, seller_id, buy_order_id,
            sell_order_id, maker_order_id, aggressor_side, certificate_id)
), new_settlements AS (
  INSERT INTO settlements (id, trade_id, status, cash_amount_fen, buyer_fee_fen, seller_fee_fen,
                           ranges, journal_entry_id, created_at)
  SELECT s.id, s.trade_id, s.status, s.cash, s.buyer_fee, s.seller_fee, s.ranges::jsonb,
         s.journal_entry_id, $34
  FROM unnest($56::text[], $57::text[], $58::text[], $59::bigint[], $60::bigint[],
              $61::bigint[], $62::text[], $63::text[])
       AS s(id, trade_id, status, cash, buyer_fee, seller_fee, ranges, journal_entry_id)
)
UPDATE instruments SET seq = $64, command_seq = $65, next_order_seq = $66, trade_seq = $67,
       last_price_fen = $68
WHERE symbol = $33
"""


@dataclass(slots=True)
class Prefetched:
    client_orders: dict[tuple[str, str], OrderState] = field(default_factory=dict)
    party_status: dict[str, str] = field(default_factory=dict)
    cash: dict[str, int] = field(default_factory=dict)
    units: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    due: list[str] = field(default_factory=list)
    orders: dict[str, OrderState] = field(default_factory=dict)
    escrow: dict[str, list[list[Any]]] = field(default_factory=dict)


@dataclass(slots=True)
class BatchWrites:
    """Everything a batch writes besides units, cash and certificates."""

    instrument: Instrument
    now: datetime
    new_orders: list[OrderState]
    changed_orders: list[OrderState]
    events: list[dict[str, Any]]
    first_command_seq: int
    commands: list[dict[str, Any]]
    trades: list[dict[str, Any]]
    settlements: list[dict[str, Any]]


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
        return repository, Instrument(**{k: v for k, v in row.items() if k != "_"})

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
            order = _order(values)
            found.client_orders[(order.party_id, order.client_order_id)] = order
        found.party_status = dict(row["parties"] or ())
        found.cash = dict(row["cash"] or ())
        found.units = {p: [] for p in sellers}
        for party, batch, available, vintage, region, period_end in row["units"] or ():
            found.units[party].append(
                {
                    "party_id": party,
                    "batch_id": batch,
                    "available": available,
                    "vintage": vintage,
                    "region_code": region,
                    "period_end": period_end,
                }
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
        """Orders (new and changed), order events, the command log, trades, settlements and the
        instrument's counters, in one statement."""
        new, changed, events, trades, settlements = (
            w.new_orders,
            w.changed_orders,
            w.events,
            w.trades,
            w.settlements,
        )
        i = w.instrument
        await self.connection.execute(
            _WRITE,
            *attribute_columns(new, _ORDER_FIELDS),
            *attribute_columns(
                changed,
                (
                    "id",
                    "filled_quantity",
                    "remaining_quantity",
                    "filled_notional_fen",
                    "status",
                    "reject_reason",
                    "engine_seq",
                    "reserved_cash_fen",
                    "escrowed_units",
                    "updated_at",
                ),
            ),
            i.symbol,
            w.now,
            *columns(
                events, ("order_id", "seq", "kind", "quantity", "price_fen", "trade_id", "reason")
            ),
            [w.first_command_seq + n for n in range(len(w.commands))],
            [json.dumps(c, separators=(",", ":")) for c in w.commands],
            *columns(
                trades,
                (
                    "id",
                    "seq",
                    "kind",
                    "price_fen",
                    "quantity",
                    "buyer_id",
                    "seller_id",
                    "buy_order_id",
                    "sell_order_id",
                    "maker_order_id",
                    "aggressor_side",
                    "certificate_id",
                ),
            ),
            *columns(
                [
                    {**s, "ranges": json.dumps(s["ranges"], separators=(",", ":"))}
                    for s in settlements
                ],
                (
                    "id",
                    "trade_id",
                    "status",
                    "cash_amount_fen",
                    "buyer_fee_fen",
                    "seller_fee_fen",
                    "ranges",
                    "journal_entry_id",
                ),
            ),
            i.seq,
            i.command_seq,
            i.next_order_seq,
            i.trade_seq,
            i.last_price_fen,
        )


def _order(values: tuple[Any, ...]) -> OrderState:
    return OrderState(**dict(zip(_ORDER_FIELDS, values, strict=True)))


def _orders_into(found: Prefetched, row: asyncpg.Record) -> None:
    for values in row["orders"] or ():
        order = _order(values)
        found.orders[order.id] = order
        found.escrow[order.id] = []
    for hold_ref, batch, quantity in row["escrow"] or ():
        found.escrow.setdefault(hold_ref, []).append([batch, quantity])
