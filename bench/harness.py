"""Shared by the HTTP benchmarks: a fresh database, a running `market serve`, party setup."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from market.db.engine import async_url
from market.parties.credit_code import complete_credit_code

TOKEN = "bench-operator-token"


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def credit_code() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return complete_credit_code("91110105" + "".join(secrets.choice(alphabet) for _ in range(9)))


def execute(url: str, sql: str, *, all_rows: bool = False) -> Any:
    """Run one statement (autocommit); returns the first column of its first row, if any (or
    every row as tuples, with `all_rows`)."""

    async def run() -> Any:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(sql)
            value: Any
            if all_rows:
                value = [tuple(row) for row in result]
            else:
                value = result.scalar() if result.returns_rows else None
        await engine.dispose()
        return value

    return asyncio.run(run())


@dataclass
class Running:
    url: str
    database_url: str
    data_dir: Path
    pid: int  # `market serve`'s process (the leader of its process group)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, *, interval: float, attempts: int = 300) -> None:
    """Poll `url` until it answers 200 (a server starting), at most `attempts` times."""
    for _ in range(attempts):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)


@contextmanager
def scratch_database(data_dir: Path | None = None) -> Iterator[str]:
    """A fresh database, migrated, on `DATABASE_URL`'s server (or the embedded one, under
    `data_dir`); its URL; dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        from market.db.embedded import start_embedded

        server_url = start_embedded(data_dir or Path(tempfile.mkdtemp(prefix="market-bench-")))
    name = f"market_bench_{secrets.token_hex(3)}"
    execute(server_url, f'CREATE DATABASE "{name}"')
    db_url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    from market.db.migrate import upgrade

    try:
        upgrade(db_url)
        yield db_url
    finally:
        execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_server(workers: int, extra_env: dict[str, str] | None = None) -> Iterator[Running]:
    """A fresh database on `DATABASE_URL`'s server (or the embedded one) and a server on it."""
    data_dir = Path(tempfile.mkdtemp(prefix="market-bench-"))
    with scratch_database(data_dir) as db_url:
        yield from _serve(db_url, data_dir, workers, extra_env)


def _serve(
    db_url: str, data_dir: Path, workers: int, extra_env: dict[str, str] | None
) -> Iterator[Running]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "MARKET_DATA_DIR": str(data_dir),
           "MARKET_OPERATOR_TOKEN": TOKEN, **(extra_env or {})}  # fmt: skip
    with (data_dir / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "market.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/ready", interval=0.2)
        yield Running(url, db_url, data_dir, server.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the caller may have stopped it
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


async def make_party(http: httpx.AsyncClient, kind: str) -> tuple[str, str]:
    r = await http.post("/v1/parties", json={"name": f"{kind}-{secrets.token_hex(3)}", "kind": kind,
                                             "credit_code": credit_code(), "region_code": "110105"})  # fmt: skip
    r.raise_for_status()
    return r.json()["party"]["id"], r.json()["api_key"]


_plots = itertools.count()


async def holders_with_units(
    http: httpx.AsyncClient, count: int, quantity: int, cash: str | None
) -> list[dict[str, Any]]:
    """`count` collectives, each with one CARBON_SINK batch of `quantity` and optional cash."""

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    _, registrar = await make_party(http, "registrar")
    _, certifier = await make_party(http, "certifier")
    holders = []
    for _ in range(count):
        i = next(_plots)  # a fresh plot for every asset of the run: confirmed assets never overlap
        pid, token = await make_party(http, "collective")
        lon, lat = 100 + (i % 100) * 0.05, 20 + (i // 100) * 0.05
        ring = [
            [lon, lat],
            [lon + 0.01, lat],
            [lon + 0.01, lat + 0.01],
            [lon, lat + 0.01],
            [lon, lat],
        ]
        a = await http.post("/v1/assets", headers=auth(token), json={
            "resource_type": "forest", "name": "林地", "region_code": "110105", "area_ha": "100.00",
            "boundary": {"type": "Polygon", "coordinates": [ring]},
            "rights": [{"kind": "ownership", "holder_id": pid, "share": "100", "valid_from": "2020-01-01"}]})  # fmt: skip
        a.raise_for_status()
        (
            await http.post(f"/v1/assets/{a.json()['id']}/confirm", headers=auth(registrar))
        ).raise_for_status()
        e = await http.post("/v1/eco-products", headers=auth(token), json={
            "product_type": "CARBON_SINK", "name": "碳汇", "asset_ids": [a.json()["id"]]})  # fmt: skip
        e.raise_for_status()
        (await http.post(f"/v1/eco-products/{e.json()['id']}/certify", headers=auth(certifier),
                         json={"standard": "CCER"})).raise_for_status()  # fmt: skip
        b = await http.post(f"/v1/eco-products/{e.json()['id']}/batches", headers=auth(certifier), json={
            "quantity": quantity, "vintage": 2025, "period_start": "2025-01-01", "period_end": "2025-12-31"})  # fmt: skip
        b.raise_for_status()
        if cash:
            (await http.post("/v1/deposits", json={"party_id": pid, "amount": cash, "method": "bank_transfer",
                                                   "reference": "bench"})).raise_for_status()  # fmt: skip
        holders.append({"party_id": pid, "token": token, "batch_id": b.json()["id"]})
    return holders


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0
