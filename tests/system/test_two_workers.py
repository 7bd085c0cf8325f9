"""Two worker processes on one database, hammered by 20 clients with 2,000 random crossing
orders: afterwards every invariant holds and the book is not crossed."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import httpx

from tests.api.trading_helpers import Market
from tests.system.conftest import Server

CLIENTS = 20
ORDERS_PER_CLIENT = 100


async def test_two_workers_stay_exact_under_load(market: Market, two_workers: Server) -> None:
    seed = int(os.environ.get("MARKET_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed={seed}")
    rng = random.Random(seed)
    symbols = [
        (await market.instrument(buyer_fee_bps=5, seller_fee_bps=5))["symbol"] for _ in range(2)
    ]
    traders = []
    for _ in range(CLIENTS):
        party, _batch = await market.seller(2_000)
        await market.deposit(party, "200000.00")
        traders.append(party)
    statuses: list[int] = []

    async def client(token: str, rng: random.Random) -> None:
        async with httpx.AsyncClient(
            base_url=two_workers.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            open_ids: list[str] = []
            for n in range(ORDERS_PER_CLIENT):
                if open_ids and rng.random() < 0.1:
                    response = await http.delete(
                        f"/v1/orders/{open_ids.pop(rng.randrange(len(open_ids)))}"
                    )
                    statuses.append(response.status_code)
                    continue
                side = rng.choice(["buy", "sell"])
                ticks = rng.randint(-5, 5)
                body: dict[str, Any] = {
                    "instrument": rng.choice(symbols),
                    "side": side,
                    "type": "limit",
                    "price": f"{50 + ticks * 0.1:.2f}",
                    "quantity": rng.randint(1, 20),
                    "client_order_id": f"c{n}-{rng.random()}",
                    "time_in_force": rng.choice(["GTC", "GTC", "GTC", "IOC", "FOK"]),
                    "stp": rng.choice(["cancel_newest", "cancel_oldest", "cancel_both"]),
                }
                if rng.random() < 0.05:
                    body["type"] = "market"
                    del body["price"]
                    body["time_in_force"] = "IOC"
                response = await http.post("/v1/orders", json=body)
                statuses.append(response.status_code)
                if response.status_code == 201 and response.json()["status"] in (
                    "open",
                    "partially_filled",
                ):
                    open_ids.append(response.json()["id"])

    await asyncio.gather(*(client(t.token, random.Random(rng.random())) for t in traders))
    assert all(s < 500 for s in statuses), sorted(set(statuses))
    assert statuses.count(201) >= CLIENTS * ORDERS_PER_CLIENT * 0.8
    async with httpx.AsyncClient(
        base_url=two_workers.url,
        headers={"Authorization": "Bearer operator-test-token"},
        timeout=60,
    ) as http:
        report = (await http.get("/v1/oversight/invariants")).json()
        assert report["ok"], [c for c in report["checks"] if not c["ok"]]
        trades = 0
        for symbol in symbols:
            book = (await http.get(f"/v1/instruments/{symbol}/book", params={"depth": 1})).json()
            if book["bids"] and book["asks"]:
                assert float(book["bids"][0]["price"]) < float(book["asks"][0]["price"])
            tape = (await http.get(f"/v1/instruments/{symbol}/trades", params={"limit": 1})).json()
            trades += tape["items"][0]["seq"] if tape["items"] else 0
        assert trades > 100  # the stream really crossed
