"""End-to-end: `market serve --workers 2` on PostgreSQL, 64 concurrent clients placing orders on
4 instruments (≈50% crossing, every trade settled and certified), side by side with a baseline
endpoint doing one INSERT per request on the same server and database. Prints one JSON object.

    uv run python bench/e2e.py [--clients 64] [--seconds 20] [--workers 2]

Load comes from `wrk` (Debian package `wrk`) when installed, else from an httpx client (which
then limits the figures itself). Uses `DATABASE_URL`'s server (a fresh database is created and
dropped) or the embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import shutil
import subprocess
import tempfile
import time
from typing import Any

import httpx
from harness import TOKEN, execute, holders_with_units, machine, percentile, running_server


async def hammer(url: str, clients: int, seconds: float, make_request: Any) -> dict[str, Any]:
    """The fallback load generator (Python; slower than the server it measures)."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        rng = random.Random(i)
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while time.perf_counter() < stop:
                method, path, headers, body = make_request(i, rng)
                t0 = time.perf_counter()
                r = await http.request(method, path, headers=headers, json=body)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code >= 300

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - t0
    return {
        "tool": "httpx",
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "non_2xx": errors,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--traders", type=int, default=16)
    args = parser.parse_args()
    symbols = [f"B{i}{secrets.token_hex(2).upper()}" for i in range(4)]
    with running_server(args.workers, {"MARKET_BENCH_ENDPOINTS": "1"}) as server:
        execute(server.database_url, "CREATE TABLE bench_pings (id BIGSERIAL PRIMARY KEY, "
                "at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip

        async def run() -> dict[str, Any]:
            async with httpx.AsyncClient(base_url=server.url, timeout=300,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
                for symbol in symbols:
                    (await http.post("/v1/instruments", json={
                        "symbol": symbol, "product_type": "CARBON_SINK", "reference_price": "50.00",
                        "buyer_fee_bps": 5, "seller_fee_bps": 5})).raise_for_status()  # fmt: skip
                holders = await holders_with_units(http, args.traders, 10_000_000, "100000000.00")
            tokens = [h["token"] for h in holders]
            if shutil.which("wrk"):
                baseline = wrk(server.url, "/v1/bench/ping", PING_LUA, args.clients, args.seconds)
                script = ORDER_LUA % {"tokens": ", ".join(f'"{t}"' for t in tokens),
                                      "symbols": ", ".join(f'"{s}"' for s in symbols)}  # fmt: skip
                orders = wrk(server.url, "/v1/orders", script, args.clients, args.seconds)
            else:
                baseline = await hammer(server.url, args.clients, args.seconds,
                                        lambda i, rng: ("POST", "/v1/bench/ping", {}, None))  # fmt: skip

                def order(
                    i: int, rng: random.Random
                ) -> tuple[str, str, dict[str, str], dict[str, Any]]:
                    buy = rng.random() < 0.5
                    offset = rng.randint(-3, 3) * 10
                    price = 5000 + offset if buy else 5010 - offset  # ≈50% of orders cross
                    return ("POST", "/v1/orders", {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
                            {"instrument": symbols[i % len(symbols)], "side": "buy" if buy else "sell",
                             "type": "limit", "price": f"{price // 100}.{price % 100:02d}",
                             "quantity": rng.randint(1, 10), "client_order_id": secrets.token_hex(8)})  # fmt: skip

                orders = await hammer(server.url, args.clients, args.seconds, order)
            async with httpx.AsyncClient(base_url=server.url, timeout=600,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
                trades = 0
                for symbol in symbols:
                    tape = (
                        await http.get(f"/v1/instruments/{symbol}/trades", params={"limit": 1})
                    ).json()
                    trades += tape["items"][0]["seq"] if tape["items"] else 0
                invariants = (await http.get("/v1/oversight/invariants")).json()
            return {"baseline_insert": baseline, "orders": orders, "trades_settled_and_certified": trades,
                    "invariants_ok": invariants["ok"]}  # fmt: skip

        result = asyncio.run(run())
        # Every request must have been a new order (a replayed client_order_id is cheaper).
        result["orders_recorded"] = execute(server.database_url, "SELECT count(*) FROM orders")
    ratio = result["orders"]["per_s"] / result["baseline_insert"]["per_s"]
    print(json.dumps({"bench": "e2e", "clients": args.clients, "seconds": args.seconds,
                      "workers": args.workers, "instruments": 4, **result,
                      "ratio_orders_to_baseline": round(ratio, 3), "machine": machine()}))  # fmt: skip


if __name__ == "__main__":
    main()
