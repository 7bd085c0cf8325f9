"""Where our fixed per-request cost goes, without a server or a load generator in the way.

    uv run python bench/request_overhead.py [--requests 4000] [--concurrency 8]

Two ladders, each step measured in this run as CPU microseconds of this process per request
(and wall microseconds), on a fresh database of `DATABASE_URL`'s server (or the embedded one):

1. **database plumbing** — one INSERT per request through: a bare asyncpg pool; the same in a
   transaction (BEGIN/COMMIT: two more round trips); SQLAlchemy's pool with the raw asyncpg
   connection, in a transaction; SQLAlchemy Core (`engine.begin()`); a plain SQLAlchemy ORM
   session; our session (`session_factory`: the same with the unit-of-work commit);
2. **ASGI apps called directly** (scope/receive/send, no HTTP server): the bare app's `POST
   /insert` (`bench/bare_app.py`), our app's handler that touches no database (middleware,
   routing, dependency injection), and our `POST /v1/bench/ping` (all of that plus the session).

Ratios are to the first step of each ladder (the bare reference, outside our code).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from harness import execute, machine, scratch_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

INSERT = "INSERT INTO bench_pings DEFAULT VALUES RETURNING id"


async def measure(
    step: Callable[[], Awaitable[Any]], requests: int, concurrency: int
) -> dict[str, float]:
    async def worker() -> None:
        for _ in range(requests // concurrency):
            await step()

    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm up: pools, statements
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    done = (requests // concurrency) * concurrency
    return {"cpu_us": round((time.process_time() - cpu) / done * 1e6, 1),
            "wall_us": round((time.perf_counter() - wall) / done * 1e6, 1)}  # fmt: skip


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Run an ASGI app's lifespan (startup before, shutdown after)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


def asgi_post(app: Any, path: str, body: bytes) -> Callable[[], Awaitable[None]]:
    headers = [(b"content-type", b"application/json"), (b"authorization", b"Bearer bench")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": headers, "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 1)}  # fmt: skip

    async def call() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(dict(scope), receive, send)
        assert status == [201], (path, status)

    return call


async def plumbing(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    from market.db.engine import async_url, create_engine, session_factory

    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    engine = create_engine(async_url(url), concurrency)
    sessions = session_factory(engine)

    async def bare() -> None:
        async with pool.acquire() as connection:
            await connection.fetchval(INSERT)

    async def bare_transaction() -> None:
        async with pool.acquire() as connection, connection.transaction():
            await connection.fetchval(INSERT)

    async def sqlalchemy_pool_raw_transaction() -> None:
        async with engine.connect() as connection:
            raw: Any = (await connection.get_raw_connection()).driver_connection
            async with raw.transaction():
                await raw.fetchval(INSERT)

    async def sqlalchemy_core() -> None:
        async with engine.begin() as connection:
            await connection.execute(text(INSERT))

    plain_sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def sqlalchemy_session() -> None:
        async with plain_sessions() as session:
            await session.execute(text(INSERT))
            await session.commit()

    async def our_session() -> None:
        async with sessions() as session:
            await session.execute(text(INSERT))
            await session.commit()

    steps = {"asyncpg_pool": bare, "asyncpg_pool_transaction": bare_transaction,
             "sqlalchemy_pool_raw_transaction": sqlalchemy_pool_raw_transaction,
             "sqlalchemy_core_begin": sqlalchemy_core, "sqlalchemy_session": sqlalchemy_session,
             "our_session": our_session}  # fmt: skip
    try:
        return {name: await measure(step, requests, concurrency) for name, step in steps.items()}
    finally:
        await pool.close()
        await engine.dispose()


async def apps(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    os.environ["MARKET_BENCH_ENDPOINTS"] = "1"
    os.environ["BARE_DATABASE_URL"] = url
    sys.path.insert(0, str(Path(__file__).parent))
    import bare_app
    from litestar import post

    from market.app import create_app
    from market.settings import Settings

    @post("/v1/bench/nothing", status_code=201, include_in_schema=False)
    async def nothing() -> dict[str, int]:
        return {"id": 0}

    ours = create_app(Settings(database_url=url, market_invariant_interval_s=0))
    ours.register(nothing)
    body = b'{"instrument":"B0","side":"buy","price":"50.00","quantity":1}'
    async with lifespan(bare_app.app), lifespan(ours):
        return {
            "bare_insert": await measure(asgi_post(bare_app.app, "/insert", body), requests, concurrency),
            "our_handler_without_database": await measure(
                asgi_post(ours, "/v1/bench/nothing", b"{}"), requests, concurrency),
            "our_ping": await measure(asgi_post(ours, "/v1/bench/ping", b"{}"), requests, concurrency),
        }  # fmt: skip


def ratios(ladder: dict[str, dict[str, float]]) -> dict[str, float]:
    """CPU per request of the ladder's first step over each step's: the share of the bare
    throughput a CPU-bound process would keep."""
    reference = next(iter(ladder.values()))["cpu_us"]
    return {name: round(reference / step["cpu_us"], 3) for name, step in ladder.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with scratch_database() as url:
        execute(url, "CREATE TABLE bench_pings (id BIGSERIAL PRIMARY KEY, "
                "at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip
        execute(url, "CREATE TABLE bare_pings (id BIGSERIAL PRIMARY KEY, body JSONB NOT NULL)")
        plain = url.replace("postgresql+asyncpg://", "postgresql://")
        database = asyncio.run(plumbing(plain, args.requests, args.concurrency))
        asgi = asyncio.run(apps(plain, args.requests, args.concurrency))
    print(json.dumps({"bench": "request_overhead", "requests": args.requests,
                      "concurrency": args.concurrency, "database_plumbing": database,
                      "database_plumbing_ratios": ratios(database), "asgi": asgi,
                      "asgi_ratios": ratios(asgi), "machine": machine()}))  # fmt: skip


if __name__ == "__main__":
    main()
