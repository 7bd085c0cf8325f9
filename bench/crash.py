"""Crash loop: `uv run python bench/crash.py` (not part of pytest; figures in docs/RELIABILITY.md).

An embedded PostgreSQL (pgserver) in a temporary folder and `market serve --workers 2` on it.
Concurrent clients place orders, transfer and retire units; at a random moment the whole server
process group is SIGKILLed (every `--pg-every`th time the embedded PostgreSQL is SIGKILLed
first, postmaster and backends together), both are restarted, and the clients go on. After
`--kills` kills it checks that every write the server acknowledged with a 2xx is present
exactly once (orders by id and client order id; transfers and retirements by id, and each
party's retired units equal the acknowledged ones plus at most those of requests that were
in flight at a kill) and that every DOMAIN.md invariant holds. Prints one JSON object; exits 1
on any loss, duplicate or violation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from bench.harness import TOKEN, execute, free_port, holders_with_units, machine  # noqa: E402


@dataclass
class Ledger:
    """What the server acknowledged, and what was in flight when it died."""

    orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (party, client id)
    transfers: set[str] = field(default_factory=set)
    retirements: dict[str, tuple[str, int]] = field(default_factory=dict)  # id → (party, qty)
    in_flight_retired: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)  # retired units of cut-off requests
    statuses: Counter[str] = field(default_factory=Counter)


def start_server(db_url: str, data_dir: Path, port: int, n: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url, "MARKET_DATA_DIR": str(data_dir),
           "MARKET_OPERATOR_TOKEN": TOKEN}  # fmt: skip
    with (data_dir / f"server-{n}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "market.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / f"server-{n}.log").read_text()[-3000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                return process
        time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def kill_postgres(pgdata: Path) -> None:
    """SIGKILL the postmaster and every backend at once, as a machine crash would."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    victims = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                    victims.append(int(entry.name))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in victims):
        time.sleep(0.05)


def start_postgres(pgdata: Path, socket_dir: str) -> None:
    """Start it again as pgserver does: no TCP, the same Unix socket folder."""
    from market.db.embedded import _pgserver

    pg_ctl = _pgserver()._commands.pg_ctl
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(pgdata / "restart.log"),
            "start"], pgdata=pgdata, user=user, timeout=60)  # fmt: skip


async def client(
    url: str, holder: dict[str, Any], peers: list[str], symbol: str, ledger: Ledger,
    rng: random.Random,
) -> None:  # fmt: skip
    headers = {"Authorization": f"Bearer {holder['token']}"}
    party = holder["party_id"]
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        while True:
            roll = rng.random()
            quantity = rng.randint(1, 3)
            try:
                if roll < 0.6:
                    client_id = secrets.token_hex(8)
                    side = rng.choice(["buy", "sell"])
                    body: dict[str, Any] = {
                        "instrument": symbol, "side": side, "type": "limit",
                        "price": f"{50 + rng.randint(-3, 3) * 0.1:.2f}", "quantity": quantity,
                        "client_order_id": client_id}  # fmt: skip
                    if side == "sell":
                        body["batch_id"] = holder["batch_id"]
                    response = await http.post("/v1/orders", json=body)
                    if response.status_code in (200, 201):
                        ledger.orders[response.json()["id"]] = (party, client_id)
                elif roll < 0.8:
                    response = await http.post("/v1/transfers", json={
                        "batch_id": holder["batch_id"], "quantity": quantity,
                        "to_party_id": rng.choice(peers)})  # fmt: skip
                    if response.status_code == 201:
                        ledger.transfers.add(response.json()["id"])
                else:
                    ledger.in_flight_retired[party] += quantity
                    response = await http.post("/v1/retirements", json={
                        "batch_id": holder["batch_id"], "quantity": quantity,
                        "beneficiary": "崩溃测试", "reason": "crash"})  # fmt: skip
                    ledger.in_flight_retired[party] -= quantity
                    if response.status_code == 201:
                        ledger.retirements[response.json()["id"]] = (party, quantity)
                ledger.statuses[str(response.status_code)] += 1
            except httpx.HTTPError:
                ledger.statuses["connection_error"] += 1
                await asyncio.sleep(0.05)


async def setup(url: str, traders: int) -> tuple[str, list[dict[str, Any]]]:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                                 timeout=60) as http:  # fmt: skip
        symbol = f"CR{secrets.token_hex(2).upper()}"
        made = await http.post("/v1/instruments", json={
            "symbol": symbol, "product_type": "CARBON_SINK", "reference_price": "50.00",
            "tick_size": "0.01", "lot_size": 1, "price_band_pct": "10"})  # fmt: skip
        made.raise_for_status()
        holders = await holders_with_units(http, traders, 100_000, "1000000.00")
    return symbol, holders


