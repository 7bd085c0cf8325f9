"""`Idempotency-Key` under concurrent repeats (API.md Conventions): one effect; every other
request gets the first response or 409 `idempotency_key_in_use` — never a 5xx."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.registry_helpers import Registry
from tests.api.test_order_routing import routed
from tests.api.test_registry_races import holding, statuses
from tests.api.trading_helpers import Market, order_body

REPEATS = 4


async def _orders_of(party: Any, symbol: str) -> list[dict[str, Any]]:
    response = await party.get("/v1/orders", params={"instrument": symbol})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_concurrent_repeats_of_a_keyed_order_have_one_effect_and_the_first_answer(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer("10000.00")
    await market.order(seller, symbol, "sell", 3, "50.00")
    body = order_body(symbol, "buy", 5, "50.00")
    headers = {**buyer.headers, "Idempotency-Key": secrets.token_hex(8)}
    responses = await asyncio.gather(
        *(buyer.client.post("/v1/orders", json=body, headers=headers) for _ in range(REPEATS))
    )
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    answered = [r for r in responses if r.status_code != 409]
    assert {r.status_code for r in answered} == {201}, statuses(responses)
    assert len({r.content for r in answered}) == 1  # byte for byte the first response
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["code"] == "idempotency_key_in_use"
    first = answered[0].json()
    assert (first["status"], first["filled_quantity"]) == ("partially_filled", 3)
    mine = await _orders_of(buyer, symbol)
    assert [o["id"] for o in mine] == [first["id"]]
    # A later repeat gets the same stored first answer, not the order's state now.
    await market.order(seller, symbol, "sell", 2, "50.00")
    later = await buyer.client.post("/v1/orders", json=body, headers=headers)
    assert (later.status_code, later.content) == (201, answered[0].content)
    now = (await buyer.get(f"/v1/orders/{first['id']}")).json()
    assert (now["status"], now["filled_quantity"]) == ("filled", 5)


async def test_a_key_reused_for_another_order_is_refused_without_placing_it(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    buyer = await market.buyer("10000.00")
    headers = {**buyer.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await buyer.client.post(
        "/v1/orders", json=order_body(symbol, "buy", 1, "49.00"), headers=headers
    )
    assert first.status_code == 201, first.text
    other = await buyer.client.post(
        "/v1/orders", json=order_body(symbol, "buy", 2, "49.00"), headers=headers
    )
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert [o["id"] for o in await _orders_of(buyer, symbol)] == [first.json()["id"]]


async def test_keyed_repeats_handed_to_the_home_worker_get_the_first_answer(
    market: Market, client: AsyncTestClient[Any]
) -> None:
    symbol = (await market.instrument())["symbol"]
    buyer = await market.buyer("10000.00")
    body = order_body(symbol, "buy", 2, "48.00")
    headers = {**buyer.headers, "Idempotency-Key": secrets.token_hex(8)}
    async with routed(client, home_running=True):
        responses = await asyncio.gather(
            *(buyer.client.post("/v1/orders", json=body, headers=headers) for _ in range(REPEATS))
        )
        answered = [r for r in responses if r.status_code != 409]
        assert {r.status_code for r in answered} == {201}, statuses(responses)
        assert len({r.content for r in answered}) == 1
        other = await buyer.client.post("/v1/orders", json={**body, "quantity": 3}, headers=headers)
        assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert len(await _orders_of(buyer, symbol)) == 1


async def test_concurrent_repeats_of_a_keyed_transfer_have_one_effect(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.batch(a, 100)
    body = {"batch_id": batch["id"], "quantity": 7, "to_party_id": b.id}
    headers = {**a.headers, "Idempotency-Key": secrets.token_hex(8)}
    responses = await asyncio.gather(
        *(a.client.post("/v1/transfers", json=body, headers=headers) for _ in range(REPEATS))
    )
    counted = statuses(responses)
    assert set(counted) <= {(201, None), (409, "idempotency_key_in_use")}, counted
    answered = [r for r in responses if r.status_code == 201]
    assert answered and len({r.content for r in answered}) == 1
    assert (await holding(a, batch["id"]))["available"] == 93
    assert (await holding(b, batch["id"]))["available"] == 7
    again = await a.client.post("/v1/transfers", json=body, headers=headers)
    assert (again.status_code, again.content) == (201, answered[0].content)
    assert (await holding(b, batch["id"]))["available"] == 7
