"""End-to-end, one run, one JSON object: the ladder from a bare app to our writes.

1. a **bare** Litestar + asyncpg app outside the product (`bench/bare_app.py`, uvicorn with the same
   worker count, same database): `GET /hello`, and `POST /insert` (one INSERT of the body) — the
   reference every ratio is taken against;
2. our app's own ping (`POST /v1/bench/ping`: our middleware, SQLAlchemy session, one INSERT);
3. orders (`market serve --workers 2`, 4 instruments, ≈50 % crossing, every trade settled and
   certified) at 64 and at 8 connections;
4. 1-unit retirements by 64 holders at 64 connections (each a certified registry write).

    uv run python bench/e2e.py [--clients 64] [--seconds 10] [--workers 2]

Load comes from `wrk` (Debian package `wrk`): a Python client would limit the figures itself. Uses `DATABASE_URL`'s server (a fresh database is created and
dropped) or the embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from harness import (
    TOKEN,
    execute,
    free_port,
    holders_with_units,
    machine,
    running_server,
    wait_until_up,
)
from sqlalchemy.engine import make_url

ORDER_LUA = """
tokens = {%(tokens)s}
symbols = {%(symbols)s}
local counter = 0
local threads = 0
-- `tid` is a global each thread gets from setup (a `local tid` here would shadow it, and every
-- thread would then send the same sequence of orders and client ids: replays, not orders).
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(os.time() + tid * 7919)
end
function request()
  counter = counter + 1
  local i = math.random(#tokens)
  local buy = math.random() < 0.5
  local offset = (math.random(0, 6) - 3) * 10
  local price = buy and (5000 + offset) or (5010 - offset)
  local body = string.format(
    '{"instrument":"%%s","side":"%%s","type":"limit","price":"%%d.%%02d","quantity":%%d,"client_order_id":"w%%s-%%d-%%d"}',
    symbols[(i %% #symbols) + 1], buy and "buy" or "sell", math.floor(price / 100), price %% 100,
    math.random(1, 10), tostring(tid), counter, math.random(1, 1000000000))
  return wrk.format("POST", "/v1/orders",
    {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json"}, body)
end
"""

PING_LUA = """
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
"""

BARE_INSERT_LUA = """
wrk.method = "POST"
wrk.body = '{"instrument":"B0","side":"buy","price":"50.00","quantity":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bare"
"""

HELLO_LUA = ""

RETIRE_LUA = """
holders = {%(holders)s}
local counter = 0
function request()
  counter = counter + 1
  local h = holders[math.random(#holders)]
  local body = string.format(
    '{"batch_id":"%%s","quantity":1,"beneficiary":"bench","reason":"offset %%d"}', h[2], counter)
  return wrk.format("POST", "/v1/retirements",
    {["Authorization"] = "Bearer " .. h[1], ["Content-Type"] = "application/json"}, body)
end
"""


def wrk(url: str, path: str, script: str, clients: int, seconds: float) -> dict[str, Any]:
    """Drive the server with wrk (C, so the load generator is not the bottleneck)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            handle.name,
            url + path,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(text: str) -> float:
        units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
        for suffix in ("us", "ms", "s"):
            if text.endswith(suffix):
                return float(text[: -len(suffix)]) * units[suffix]
        return float(text)

    result: dict[str, Any] = {"tool": "wrk"}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith("50%"):
            result["p50_ms"] = round(ms(parts[1]), 2)
        elif line.strip().startswith("99%"):
            result["p99_ms"] = round(ms(parts[1]), 2)
        elif line.startswith("Requests/sec:"):
            result["per_s"] = float(parts[1])
        elif "requests in" in line:
            result["requests"] = int(parts[0])
        elif line.strip().startswith("Non-2xx"):
            result["non_2xx"] = int(parts[-1])
    result.setdefault("non_2xx", 0)
    return result


@contextmanager
def bare_server(database_url: str, workers: int) -> Iterator[str]:
    """The bare reference app under uvicorn, on `database_url` (its table `bare_pings`)."""
    port = free_port()
    dsn = make_url(database_url).render_as_string(hide_password=False)
    env = {**os.environ, "BARE_DATABASE_URL": dsn}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(Path(__file__).parent),
         "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        env=env, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/hello", interval=0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """Every figure as a ratio to the bare app's one-INSERT endpoint, measured in this run."""
    reference = result["bare_insert"]["per_s"]
    return {name: round(result[name]["per_s"] / reference, 3)
            for name in ("bare_hello", "our_ping", "orders_64", "orders_8", "retirements_64")
            if name in result}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--traders", type=int, default=16)
    args = parser.parse_args()
    symbols = [f"B{i}{secrets.token_hex(2).upper()}" for i in range(4)]
    with running_server(args.workers, {"MARKET_BENCH_ENDPOINTS": "1"}) as server:
        execute(server.database_url, "CREATE TABLE bench_pings (id BIGSERIAL PRIMARY KEY, "
                "at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip
        execute(server.database_url,
                "CREATE TABLE bare_pings (id BIGSERIAL PRIMARY KEY, body JSONB NOT NULL)")  # fmt: skip

        async def run() -> dict[str, Any]:
            async with httpx.AsyncClient(base_url=server.url, timeout=300,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
                for symbol in symbols:
                    (await http.post("/v1/instruments", json={
                        "symbol": symbol, "product_type": "CARBON_SINK", "reference_price": "50.00",
                        "buyer_fee_bps": 5, "seller_fee_bps": 5})).raise_for_status()  # fmt: skip
                holders = await holders_with_units(http, args.traders, 10_000_000, "100000000.00")
                retirers = await holders_with_units(http, args.clients, 1_000_000, None)
            tokens = [h["token"] for h in holders]
            if not shutil.which("wrk"):
                raise SystemExit("bench/e2e.py needs wrk (apt-get install wrk)")
            ladder: dict[str, Any] = {}
            with bare_server(server.database_url, args.workers) as bare:
                ladder["bare_hello"] = wrk(bare, "/hello", HELLO_LUA, args.clients, args.seconds)
                ladder["bare_insert"] = wrk(bare, "/insert", BARE_INSERT_LUA, args.clients,
                                            args.seconds)  # fmt: skip
            ladder["our_ping"] = wrk(server.url, "/v1/bench/ping", PING_LUA, args.clients,
                                     args.seconds)  # fmt: skip
            script = ORDER_LUA % {"tokens": ", ".join(f'"{t}"' for t in tokens),
                                  "symbols": ", ".join(f'"{s}"' for s in symbols)}  # fmt: skip
            ladder["orders_64"] = wrk(server.url, "/v1/orders", script, args.clients, args.seconds)
            ladder["orders_8"] = wrk(server.url, "/v1/orders", script, 8, args.seconds)
            holders_lua = ", ".join(f'{{"{h["token"]}", "{h["batch_id"]}"}}' for h in retirers)
            ladder["retirements_64"] = wrk(server.url, "/v1/retirements",
                                           RETIRE_LUA % {"holders": holders_lua}, args.clients,
                                           args.seconds)  # fmt: skip
            async with httpx.AsyncClient(base_url=server.url, timeout=600,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
                trades = 0
                for symbol in symbols:
                    tape = (
                        await http.get(f"/v1/instruments/{symbol}/trades", params={"limit": 1})
                    ).json()
                    trades += tape["items"][0]["seq"] if tape["items"] else 0
                invariants = (await http.get("/v1/oversight/invariants")).json()
            return {**ladder, "trades_settled_and_certified": trades,
                    "invariants_ok": invariants["ok"]}  # fmt: skip

        result = asyncio.run(run())
        # Every request must have been a new order (a replayed client_order_id is cheaper).
        result["orders_recorded"] = execute(server.database_url, "SELECT count(*) FROM orders")
        result["retirements_recorded"] = execute(server.database_url,
                                                 "SELECT count(*) FROM retirements")  # fmt: skip
    print(json.dumps({"bench": "e2e", "clients": args.clients, "seconds": args.seconds,
                      "workers": args.workers, "instruments": 4, **result,
                      "ratios_to_bare_insert": ratios(result), "machine": machine()}))  # fmt: skip


if __name__ == "__main__":
    main()
