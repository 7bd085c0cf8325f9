"""Build a market over HTTP: an instrument, a seller with units, a buyer with cash."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any

from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry

_symbols = itertools.count(1)


def symbol() -> str:
    return f"CS{next(_symbols)}{secrets.token_hex(2).upper()}"


def order_body(
    symbol: str, side: str, quantity: Any, price: str | None = None, **over: Any
) -> dict[str, Any]:
    """A limit order (a market order when no price is given) with a fresh client order id."""
    body: dict[str, Any] = {
        "instrument": symbol,
        "side": side,
        "type": "limit" if price is not None else "market",
        "quantity": quantity,
        "client_order_id": secrets.token_hex(8),
    }
    if price is not None:
        body["price"] = price
    body.update(over)
    return body


@dataclass
class Market:
    registry: Registry

    @property
    def operator(self) -> Actor:
        return self.registry.operator

    async def instrument(self, **over: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "symbol": symbol(),
            "product_type": "CARBON_SINK",
            "tick_size": "0.01",
            "lot_size": 1,
            "reference_price": "50.00",
            "price_band_pct": "10",
            "buyer_fee_bps": 10,
            "seller_fee_bps": 20,
        }
        body.update(over)
        response = await self.operator.post("/v1/instruments", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def deposit(self, party: Actor, amount: str) -> None:
        response = await self.operator.post(
            "/v1/deposits",
            json={
                "party_id": party.id,
                "amount": amount,
                "method": "bank_transfer",
                "reference": "test",
            },
        )
        assert response.status_code == 201, response.text

    async def seller(
        self, quantity: int = 1_000, product_type: str = "CARBON_SINK"
    ) -> tuple[Actor, dict[str, Any]]:
        party = await self.registry.trader("collective")
        batch = await self.registry.batch(party, quantity, product_type)
        return party, batch

    async def buyer(self, amount: str = "100000.00") -> Actor:
        party = await self.registry.trader("enterprise")
        await self.deposit(party, amount)
        return party

    @staticmethod
    async def order(
        party: Actor,
        instrument: str,
        side: str,
        quantity: int,
        price: str | None = None,
        **over: Any,
    ) -> dict[str, Any]:
        body = order_body(instrument, side, quantity, price, **over)
        response = await party.post("/v1/orders", json=body)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    @staticmethod
    async def cash(party: Actor) -> dict[str, Any]:
        response = await party.get("/v1/cash")
        assert response.status_code == 200, response.text
        return dict(response.json())

    @staticmethod
    async def holding(party: Actor, batch_id: str) -> dict[str, Any]:
        items = (await party.get("/v1/holdings")).json()["items"]
        return next(
            (h for h in items if h["batch_id"] == batch_id),
            {"available": 0, "escrowed": 0, "ranges": []},
        )
