"""Regulator exports (trades, orders, retirements, ledger postings) streamed as CSV (RFC 4180)
or JSON Lines, in constant memory: rows come from a server-side cursor a few hundred at a time
and leave as they are formatted. The request's own session is not used: the stream outlives
the handler."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from market.kit.money import format_money
from market.kit.time import isoformat
from market.oversight.errors import ExportKindUnavailable

ROWS_PER_FETCH = 500
# Litestar appends "; charset=utf-8" to text types: CSV goes out as `text/csv; charset=utf-8`.
MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson"}

_PERIOD = """(CAST(:since AS timestamptz) IS NULL OR {column} >= :since)
  AND (CAST(:until AS timestamptz) IS NULL OR {column} < :until)"""


def _money(value: int | None) -> str | None:
    return None if value is None else format_money(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else isoformat(value)


TRADE_COLUMNS = (
    "id", "seq", "instrument", "kind", "price", "quantity", "buyer_id", "seller_id",
    "buy_order_id", "sell_order_id", "aggressor_side", "executed_at", "settlement_status",
    "cash_amount", "buyer_fee", "seller_fee", "ranges", "certificate_id",
)  # fmt: skip
ORDER_COLUMNS = (
    "id", "party_id", "client_order_id", "instrument", "side", "type", "price", "quantity",
    "filled_quantity", "remaining_quantity", "status", "reject_reason", "time_in_force",
    "expires_at", "batch_id", "created_at", "updated_at",
)  # fmt: skip
RETIREMENT_COLUMNS = (
    "id", "batch_id", "party_id", "quantity", "ranges", "beneficiary", "reason", "period",
    "retired_at", "certificate_id",
)  # fmt: skip
POSTING_COLUMNS = (
    "entry_id", "kind", "ref_id", "created_at", "posting_id", "account", "party_id", "amount",
)  # fmt: skip

COMPENSATION_COLUMNS = (
    "id", "scheme_id", "period_id", "period_start", "period_end", "from_account", "to_party_id",
    "asset_id", "amount", "basis", "journal_entry_id", "certificate_id", "created_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExportSpec:
    sql: str
    columns: tuple[str, ...]
    record: Callable[[RowMapping], dict[str, Any]]


def _trade(r: RowMapping) -> dict[str, Any]:
    return {
        "id": r["id"],
        "seq": r["seq"],
        "instrument": r["instrument"],
        "kind": r["kind"],
        "price": _money(r["price_fen"]),
        "quantity": r["quantity"],
        "buyer_id": r["buyer_id"],
        "seller_id": r["seller_id"],
        "buy_order_id": r["buy_order_id"],
        "sell_order_id": r["sell_order_id"],
        "aggressor_side": r["aggressor_side"],
        "executed_at": _time(r["executed_at"]),
        "settlement_status": r["settlement_status"],
        "cash_amount": _money(r["cash_amount_fen"]),
        "buyer_fee": _money(r["buyer_fee_fen"]),
        "seller_fee": _money(r["seller_fee_fen"]),
        "ranges": r["ranges"],
        "certificate_id": r["certificate_id"],
    }


def _order(r: RowMapping) -> dict[str, Any]:
    return {
        "id": r["id"],
        "party_id": r["party_id"],
        "client_order_id": r["client_order_id"],
        "instrument": r["instrument"],
        "side": r["side"],
        "type": r["type"],
        "price": _money(r["price_fen"]),
        "quantity": r["quantity"],
        "filled_quantity": r["filled_quantity"],
        "remaining_quantity": r["remaining_quantity"],
        "status": r["status"],
        "reject_reason": r["reject_reason"],
        "time_in_force": r["time_in_force"],
        "expires_at": _time(r["expires_at"]),
        "batch_id": r["batch_id"],
        "created_at": _time(r["created_at"]),
        "updated_at": _time(r["updated_at"]),
    }


def _retirement(r: RowMapping) -> dict[str, Any]:
    return {
        "id": r["id"],
        "batch_id": r["batch_id"],
        "party_id": r["party_id"],
        "quantity": r["quantity"],
        "ranges": r["ranges"],
        "beneficiary": r["beneficiary"],
        "reason": r["reason"],
        "period": r["period"],
        "retired_at": _time(r["retired_at"]),
        "certificate_id": r["certificate_id"],
    }


def _posting(r: RowMapping) -> dict[str, Any]:
    return {
        "entry_id": r["entry_id"],
        "kind": r["kind"],
        "ref_id": r["ref_id"],
        "created_at": _time(r["created_at"]),
        "posting_id": r["posting_id"],
        "account": r["account"],
        "party_id": r["party_id"],
        "amount": format_money(r["amount"]),
    }


def _compensation(r: RowMapping) -> dict[str, Any]:
    return {
        "id": r["id"],
        "scheme_id": r["scheme_id"],
        "period_id": r["period_id"],
        "period_start": r["period_start"].isoformat(),
        "period_end": r["period_end"].isoformat(),
        "from_account": r["from_account"],
        "to_party_id": r["to_party_id"],
        "asset_id": r["asset_id"],
        "amount": format_money(r["amount"]),
        "basis": r["basis"],
        "journal_entry_id": r["journal_entry_id"],
        "certificate_id": r["certificate_id"],
        "created_at": _time(r["created_at"]),
    }


EXPORTS: dict[str, ExportSpec] = {
    "trades": ExportSpec(
        f"""SELECT t.*, s.status AS settlement_status, s.cash_amount_fen, s.buyer_fee_fen,
                   s.seller_fee_fen, s.ranges
            FROM trades t LEFT JOIN settlements s ON s.trade_id = t.id
            WHERE {_PERIOD.format(column="t.executed_at")}
            ORDER BY t.executed_at, t.id""",
        TRADE_COLUMNS,
        _trade,
    ),
    "orders": ExportSpec(
        f"""SELECT * FROM orders WHERE {_PERIOD.format(column="created_at")}
            ORDER BY created_at, id""",
        ORDER_COLUMNS,
        _order,
    ),
    "retirements": ExportSpec(
        f"""SELECT * FROM retirements WHERE {_PERIOD.format(column="retired_at")}
            ORDER BY retired_at, id""",
        RETIREMENT_COLUMNS,
        _retirement,
    ),
    "ledger": ExportSpec(
        f"""SELECT e.id AS entry_id, e.kind, e.ref_id, e.created_at, p.id AS posting_id,
                   p.account, p.party_id, p.amount
            FROM journal_entries e JOIN postings p ON p.entry_id = e.id
            WHERE {_PERIOD.format(column="e.created_at")}
            ORDER BY e.created_at, e.id, p.id""",
        POSTING_COLUMNS,
        _posting,
    ),
    "compensation": ExportSpec(
        f"""SELECT c.*, p.period_start, p.period_end
            FROM compensation_payments c JOIN compensation_periods p ON p.id = c.period_id
            WHERE {_PERIOD.format(column="c.created_at")}
            ORDER BY c.created_at, c.id""",
        COMPENSATION_COLUMNS,
        _compensation,
    ),
}


def export_spec(kind: str) -> ExportSpec:
    spec = EXPORTS.get(kind)
    if spec is None:
        # The compensation context does not exist on this branch yet; it adds its spec here.
        raise ExportKindUnavailable(f"no {kind} records can be exported yet")
    return spec


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return value


async def export_stream(
    engine: AsyncEngine,
    spec: ExportSpec,
    fmt: str,
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[bytes]:
    """The file in chunks of at most `ROWS_PER_FETCH` records, read by a server-side cursor."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if fmt == "csv":
        writer.writerow(spec.columns)
    async with engine.connect() as connection:
        result = await connection.stream(
            text(spec.sql).execution_options(yield_per=ROWS_PER_FETCH),
            {"since": since, "until": until},
        )
        async for rows in result.mappings().partitions(ROWS_PER_FETCH):
            for row in rows:
                record = spec.record(row)
                if fmt == "csv":
                    writer.writerow([_csv_value(record[c]) for c in spec.columns])
                else:
                    buffer.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                    buffer.write("\n")
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
