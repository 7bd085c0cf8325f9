"""Revision 0012 (order events derived, not stored) both ways, on a database of its own: orders
placed at head, downgraded (the events the old batch wrote are written from the orders' rows,
trades and commands, and satisfy the checks revision 0011 ran), upgraded again (the log
positions, the surveillance watermark and every trail come back exactly as they were)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from market.app import create_app
from market.cli import bootstrap
from market.db.engine import create_engine, session_factory
from market.db.migrate import alembic_config, upgrade
from market.oversight.invariants import run_invariants
from market.oversight.surveillance import surveillance_pass
from market.settings import Settings
from tests.api.conftest import OPERATOR_TOKEN, Actor, PartyFactory
from tests.api.registry_helpers import Registry
from tests.api.trading_helpers import Market
from tests.integration.scratch import scratch_url

__all__ = ["scratch_url"]

# What revision 0011's invariant checks required of the events (DOMAIN.md 10).
EVENTS_COMPLETE_AT_0011 = """
SELECT o.id FROM orders o LEFT JOIN LATERAL (
    SELECT COUNT(*) FILTER (WHERE kind = 'new') AS news,
           COUNT(*) FILTER (WHERE kind = o.status) AS finals,
           COALESCE(SUM(quantity) FILTER (WHERE kind = 'fill'), 0) AS filled
    FROM order_events WHERE order_id = o.id
) e ON true
WHERE e.news <> 1 OR e.filled <> o.filled_quantity
   OR (o.status IN ('filled', 'cancelled', 'expired', 'rejected') AND e.finals <> 1)
"""
EVENT_SEQS_UNIQUE = """
SELECT e.instrument, e.seq FROM order_events e JOIN instruments i ON i.symbol = e.instrument
GROUP BY e.instrument, e.seq, i.seq HAVING COUNT(*) > 1 OR e.seq > i.seq
"""
LOG_POSITIONS = "SELECT id, entered_seq, ended_seq FROM orders ORDER BY id"
WATERMARKS = "SELECT instrument, trade_seq, command_seq FROM surveillance_watermarks"


async def rows(engine: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as connection:
        return [tuple(r) for r in await connection.execute(text(sql))]


@asynccontextmanager
async def running_market(settings: Settings) -> AsyncIterator[Market]:
    await bootstrap(settings)
    async with AsyncTestClient(app=create_app(settings)) as client:
        me = await client.get("/v1/me", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        operator = Actor(me.json()["id"], "operator", OPERATOR_TOKEN, client)
        make_party = PartyFactory(operator)
        yield Market(
            Registry(
                operator=operator,
                registrar=await make_party("registrar"),
                certifier=await make_party("certifier"),
                regulator=await make_party("regulator"),
                make_party=make_party,
            )
        )


async def trails(market: Market, engine: AsyncEngine) -> dict[str, Any]:
    regulator = market.registry.regulator
    found = {}
    for (order_id,) in await rows(engine, "SELECT id FROM orders"):
        response = await regulator.get(f"/v1/oversight/orders/{order_id}/trail")
        assert response.status_code == 200, response.text
        found[order_id] = response.json()
    return found


async def every_kind_of_order(market: Market, engine: AsyncEngine) -> None:
    """Resting, partly and fully filled, IOC, STP, rejected before the book and by the engine,
    cancelled by the owner after the detectors' watermark, expired."""
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer()
    dealer, _ = await market.seller(100)
    await market.deposit(dealer, "10000.00")
    await market.order(seller, symbol, "sell", 10, "50.00")
    await market.order(buyer, symbol, "buy", 4, "50.00")
    expires_at = datetime.now(UTC) + timedelta(seconds=1)
    gtd = await market.order(
        seller, symbol, "sell", 5, "51.00", time_in_force="GTD", expires_at=expires_at.isoformat()
    )
    await market.order(buyer, symbol, "buy", 4, "60.00")  # out of the band
    await market.order(buyer, symbol, "buy", 10, "50.00", time_in_force="IOC")
    await market.order(dealer, symbol, "buy", 5, "49.00")
    await market.order(dealer, symbol, "sell", 5, "49.00", stp="cancel_oldest")
    await market.order(buyer, symbol, "buy", 2, "49.00")  # the dealer's sell rests, partly filled
    await surveillance_pass(session_factory(engine), wait=True)
    cancelled = await market.order(buyer, symbol, "buy", 3, "45.00")
    assert (await buyer.delete(f"/v1/orders/{cancelled['id']}")).status_code == 200
    await market.order(buyer, symbol, "buy", 50, "51.00", time_in_force="FOK")
    await market.order(buyer, symbol, "buy", 2, "46.00")
    deadline = asyncio.get_running_loop().time() + 6
    while (await seller.get(f"/v1/orders/{gtd['id']}")).json()["status"] != "expired":
        assert asyncio.get_running_loop().time() < deadline, "the GTD order never expired"
        await asyncio.sleep(0.2)
    ends = await rows(engine, "SELECT DISTINCT status, reject_reason FROM orders")
    assert set(ends) == {
        ("open", None), ("partially_filled", None), ("filled", None), ("expired", None),
        ("cancelled", None), ("cancelled", "self_trade_prevented"),
        ("rejected", "price_out_of_band"), ("rejected", "fok_not_fillable"),
    }  # fmt: skip


async def test_downgrade_writes_the_events_and_upgrade_derives_the_same_trails(
    scratch_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        database_url=scratch_url,
        market_data_dir=tmp_path,
        market_operator_token=OPERATOR_TOKEN,  # type: ignore[arg-type]
        market_surveillance_interval_s=0,
        market_invariant_interval_s=0,
    )
    engine = create_engine(scratch_url, 2)
    try:
        async with running_market(settings) as market:
            await every_kind_of_order(market, engine)
            before = await trails(market, engine)
        positions, watermarks = await rows(engine, LOG_POSITIONS), await rows(engine, WATERMARKS)
        assert watermarks and watermarks[0][2] > 0
        assert await rows(engine, "SELECT count(*) FROM order_events") == [(0,)]

        await asyncio.to_thread(command.downgrade, alembic_config(scratch_url), "0011")
        assert await rows(engine, EVENTS_COMPLETE_AT_0011) == []
        assert await rows(engine, EVENT_SEQS_UNIQUE) == []
        user_cancels = await rows(
            engine,
            """SELECT e.seq > w.event_seq FROM order_events e
               JOIN surveillance_watermarks w ON w.instrument = e.instrument
               WHERE e.kind = 'cancelled' AND e.reason = 'user'""",
        )
        assert user_cancels == [(True,)]  # after the watermark: still to be read

        await asyncio.to_thread(upgrade, scratch_url)
        assert await rows(engine, LOG_POSITIONS) == positions
        assert await rows(engine, WATERMARKS) == watermarks
        async with running_market(settings) as market:
            assert await trails(market, engine) == before
        report = await run_invariants(engine)
        assert report.ok, [c for c in report.checks if not c.ok]
    finally:
        await engine.dispose()
