"""The invariant watch on a database of its own: quiet while the data is sound; on a corrupted
row it halts every open instrument and raises one `invariant_violation` alert. The new checks
(DOMAIN.md 9, 10) each catch their kind of damage; `market invariants` exits non-zero."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from market.cli import _invariants
from market.db.engine import create_engine, session_factory
from market.oversight.invariant_watch import invariant_watch_pass
from market.oversight.invariants import run_invariants
from market.settings import Settings
from tests.integration.scratch import scratch_url

__all__ = ["scratch_url"]

INSTRUMENTS = """
INSERT INTO instruments (symbol, product_type, eligibility, tick_size_fen, lot_size,
  reference_price_fen, price_band_bps, buyer_fee_bps, seller_fee_bps, status, created_at)
VALUES ('W1', 'CARBON_SINK', '{}', 1, 1, 5000, 1000, 0, 0, 'open', now()),
       ('W2', 'CARBON_SINK', '{}', 1, 1, 5000, 1000, 0, 0, 'closed', now())
"""
PARTY = """
INSERT INTO parties (id, name, kind, credit_code, region_code, status, created_at)
VALUES ('pty_w', 'w', 'enterprise', '91110105MA00000000', '110105', 'active', now())
"""


@pytest.fixture
async def scratch(scratch_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_url, 2)
    async with engine.begin() as connection:
        await connection.execute(text(INSTRUMENTS))
        await connection.execute(text(PARTY))
    yield engine
    await engine.dispose()


async def execute(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[object, ...]]:
    async with engine.connect() as connection:
        return [tuple(r) for r in await connection.execute(text(sql))]


async def failed(engine: AsyncEngine) -> set[str]:
    return {c.name for c in (await run_invariants(engine)).checks if not c.ok}


async def test_a_violation_halts_trading_and_raises_one_alert(scratch: AsyncEngine) -> None:
    factory = session_factory(scratch)
    clean = await invariant_watch_pass(scratch, factory, wait=True)
    assert clean is not None and clean.ok, [c for c in clean.checks if not c.ok] if clean else None
    assert await rows(scratch, "SELECT symbol, status FROM instruments ORDER BY symbol") == [
        ("W1", "open"), ("W2", "closed"),
    ]  # fmt: skip
    assert await rows(scratch, "SELECT id FROM alerts") == []

    # Reserved cash that no order or withdrawal holds, and no posting put there.
    await execute(
        scratch,
        "INSERT INTO cash_accounts (party_id, available, reserved) VALUES ('pty_w', 0, 500)",
    )
    report = await invariant_watch_pass(scratch, factory, wait=True)
    assert report is not None and not report.ok
    assert {"reserved_cash_matches_orders", "cash_balances_match_postings"} <= {
        c.name for c in report.checks if not c.ok
    }
    assert await rows(scratch, "SELECT symbol, status FROM instruments ORDER BY symbol") == [
        ("W1", "halted"), ("W2", "closed"),
    ]  # fmt: skip
    alerts = await rows(scratch, "SELECT kind, severity, detail FROM alerts")
    assert len(alerts) == 1 and alerts[0][:2] == ("invariant_violation", "critical")
    assert "reserved_cash_matches_orders" in str(alerts[0][2]) and "halted" in str(alerts[0][2])

    # Still broken: the open alert stands, no second one; within the interval nothing runs.
    assert await invariant_watch_pass(scratch, factory, wait=True) is not None
    assert len(await rows(scratch, "SELECT id FROM alerts")) == 1
    skipped = await invariant_watch_pass(scratch, factory, interval=timedelta(minutes=1), wait=True)
    assert skipped is None


async def test_each_new_check_catches_its_damage(scratch: AsyncEngine, tmp_path: Path) -> None:
    assert await failed(scratch) == set()
    await execute(
        scratch,
        """INSERT INTO orders (id, instrument, party_id, client_order_id, side, type, price_fen,
             quantity, filled_quantity, remaining_quantity, filled_notional_fen, status,
             time_in_force, stp, reserved_cash_fen, escrowed_units, created_at, updated_at)
           VALUES ('ord_w', 'W1', 'pty_w', 'c1', 'buy', 'limit', 5000, 1, 0, 0, 0, 'cancelled',
                   'GTC', 'cancel_newest', 0, 0, now(), now())""",
    )
    # Cancelled, but neither entered nor ended in the command log.
    assert await failed(scratch) == {"order_rows_complete"}
    await execute(
        scratch,
        """INSERT INTO book_commands (instrument, seq, command)
           VALUES ('W1', 1, '{"op": "submit", "order_id": "ord_w"}'),
                  ('W1', 2, '{"op": "cancel", "order_id": "ord_w"}')""",
        "UPDATE instruments SET command_seq = 2 WHERE symbol = 'W1'",
        "UPDATE orders SET entered_seq = 1, ended_seq = 3 WHERE id = 'ord_w'",
    )
    assert await failed(scratch) == {"order_rows_complete"}  # it ended past the log
    await execute(scratch, "UPDATE orders SET ended_seq = 2 WHERE id = 'ord_w'")
    assert await failed(scratch) == set()
    await execute(
        scratch,
        """INSERT INTO book_commands (instrument, seq, command)
           VALUES ('W1', 3, '{"op": "cancel", "order_id": "ord_gone"}')""",
        "UPDATE instruments SET command_seq = 3 WHERE symbol = 'W1'",
    )
    assert await failed(scratch) == {"book_commands_belong"}
    await execute(
        scratch,
        """INSERT INTO deposits (id, party_id, amount, method, reference, status, created_at)
           VALUES ('dep_w', 'pty_w', 100, 'bank_transfer', 'r', 'succeeded', now())""",
    )
    assert await failed(scratch) == {"book_commands_belong", "one_entry_per_deposit"}
    settings = Settings(
        database_url=str(scratch.url.render_as_string(hide_password=False)),
        market_data_dir=tmp_path,
    )
    assert await _invariants(settings) is False  # `market invariants` exits 1
