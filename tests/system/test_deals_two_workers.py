"""Block trades, auction bids and a close interleaved with continuous orders on one instrument,
sent to two worker processes (each runs whatever it receives): every trade number is used
exactly once, in one gap-free sequence, and every invariant holds."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.settings import Settings
from tests.api.trading_helpers import Market
from tests.system.conftest import Server, start_server, stop_server

CLIENTS = 6
ROUNDS = 15


@pytest.fixture
def unrouted_workers(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    server = start_server(settings, 2, tmp_path / "server.log", {"MARKET_ROUTE_ORDERS": "0"})
    yield server
    stop_server(server)


async def test_off_book_trades_share_one_gap_free_tape_across_processes(
    market: Market, unrouted_workers: Server
) -> None:
    seed = int(os.environ.get("MARKET_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed={seed}")
    rng = random.Random(seed)
    symbol = (await market.instrument())["symbol"]
    traders = []
    for _ in range(CLIENTS):
        party, _batch = await market.seller(1_000)
        await market.deposit(party, "100000.00")
        traders.append(party)
    ends_at = datetime.now(UTC) + timedelta(seconds=3)
    clients = [
        httpx.AsyncClient(
            base_url=unrouted_workers.url,
            headers={"Authorization": f"Bearer {t.token}"},
            timeout=60,
        )
        for t in traders
    ]
    statuses: list[int] = []
    try:
        auction = await clients[0].post(
            "/v1/auctions",
            json={"instrument": symbol, "quantity": 50, "reserve_price": "45.00",
                  "ends_at": ends_at.isoformat()},
        )  # fmt: skip
        assert auction.status_code == 201, auction.text
        auction_id = auction.json()["id"]

        async def trader(n: int, rng: random.Random) -> None:
            http, buyer_n = clients[n], (n + 1) % CLIENTS
            for _ in range(ROUNDS):
                action = rng.random()
                if action < 0.5:
                    body: dict[str, Any] = {
                        "instrument": symbol,
                        "side": rng.choice(["buy", "sell"]),
                        "type": "limit",
                        "price": f"{50 + rng.randint(-3, 3) * 0.1:.2f}",
                        "quantity": rng.randint(1, 10),
                        "client_order_id": f"{n}-{rng.random()}",
                    }
                    statuses.append((await http.post("/v1/orders", json=body)).status_code)
                elif action < 0.8:
                    proposed = await http.post(
                        "/v1/block-trades",
                        json={"instrument": symbol, "price": f"{rng.randint(40, 60)}.00",
                              "quantity": rng.randint(1, 20), "buyer_id": traders[buyer_n].id},
                    )  # fmt: skip
                    statuses.append(proposed.status_code)
                    if proposed.status_code == 201:
                        block_id = proposed.json()["id"]
                        accepted = await clients[buyer_n].post(
                            f"/v1/block-trades/{block_id}/accept"
                        )
                        statuses.append(accepted.status_code)
                        assert accepted.status_code == 200, accepted.text
                elif n != 0:
                    placed = await http.post(
                        f"/v1/auctions/{auction_id}/bids",
                        json={"price": f"{rng.randint(45, 55)}.00", "quantity": rng.randint(1, 10)},
                    )
                    statuses.append(placed.status_code)
                    assert placed.status_code in (201, 409), placed.text

        await asyncio.gather(*(trader(n, random.Random(rng.random())) for n in range(CLIENTS)))
        await asyncio.sleep(max(0.0, (ends_at - datetime.now(UTC)).total_seconds()) + 0.1)
        closed = await clients[0].post(f"/v1/auctions/{auction_id}/close")
        assert closed.status_code == 200, closed.text
        assert all(s < 500 for s in statuses), sorted(set(statuses))
        async with httpx.AsyncClient(
            base_url=unrouted_workers.url,
            headers={"Authorization": "Bearer operator-test-token"},
            timeout=60,
        ) as http:
            report = (await http.get("/v1/oversight/invariants")).json()
            assert report["ok"], [c for c in report["checks"] if not c["ok"]]
            tape = (
                await http.get(f"/v1/instruments/{symbol}/trades", params={"limit": 500})
            ).json()
    finally:
        for http in clients:
            await http.aclose()
    seqs = [t["seq"] for t in tape["items"]]
    assert seqs == list(range(len(seqs), 0, -1))
    kinds = {t["kind"] for t in tape["items"]}
    assert {"continuous", "block"} <= kinds, kinds
    assert ("auction" in kinds) == (closed.json()["sold_quantity"] > 0)
