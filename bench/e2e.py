"""End-to-end: `market serve --workers 2` on PostgreSQL, 64 concurrent clients placing orders on
4 instruments (≈50% crossing, every trade settled and certified), side by side with a baseline
endpoint doing one INSERT per request on the same server and database. Prints one JSON object.

    uv run python bench/e2e.py [--clients 64] [--seconds 20] [--workers 2]

Uses `DATABASE_URL`'s server (a fresh database is created and dropped) or the embedded one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from market.parties.credit_code import complete_credit_code

TOKEN = "bench-operator-token"


def credit_code() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return complete_credit_code("91110105" + "".join(secrets.choice(alphabet) for _ in range(9)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def psql(url: str, sql: str) -> None:
    async def run() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        from market.db.engine import async_url

        engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
        await engine.dispose()

    asyncio.run(run())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def setup(http: httpx.AsyncClient, traders: int, symbols: list[str]) -> list[str]:
    async def party(kind: str) -> tuple[str, str]:
        r = await http.post(
            "/v1/parties",
            json={
                "name": f"{kind}-{secrets.token_hex(3)}",
                "kind": kind,
                "credit_code": credit_code(),
                "region_code": "110105",
            },
        )
        r.raise_for_status()
        return r.json()["party"]["id"], r.json()["api_key"]

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    _, registrar = await party("registrar")
    _, certifier = await party("certifier")
    for symbol in symbols:
        r = await http.post(
            "/v1/instruments",
            json={
                "symbol": symbol,
                "product_type": "CARBON_SINK",
                "reference_price": "50.00",
                "buyer_fee_bps": 5,
                "seller_fee_bps": 5,
            },
        )
        r.raise_for_status()
    tokens = []
    for i in range(traders):
        pid, token = await party("collective")
        lon, lat = 100 + (i % 100) * 0.05, 20 + (i // 100) * 0.05
        ring = [
            [lon, lat],
            [lon + 0.01, lat],
            [lon + 0.01, lat + 0.01],
            [lon, lat + 0.01],
            [lon, lat],
        ]
        a = await http.post(
            "/v1/assets",
            headers=auth(token),
            json={
                "resource_type": "forest",
                "name": "林地",
                "region_code": "110105",
                "area_ha": "100.00",
                "boundary": {"type": "Polygon", "coordinates": [ring]},
                "rights": [
                    {
                        "kind": "ownership",
                        "holder_id": pid,
                        "share": "100",
                        "valid_from": "2020-01-01",
                    }
                ],
            },
        )
        a.raise_for_status()
        (
            await http.post(f"/v1/assets/{a.json()['id']}/confirm", headers=auth(registrar))
        ).raise_for_status()
        e = await http.post(
            "/v1/eco-products",
            headers=auth(token),
            json={"product_type": "CARBON_SINK", "name": "碳汇", "asset_ids": [a.json()["id"]]},
        )
        e.raise_for_status()
        (
            await http.post(
                f"/v1/eco-products/{e.json()['id']}/certify",
                headers=auth(certifier),
                json={"standard": "CCER"},
            )
        ).raise_for_status()
        (
            await http.post(
                f"/v1/eco-products/{e.json()['id']}/batches",
                headers=auth(certifier),
                json={
                    "quantity": 10_000_000,
                    "vintage": 2025,
                    "period_start": "2025-01-01",
                    "period_end": "2025-12-31",
                },
            )
        ).raise_for_status()
        (
            await http.post(
                "/v1/deposits",
                json={
                    "party_id": pid,
                    "amount": "100000000.00",
                    "method": "bank_transfer",
                    "reference": "bench",
                },
            )
        ).raise_for_status()
        tokens.append(token)
    return tokens


async def hammer(url: str, clients: int, seconds: float, make_request: Any) -> dict[str, Any]:
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
                if r.status_code >= 300:
                    errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - t0
    return {
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "non_2xx": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--traders", type=int, default=16)
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL")
    data_dir = Path(tempfile.mkdtemp(prefix="market-bench-"))
    if not server_url:
        from market.db.embedded import start_embedded

        server_url = start_embedded(data_dir)
    name = f"market_bench_{secrets.token_hex(3)}"
    psql(server_url, f'CREATE DATABASE "{name}"')
    db_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    from market.db.migrate import upgrade

    upgrade(db_url)
    psql(
        db_url,
        "CREATE TABLE bench_pings (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "MARKET_DATA_DIR": str(data_dir),
        "MARKET_OPERATOR_TOKEN": TOKEN,
        "MARKET_BENCH_ENDPOINTS": "1",
    }
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "market.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        symbols = [f"B{i}{secrets.token_hex(2).upper()}" for i in range(4)]

        async def run() -> dict[str, Any]:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
            ) as http:
                tokens = await setup(http, args.traders, symbols)
            baseline = await hammer(
                url, args.clients, args.seconds, lambda i, rng: ("POST", "/v1/bench/ping", {}, None)
            )

            def order(
                i: int, rng: random.Random
            ) -> tuple[str, str, dict[str, str], dict[str, Any]]:
                side = rng.choice(("buy", "sell"))
                # ≈50% of orders cross: prices straddle the mid by a few ticks.
                offset = rng.randint(-3, 3) * 10
                price = (
                    5000 + (offset if side == "buy" else -offset) + (10 if side == "sell" else 0)
                )
                return (
                    "POST",
                    "/v1/orders",
                    {"Authorization": f"Bearer {tokens[i % len(tokens)]}"},
                    {
                        "instrument": symbols[i % len(symbols)],
                        "side": side,
                        "type": "limit",
                        "price": f"{price // 100}.{price % 100:02d}",
                        "quantity": rng.randint(1, 10),
                        "client_order_id": secrets.token_hex(8),
                    },
                )

            orders = await hammer(url, args.clients, args.seconds, order)
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300
            ) as http:
                trades = 0
                for symbol in symbols:
                    tape = (
                        await http.get(f"/v1/instruments/{symbol}/trades", params={"limit": 1})
                    ).json()
                    trades += tape["items"][0]["seq"] if tape["items"] else 0
                invariants = (await http.get("/v1/oversight/invariants")).json()
            return {
                "baseline_insert": baseline,
                "orders": orders,
                "trades": trades,
                "invariants_ok": invariants["ok"],
            }

        result = asyncio.run(run())
        result.update(
            {
                "bench": "e2e",
                "clients": args.clients,
                "seconds": args.seconds,
                "workers": args.workers,
                "instruments": 4,
                "ratio_orders_to_baseline": round(
                    result["orders"]["per_s"] / result["baseline_insert"]["per_s"], 3
                ),
                "machine": f"{platform.machine()} {os.cpu_count()} cores",
                "python": platform.python_version(),
            }
        )
        print(json.dumps(result))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        psql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
