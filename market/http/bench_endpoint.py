"""`POST /v1/bench/ping`: one INSERT per request — the e2e benchmark's baseline.

Mounted only when `MARKET_BENCH_ENDPOINTS=1`; the benchmark creates the `bench_pings` table.
"""

from __future__ import annotations

from litestar import post
from sqlalchemy import text

from market.http.dependencies import Session


@post("/v1/bench/ping", status_code=201, include_in_schema=False)
async def bench_ping(db_session: Session) -> dict[str, int]:
    row = await db_session.execute(text("INSERT INTO bench_pings DEFAULT VALUES RETURNING id"))
    return {"id": int(row.scalar_one())}
