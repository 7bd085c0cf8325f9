"""Surveillance over HTTP: traders who both buy and sell, a trade between two of them, one
detector pass, and the alerts a regulator lists."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from market.db.engine import session_factory
from market.oversight.surveillance import surveillance_pass
from tests.api.conftest import Actor
from tests.api.trading_helpers import Market


async def dealer(market: Market, units: int = 1_000, cash: str = "100000.00") -> Actor:
    """A collective holding units and cash: it can sell and buy."""
    party = await market.registry.trader("collective")
    await market.registry.batch(party, units)
    await market.deposit(party, cash)
    return party


async def trade(
    market: Market, symbol: str, seller: Actor, buyer: Actor, quantity: int, price: str = "50.00"
) -> dict[str, Any]:
    """The seller rests a sell order, the buyer takes it: one trade, seller → buyer."""
    sell = await market.order(seller, symbol, "sell", quantity, price)
    assert sell["status"] == "open", sell
    buy = await market.order(buyer, symbol, "buy", quantity, price)
    assert buy["status"] == "filled", buy
    assert len(buy["fills"]) == 1, buy
    return dict(buy["fills"][0])


async def surveil(engine: AsyncEngine) -> None:
    """One detector pass (waiting for the app's own background pass if it runs)."""
    await surveillance_pass(session_factory(engine), wait=True)


async def alerts(
    regulator: Actor, symbol: str | None = None, **params: Any
) -> list[dict[str, Any]]:
    response = await regulator.get("/v1/oversight/alerts", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return [a for a in items if symbol is None or a["instrument"] == symbol]