async def storm(url: str, holders: list[dict[str, Any]], symbol: str, ledger: Ledger,
                seconds: float, rng: random.Random, kill: Callable[[], None]) -> None:  # fmt: skip
    """Clients at full speed; `kill` runs while their requests are in flight."""
    ids = [h["party_id"] for h in holders]
    tasks = [asyncio.create_task(client(url, h, [i for i in ids if i != h["party_id"]], symbol,
                                        ledger, random.Random(rng.random())))
             for h in holders]  # fmt: skip
    await asyncio.sleep(seconds)
    kill()
    await asyncio.sleep(0.2)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def verify(db_url: str, ledger: Ledger) -> dict[str, Any]:
    from sqlalchemy import text

    from market.db.engine import create_engine
    from market.oversight.invariants import run_invariants

    engine = create_engine(db_url, 2)
    try:
        async with engine.connect() as db:
            rows = (await db.execute(
                text("SELECT id, party_id, client_order_id FROM orders WHERE id = ANY(:ids)"),
                {"ids": list(ledger.orders)})).all()  # fmt: skip
            found = {r.id: (r.party_id, r.client_order_id) for r in rows}
            missing_orders = [i for i, v in ledger.orders.items() if found.get(i) != v]
            dupes = (await db.execute(text(
                "SELECT count(*) FROM (SELECT party_id, client_order_id FROM orders "
                "GROUP BY 1, 2 HAVING count(*) > 1) d"))).scalar_one()  # fmt: skip
            got = {r[0] for r in (await db.execute(
                text("SELECT id FROM transfers WHERE id = ANY(:ids)"),
                {"ids": list(ledger.transfers)})).all()}  # fmt: skip
            missing_transfers = sorted(ledger.transfers - got)
            got = {r[0] for r in (await db.execute(
                text("SELECT id FROM retirements WHERE id = ANY(:ids)"),
                {"ids": list(ledger.retirements)})).all()}  # fmt: skip
            missing_retirements = sorted(set(ledger.retirements) - got)
            retired = dict((await db.execute(text(
                "SELECT party_id, sum(quantity) FROM retirements GROUP BY 1"))).all())  # fmt: skip
        acknowledged: Counter[str] = Counter()
        for party, quantity in ledger.retirements.values():
            acknowledged[party] += quantity
        unknown = ledger.unknown
        wrong_retired = {p: (int(retired.get(p, 0)), acknowledged[p], unknown[p])
                         for p in set(acknowledged) | set(retired)
                         if not acknowledged[p] <= int(retired.get(p, 0))
                         <= acknowledged[p] + unknown[p]}  # fmt: skip
        result = await run_invariants(engine)
    finally:
        await engine.dispose()
    return {
        "missing_orders": len(missing_orders), "duplicate_client_order_ids": dupes,
        "missing_transfers": len(missing_transfers),
        "missing_retirements": len(missing_retirements),
        "retired_outside_acknowledged": len(wrong_retired),
        "invariant_violations": [c.name for c in result.checks if not c.ok],
        "invariants_checked": len(result.checks),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--pg-every", type=int, default=10, help="kill PostgreSQL every Nth time")
    parser.add_argument("--traders", type=int, default=8)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="market-crash-"))
    from market.db.embedded import start_embedded, stop_embedded
    from market.db.migrate import upgrade

    pgdata = (data_dir / "pgdata").resolve()
    server_url = start_embedded(data_dir)
    execute(server_url, 'CREATE DATABASE "market_crash"')
    db_url = make_url(server_url).set(database="market_crash").render_as_string(
        hide_password=False)  # fmt: skip
    upgrade(db_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ledger = Ledger()
    kills = pg_kills = 0
    process = start_server(db_url, data_dir, port, 0)
    try:
        symbol, holders = asyncio.run(setup(url, args.traders))
        while kills < args.kills:
            postgres_down = (kills + 1) % args.pg_every == 0

            def kill(
                process: subprocess.Popen[bytes] = process, down: bool = postgres_down
            ) -> None:
                if down:
                    kill_postgres(pgdata)
                    time.sleep(rng.uniform(0.0, 0.5))
                kill_group(process)

            asyncio.run(storm(url, holders, symbol, ledger, rng.uniform(1.0, 4.0), rng, kill))
            pg_kills += postgres_down
            kills += 1
            # Requests cut off by the kill may or may not have committed.
            ledger.unknown.update(ledger.in_flight_retired)
            ledger.in_flight_retired.clear()
            if postgres_down:
                start_postgres(pgdata, str(make_url(server_url).query["host"]))
            process = start_server(db_url, data_dir, port, kills)
        kill_group(process)
        checked = asyncio.run(verify(db_url, ledger))
    finally:
        with contextlib.suppress(Exception):
            kill_group(process)
        stop_embedded(data_dir)
    report = {
        "benchmark": "crash", "machine": machine(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seed": args.seed, "server_kills": kills, "postgres_kills": pg_kills,
        "acknowledged": {"orders": len(ledger.orders), "transfers": len(ledger.transfers),
                         "retirements": len(ledger.retirements)},
        "statuses": dict(ledger.statuses), **checked,
        "seconds": round(time.monotonic() - started, 1),
    }  # fmt: skip
    print(json.dumps(report, ensure_ascii=False))
    bad = [k for k in ("missing_orders", "duplicate_client_order_ids", "missing_transfers",
                       "missing_retirements", "retired_outside_acknowledged") if report[k]]  # fmt: skip
    if bad or report["invariant_violations"]:
        print(f"logs and database kept in {data_dir}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
