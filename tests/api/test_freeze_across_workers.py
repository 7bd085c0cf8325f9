"""A freeze acknowledged by one worker is obeyed at once by the others (API.md Conventions).

Another worker's freeze is the `parties` row changing under this process: its caller cache
still says `active` for up to a second, and every refused write must read the status in its
own transaction."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from market.parties import caller_cache
from tests.api.registry_helpers import Registry
from tests.api.test_registry_races import holding
from tests.api.trading_helpers import Market, order_body


async def _set_status_elsewhere(engine: AsyncEngine, party_id: str, status: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("UPDATE parties SET status = :s WHERE id = :id"), {"s": status, "id": party_id}
        )


async def test_writes_are_refused_the_moment_another_worker_froze_the_party(
    registry: Registry, market: Market, engine: AsyncEngine
) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.batch(a, 100)
    await market.deposit(a, "100.00")
    symbol = (await market.instrument())["symbol"]
    assert (await a.get("/v1/me")).json()["status"] == "active"  # cached as active here
    await _set_status_elsewhere(engine, a.id, "frozen")

    writes = {
        "/v1/transfers": {"batch_id": batch["id"], "quantity": 1, "to_party_id": b.id},
        "/v1/retirements": {
            "batch_id": batch["id"],
            "quantity": 1,
            "beneficiary": "甲",
            "reason": "抵销",
        },
        "/v1/pledges": {
            "batch_id": batch["id"],
            "quantity": 1,
            "pledgee_id": b.id,
            "reference": "r",
        },
        "/v1/withdrawals": {"amount": "1.00"},
    }
    for path, body in writes.items():
        response = await a.post(path, json=body)
        assert (response.status_code, response.json().get("code")) == (409, "party_frozen"), path
    order = await a.post("/v1/orders", json=order_body(symbol, "sell", 1, "50.00"))
    assert order.status_code == 201, order.text
    assert (order.json()["status"], order.json()["reject_reason"]) == ("rejected", "party_frozen")
    assert (await holding(a, batch["id"]))["available"] == 100
    assert (await market.cash(a))["available"] == "100.00"

    # The other way round: this process caches `frozen`, another worker unfreezes.
    caller_cache.forget_all()
    assert (await a.get("/v1/me")).json()["status"] == "frozen"
    await _set_status_elsewhere(engine, a.id, "active")
    moved = await a.post("/v1/transfers", json=writes["/v1/transfers"])
    assert moved.status_code == 201, moved.text
