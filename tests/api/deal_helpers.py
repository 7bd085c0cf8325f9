"""Shared steps of the block trade and auction tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.conftest import Actor
from tests.api.trading_helpers import Market


def expect(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    if code is not None:
        assert body["code"] == code, body
    return body


def fen(amount: str) -> int:
    """`"-1.81"` → -181."""
    whole, frac = amount.removeprefix("-").split(".")
    return (-1 if amount.startswith("-") else 1) * (int(whole) * 100 + int(frac))


def at(seconds: float) -> str:
    """An RFC 3339 UTC time `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def until(moment: str) -> None:
    """Sleep until just after `moment`."""
    delay = (datetime.fromisoformat(moment) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(delay, 0) + 0.05)


async def funds(market: Market, party: Actor) -> tuple[str, str]:
    cash = await market.cash(party)
    return cash["available"], cash["reserved"]


async def units(market: Market, party: Actor, batch_id: str) -> tuple[int, int]:
    held = await market.holding(party, batch_id)
    return held["available"], held["escrowed"]


async def trade_of(party: Actor, trade_id: str) -> dict[str, Any]:
    return expect(await party.get(f"/v1/trades/{trade_id}"), 200)


async def tape(party: Actor, symbol: str) -> list[dict[str, Any]]:
    return list(expect(await party.get(f"/v1/instruments/{symbol}/trades"), 200)["items"])


async def verified(party: Actor, certificate_id: str) -> dict[str, Any]:
    """The certificate, after checking that it verifies with the published key."""
    certificate = expect(await party.client.get(f"/v1/certificates/{certificate_id}"), 200)
    result = expect(await party.client.post("/v1/certificates/verify", json=certificate), 200)
    assert result["valid"] is True, result
    return certificate


async def pending_approval_of(regulator: Actor, trade_id: str) -> dict[str, Any]:
    cursor = None
    while True:
        params = {"status": "pending", **({"cursor": cursor} if cursor else {})}
        page = expect(await regulator.get("/v1/oversight/approvals", params=params), 200)
        for item in page["items"]:
            if item["subject_id"] == trade_id:
                return dict(item)
        cursor = page["next_cursor"]
        assert cursor, f"no pending approval for {trade_id}"
