"""Surveillance alerts computed from the trades and cancels committed over HTTP (DOMAIN.md
"Surveillance"): each detector fires where it must and stays silent where it must not."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.oversight_helpers import alerts, dealer, surveil, trade
from tests.api.trading_helpers import Market


async def test_circular_trading_between_two_parties(market: Market, engine: AsyncEngine) -> None:
    symbol = (await market.instrument())["symbol"]
    a, b = await dealer(market), await dealer(market)
    first = await trade(market, symbol, a, b, 100)
    back = await trade(market, symbol, b, a, 95)
    await surveil(engine)
    found = await alerts(market.registry.regulator, symbol, kind="circular_trading")
    assert len(found) == 1, found
    alert = found[0]
    assert alert["parties"] == [a.id, b.id]
    assert alert["trade_ids"] == [first["trade_id"], back["trade_id"]]
    assert alert["severity"] == "high" and alert["status"] == "open"
    assert a.id in alert["detail"] and symbol in alert["detail"]


async def test_circular_trading_through_three_parties(market: Market, engine: AsyncEngine) -> None:
    symbol = (await market.instrument())["symbol"]
    a, b, c = await dealer(market), await dealer(market), await dealer(market)
    legs = [
        await trade(market, symbol, a, b, 100),
        await trade(market, symbol, b, c, 100),
        await trade(market, symbol, c, a, 105),
    ]
    await surveil(engine)
    found = await alerts(market.registry.regulator, symbol, kind="circular_trading")
    assert [x["trade_ids"] for x in found] == [[t["trade_id"] for t in legs]]
    assert found[0]["parties"] == [a.id, b.id, c.id]


async def test_a_cycle_of_four_or_unequal_legs_raise_nothing(
    market: Market, engine: AsyncEngine
) -> None:
    symbol = (await market.instrument())["symbol"]
    a, b, c, d = [await dealer(market) for _ in range(4)]
    for seller, buyer in ((a, b), (b, c), (c, d), (d, a)):
        await trade(market, symbol, seller, buyer, 100)
    other = (await market.instrument())["symbol"]
    await trade(market, other, a, b, 100)
    await trade(market, other, b, a, 120)  # 20 % more than the first leg
    await surveil(engine)
    regulator = market.registry.regulator
    assert await alerts(regulator, symbol, kind="circular_trading") == []
    assert await alerts(regulator, other, kind="circular_trading") == []


async def test_price_spike_above_five_percent(market: Market, engine: AsyncEngine) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, buyer = await dealer(market), await market.buyer()
    before = await trade(market, symbol, seller, buyer, 10, "50.00")
    quiet = await trade(market, symbol, seller, buyer, 10, "52.45")  # +4.9 %
    spike = await trade(market, symbol, seller, buyer, 10, "49.80")  # −5.05 % from 52.45
    await surveil(engine)
    found = await alerts(market.registry.regulator, symbol, kind="price_spike")
    assert [a["trade_ids"] for a in found] == [[quiet["trade_id"], spike["trade_id"]]], found
    assert before["trade_id"] not in found[0]["trade_ids"]
    assert sorted(found[0]["parties"]) == sorted([seller.id, buyer.id])
    assert "49.80" in found[0]["detail"] and "52.45" in found[0]["detail"]


async def test_concentration_on_a_day_with_ten_trades(market: Market, engine: AsyncEngine) -> None:
    symbol = (await market.instrument())["symbol"]
    seller = await dealer(market)
    x, y = await market.buyer(), await market.buyer()
    for i in range(9):
        await trade(market, symbol, seller, x if i % 2 else y, 10)
    await surveil(engine)
    regulator = market.registry.regulator
    assert await alerts(regulator, symbol, kind="concentration") == []  # 9 trades

    await trade(market, symbol, seller, x, 10)  # the 10th: x and y 50 % each, the seller 100 %
    await trade(market, symbol, seller, y, 10)  # the 11th: y 6/11, the seller again
    await surveil(engine)
    found = await alerts(regulator, symbol, kind="concentration")
    assert sorted(
        (a["parties"][0], "sell" if a["parties"][0] == seller.id else "buy") for a in found
    ) == sorted([(seller.id, "sell"), (y.id, "buy")]), found
    by_party = {a["parties"][0]: a for a in found}
    assert len(by_party[seller.id]["trade_ids"]) == 10  # as of the 10th trade
    assert len(by_party[y.id]["trade_ids"]) == 6
    await trade(market, symbol, seller, y, 10)  # raised once per party, side and day
    await surveil(engine)
    assert len(await alerts(regulator, symbol, kind="concentration")) == 2


async def place_and_cancel(
    market: Market, party: Any, symbol: str, placed: int, cancelled: int
) -> list[str]:
    ids = [(await market.order(party, symbol, "buy", 1, "45.00"))["id"] for _ in range(placed)]
    for order_id in ids[:cancelled]:
        response = await party.delete(f"/v1/orders/{order_id}")
        assert response.status_code == 200, response.text
    return ids


async def test_layering_more_than_ninety_percent_cancelled(
    market: Market, engine: AsyncEngine
) -> None:
    symbol = (await market.instrument())["symbol"]
    layerer, honest, few = await market.buyer(), await market.buyer(), await market.buyer()
    ids = await place_and_cancel(market, layerer, symbol, 20, 19)
    await place_and_cancel(market, honest, symbol, 20, 18)  # exactly 90 %
    await place_and_cancel(market, few, symbol, 19, 19)  # fewer than 20 orders
    await surveil(engine)
    found = await alerts(market.registry.regulator, symbol, kind="layering")
    assert [a["parties"] for a in found] == [[layerer.id]], found
    assert sorted(found[0]["order_ids"]) == sorted(ids)
    assert "19 of the 20" in found[0]["detail"]
    # Another cancel a moment later is the same episode: no second alert.
    more = await market.order(layerer, symbol, "buy", 1, "45.00")
    assert (await layerer.delete(f"/v1/orders/{more['id']}")).status_code == 200
    await surveil(engine)
    assert len(await alerts(market.registry.regulator, symbol, kind="layering")) == 1


async def test_an_alert_is_listed_within_five_seconds_by_itself(market: Market) -> None:
    """No explicit pass: the app's background surveillance finds it."""
    symbol = (await market.instrument())["symbol"]
    a, b = await dealer(market), await dealer(market)
    await trade(market, symbol, a, b, 100)
    await trade(market, symbol, b, a, 100)
    done = time.monotonic()
    while not await alerts(market.registry.regulator, symbol, kind="circular_trading"):
        assert time.monotonic() - done < 5, "no alert within 5 s"
        await asyncio.sleep(0.2)


async def test_concurrent_passes_raise_each_alert_once(market: Market, engine: AsyncEngine) -> None:
    """Several workers run the loop: the advisory lock and the alert's key keep it single."""
    from market.db.engine import session_factory
    from market.oversight.surveillance import surveillance_pass

    symbol = (await market.instrument())["symbol"]
    a, b = await dealer(market), await dealer(market)
    await trade(market, symbol, a, b, 100)
    await trade(market, symbol, b, a, 100)
    factory = session_factory(engine)
    await asyncio.gather(*(surveillance_pass(factory, wait=w) for w in (True, False, True, False)))
    assert len(await alerts(market.registry.regulator, symbol, kind="circular_trading")) == 1
