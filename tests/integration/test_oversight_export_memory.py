"""Exports stream from a server-side cursor: 100,000 trades leave in bounded memory
(tracemalloc's peak stays a small fraction of the file)."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from market.db.engine import create_engine
from market.oversight.exports import POSTING_COLUMNS, TRADE_COLUMNS, export_spec, export_stream
from tests.integration.scratch import scratch_url

__all__ = ["scratch_url"]

ROWS = 100_000
PEAK_LIMIT = 8 * 1024 * 1024
LATE_ROW = 90_001
LATE = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=LATE_ROW)

FILL = [
    """INSERT INTO instruments (symbol, product_type, eligibility, tick_size_fen, lot_size,
         reference_price_fen, price_band_bps, buyer_fee_bps, seller_fee_bps, status, created_at)
       VALUES ('BIG', 'CARBON_SINK', '{}', 1, 1, 5000, 1000, 0, 0, 'open', now())""",
    f"""INSERT INTO trades (id, instrument, seq, kind, price_fen, quantity, buyer_id, seller_id,
         buy_order_id, sell_order_id, maker_order_id, aggressor_side, executed_at)
       SELECT 'trd_' || lpad(i::text, 8, '0'), 'BIG', i, 'continuous', 5000 + i % 100, 1 + i % 7,
              'pty_b' || i % 13, 'pty_s' || i % 11, 'ord_b' || i, 'ord_s' || i, 'ord_s' || i,
              'buy', timestamptz '2026-01-01' + i * interval '1 second'
       FROM generate_series(1, {ROWS}) AS i""",
    f"""INSERT INTO journal_entries (id, kind, ref_id, created_at)
       SELECT 'jnl_' || lpad(i::text, 8, '0'), 'deposit', 'dep_' || i,
              timestamptz '2026-01-01' + i * interval '1 second'
       FROM generate_series(1, {ROWS}) AS i""",
    f"""INSERT INTO postings (entry_id, account, party_id, amount)
       SELECT 'jnl_' || lpad(i::text, 8, '0'), a.account, NULL, a.sign * (100 + i % 1000)
       FROM generate_series(1, {ROWS}) AS i,
            (VALUES ('external:bank', -1), ('external:clearing', 1)) AS a(account, sign)""",
]


async def _fill(url: str) -> None:
    engine = create_engine(url, 1)
    try:
        async with engine.begin() as connection:
            for statement in FILL:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _measure(
    url: str, kind: str, fmt: str, since: datetime | None = None
) -> tuple[int, int, int, bytes, bytes]:
    """(records, bytes, tracemalloc peak, first chunk, last chunk) of one export."""
    engine = create_engine(url, 1)
    records = size = 0
    first = last = b""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        async for chunk in export_stream(engine, export_spec(kind), fmt, since, None):
            first = first or chunk
            last = chunk
            size += len(chunk)
            records += chunk.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        await engine.dispose()
    return records, size, peak, first, last


async def test_exports_stream_in_constant_memory(scratch_url: str) -> None:
    await _fill(scratch_url)

    records, size, peak, first, last = await _measure(scratch_url, "trades", "csv")
    assert records == ROWS + 1  # the header row
    assert size > 10 * 1024 * 1024 and peak < min(PEAK_LIMIT, size // 4), (size, peak)
    header, row = list(csv.reader(io.StringIO(first.decode())))[:2]
    assert tuple(header) == TRADE_COLUMNS
    assert row[:3] == ["trd_00000001", "1", "BIG"] and row[4] == "50.01"
    assert list(csv.reader(io.StringIO(last.decode())))[-1][0] == f"trd_{ROWS:08d}"

    # The other format, on a tenth of the postings: the same cursor, one JSON object a line.
    records, size, peak, first, _ = await _measure(scratch_url, "ledger", "jsonl", since=LATE)
    assert records == 2 * (ROWS - LATE_ROW + 1)
    assert peak < min(PEAK_LIMIT, size // 2), (size, peak)
    posting = json.loads(first.decode().splitlines()[0])
    assert tuple(posting) == POSTING_COLUMNS and posting["entry_id"] == f"jnl_{LATE_ROW:08d}"
