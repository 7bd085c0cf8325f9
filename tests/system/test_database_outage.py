"""PostgreSQL stops under load and comes back (API.md Conventions): while it is away every
request is answered 503 `database_unavailable` with `Retry-After` within a few seconds — never
a 500, never a hang — service resumes by itself soon after its return, and nothing that was
acknowledged is lost.

`market serve --workers 2` runs on a private embedded PostgreSQL that the test stops with
`pg_ctl stop -m fast` (every connection is cut) and starts again. Figures are printed; the
bounds asserted are the contract's "a few seconds", not a benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.db.embedded import _pgserver, start_embedded, stop_embedded
from market.settings import Settings
from tests.api.conftest import OPERATOR_TOKEN, random_credit_code
from tests.invariants import assert_invariants
from tests.system.conftest import Server, start_server, stop_server

CLIENTS = 8
DOWN_SECONDS = 3.0
HANG = 8.0  # no answer may take longer: "within a few seconds"
RECOVERY = 3.0  # the first success after the database returned, at the latest


@dataclass
class Answer:
    sent: float
    answered: float
    status: int
    code: str | None
    retry_after: str | None
    order_id: str | None


class Postgres:
    """The private embedded server: stopped and started at will."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.url = start_embedded(data_dir)
        self.pgdata = (data_dir / "pgdata").resolve()

    def stop(self) -> None:
        user = "pgserver" if os.geteuid() == 0 else None
        _pgserver()._commands.pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=30
        )

    def start(self) -> None:
        _pgserver().get_server(self.pgdata, cleanup_mode="stop").ensure_postgres_running()


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[tuple[Postgres, Server]]:
    # Not under pytest's 0700 tmp root: the embedded server runs as another user.
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="market-outage-")))
    settings = Settings(database_url=postgres.url, market_data_dir=tmp_path / "data")
    server = start_server(settings, 2, tmp_path / "server.log")
    try:
        yield postgres, server
    finally:
        stop_server(server)
        stop_embedded(postgres.data_dir)
        shutil.rmtree(postgres.data_dir, ignore_errors=True)


async def _setup(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    symbol = f"OUT{secrets.token_hex(2).upper()}"
    r = await http.post("/v1/instruments", headers=operator, json={
        "symbol": symbol, "product_type": "CARBON_SINK", "reference_price": "50.00"})  # fmt: skip
    assert r.status_code == 201, r.text
    r = await http.post("/v1/parties", headers=operator, json={
        "name": "outage buyer", "kind": "enterprise", "credit_code": random_credit_code(),
        "region_code": "110105"})  # fmt: skip
    assert r.status_code == 201, r.text
    buyer = r.json()
    r = await http.post("/v1/deposits", headers=operator, json={
        "party_id": buyer["party"]["id"], "amount": "10000000.00", "method": "bank_transfer",
        "reference": "outage"})  # fmt: skip
    assert r.status_code == 201, r.text
    return symbol, {"Authorization": f"Bearer {buyer['api_key']}"}


async def _client(
    http: httpx.AsyncClient, symbol: str, headers: dict[str, str], stop: asyncio.Event,
    answers: list[Answer],
) -> None:  # fmt: skip
    while not stop.is_set():
        body = {"instrument": symbol, "side": "buy", "type": "limit", "price": "45.00",
                "quantity": 1, "client_order_id": secrets.token_hex(8)}  # fmt: skip
        sent = time.monotonic()
        try:
            r = await http.post("/v1/orders", headers=headers, json=body)
        except httpx.TimeoutException:
            answers.append(Answer(sent, time.monotonic(), 0, "client_timeout", None, None))
            continue
        answered = time.monotonic()
        payload: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            payload = r.json()
        ok = r.status_code in (200, 201)
        answers.append(Answer(sent, answered, r.status_code, None if ok else payload.get("code"),
                              r.headers.get("retry-after"), payload.get("id") if ok else None))  # fmt: skip
        if r.status_code == 503:
            await asyncio.sleep(0.05)


async def test_a_database_restart_under_load_answers_503_and_recovers(
    private_server: tuple[Postgres, Server],
) -> None:
    postgres, server = private_server
    answers: list[Answer] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.url, timeout=HANG * 2) as http:
        symbol, headers = await _setup(http)
        clients = [asyncio.create_task(_client(http, symbol, headers, stop, answers))
                   for _ in range(CLIENTS)]  # fmt: skip
        await asyncio.sleep(1.0)
        await asyncio.to_thread(postgres.stop)
        down = time.monotonic()
        await asyncio.sleep(DOWN_SECONDS)
        await asyncio.to_thread(postgres.start)
        up = time.monotonic()
        while time.monotonic() - up < RECOVERY + HANG:
            if any(a.status == 201 and a.sent >= up for a in answers):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*clients)

        statuses = sorted({(a.status, a.code) for a in answers})
        during = [a for a in answers if a.answered >= down and a.sent <= up]
        first_back = min((a.answered for a in answers if a.status == 201 and a.sent >= up),
                         default=None)  # fmt: skip
        figures = {
            "requests": len(answers),
            "statuses": [list(s) for s in statuses],
            "answers_while_down": len(during),
            "slowest_answer_s": round(max(a.answered - a.sent for a in answers), 3),
            "service_back_after_s": None if first_back is None else round(first_back - up, 3),
        }
        print(json.dumps(figures))
        assert all(a.status in (201, 503) for a in answers), figures
        for a in answers:
            if a.status == 503:
                assert (a.code, a.retry_after) == ("database_unavailable", "1"), figures
        assert figures["slowest_answer_s"] < HANG, figures
        assert any(a.status == 503 for a in during), figures
        assert first_back is not None and first_back - up < RECOVERY, figures

        acknowledged = [a.order_id for a in answers if a.status == 201]
        for order_id in acknowledged:
            r = await http.get(f"/v1/orders/{order_id}", headers=headers)
            assert r.status_code == 200, (order_id, r.text)
        listed = await http.get("/v1/orders", headers=headers, params={"limit": 500})
        assert listed.status_code == 200
    await assert_invariants(postgres.url)
