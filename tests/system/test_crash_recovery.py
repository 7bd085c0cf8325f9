"""Durability (DOMAIN.md invariant 10): what a 2xx acknowledged survives a kill -9, and the
book is rebuilt from the database after the restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from market.settings import Settings
from tests.api.trading_helpers import Market
from tests.system.conftest import start_server, stop_server


async def test_acknowledged_orders_survive_kill_9(
    market: Market, settings: Settings, tmp_path: Path
) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    server = start_server(settings, 1, tmp_path / "first.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            asks = []
            for i, price in enumerate(("50.00", "50.10", "50.20")):
                r = await http.post(
                    "/v1/orders",
                    headers=seller.headers,
                    json={"instrument": symbol, "side": "sell", "type": "limit", "price": price,
                          "quantity": 10, "client_order_id": f"ask-{i}"},
                )  # fmt: skip
                assert r.status_code == 201, r.text
                asks.append(r.json()["id"])
            r = await http.post(
                "/v1/transfers",
                headers=seller.headers,
                json={"batch_id": batch["id"], "quantity": 5, "to_party_id": buyer.id},
            )
            assert r.status_code == 201, r.text
    finally:
        stop_server(server, signal.SIGKILL)

    server = start_server(settings, 1, tmp_path / "second.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            for order_id in asks:
                r = await http.get(f"/v1/orders/{order_id}", headers=seller.headers)
                assert r.json()["status"] == "open"
            book = (await http.get(f"/v1/instruments/{symbol}/book")).json()
            assert [a["price"] for a in book["asks"]] == ["50.00", "50.10", "50.20"]
            # The rebuilt book matches by price-time priority and knows every resting order.
            r = await http.post(
                "/v1/orders",
                headers=buyer.headers,
                json={"instrument": symbol, "side": "buy", "type": "limit", "price": "50.10",
                      "quantity": 15, "client_order_id": "bid-1"},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "filled"
            assert [f["price"] for f in r.json()["fills"]] == ["50.00", "50.10"]
            r = await http.delete(f"/v1/orders/{asks[2]}", headers=seller.headers)
            assert r.status_code == 200 and r.json()["status"] == "cancelled"
            held = (await http.get("/v1/holdings", headers=buyer.headers)).json()["items"][0]
            assert held["available"] == 5 + 15
            # Replaying the same client_order_id after the restart returns the same order.
            r = await http.post(
                "/v1/orders",
                headers=seller.headers,
                json={"instrument": symbol, "side": "sell", "type": "limit", "price": "50.00",
                      "quantity": 10, "client_order_id": "ask-0"},
            )  # fmt: skip
            assert r.status_code == 200 and r.json()["id"] == asks[0]
    finally:
        stop_server(server)
