"""An order's trail and fills, derived from what is stored anyway — its row, its instrument's
command log (`book_commands`) and its trades — with no event rows of their own: each trail item
carries the seq of the command during which it happened (docs/OVERSIGHT.md)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Actor
from tests.api.trading_helpers import Market


async def command_log(engine: AsyncEngine, symbol: str) -> dict[int, tuple[str, str]]:
    """The instrument's commands by seq: (op, order id)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT seq, command FROM book_commands WHERE instrument = :s"), {"s": symbol}
        )
        return {r.seq: (r.command["op"], r.command["order_id"]) for r in rows}


async def trail(market: Market, order_id: str) -> list[dict[str, Any]]:
    response = await market.registry.regulator.get(f"/v1/oversight/orders/{order_id}/trail")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def lines(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["kind"], i["quantity"], i["price"], i.get("reason")) for i in items]


async def order_of(party: Actor, order_id: str) -> dict[str, Any]:
    response = await party.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def fills_of(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(f["trade_id"], f["price"], f["quantity"]) for f in order["fills"]]


class TestTrail:
    async def test_an_order_that_rested_partly_filled_and_was_cancelled(
        self, market: Market, engine: AsyncEngine
    ) -> None:
        symbol = (await market.instrument())["symbol"]
        seller, _ = await market.seller(100)
        buyer = await market.buyer()
        ask = await market.order(seller, symbol, "sell", 10, "50.00")
        bid_1 = await market.order(buyer, symbol, "buy", 4, "50.00")
        bid_2 = await market.order(buyer, symbol, "buy", 3, "50.00")
        assert (await seller.delete(f"/v1/orders/{ask['id']}")).status_code == 200

        items = await trail(market, ask["id"])
        assert lines(items) == [
            ("new", 10, "50.00", None),
            ("fill", 4, "50.00", None),
            ("fill", 3, "50.00", None),
            ("cancel", 3, "50.00", "user"),
        ]
        assert [i.get("trade_id") for i in items] == [
            None, bid_1["fills"][0]["trade_id"], bid_2["fills"][0]["trade_id"], None,
        ]  # fmt: skip
        # Each item at its command: the ask's submit, each taker's submit, the owner's cancel.
        log = await command_log(engine, symbol)
        assert [log[i["seq"]] for i in items] == [
            ("submit", ask["id"]),
            ("submit", bid_1["id"]),
            ("submit", bid_2["id"]),
            ("cancel", ask["id"]),
        ]
        assert items[-1]["seq"] == max(log)
        # A taker's fills happen during its own submit.
        taker = await trail(market, bid_1["id"])
        assert lines(taker) == [("new", 4, "50.00", None), ("fill", 4, "50.00", None)]
        assert log[taker[0]["seq"]] == ("submit", bid_1["id"])
        assert taker[1]["seq"] == taker[0]["seq"]

    async def test_an_order_rejected_before_the_book(
        self, market: Market, engine: AsyncEngine
    ) -> None:
        symbol = (await market.instrument())["symbol"]
        buyer = await market.buyer()
        resting = await market.order(buyer, symbol, "buy", 2, "45.00")
        rejected = await market.order(buyer, symbol, "buy", 4, "60.00")  # outside the band
        assert rejected["status"] == "rejected", rejected

        items = await trail(market, rejected["id"])
        assert lines(items) == [
            ("new", 4, "60.00", None),
            ("reject", 4, "60.00", "price_out_of_band"),
        ]
        # No command of its own: both items sit after the last command logged before it.
        log = await command_log(engine, symbol)
        assert rejected["id"] not in {order_id for _, order_id in log.values()}
        assert log[items[0]["seq"]] == ("submit", resting["id"]) and items[0]["seq"] == max(log)
        assert items[1]["seq"] == items[0]["seq"]
        assert items[0]["created_at"] == items[1]["created_at"] == rejected["created_at"]

    async def test_a_gtd_order_that_expired(self, market: Market, engine: AsyncEngine) -> None:
        symbol = (await market.instrument())["symbol"]
        seller, _ = await market.seller(100)
        buyer = await market.buyer()
        expires_at = datetime.now(UTC) + timedelta(seconds=1.5)
        ask = await market.order(
            seller, symbol, "sell", 10, "50.00",
            time_in_force="GTD", expires_at=expires_at.isoformat(),
        )  # fmt: skip
        bid = await market.order(buyer, symbol, "buy", 4, "50.00")
        deadline = asyncio.get_running_loop().time() + 6
        while (await order_of(seller, ask["id"]))["status"] != "expired":
            assert asyncio.get_running_loop().time() < deadline, "the GTD order never expired"
            await asyncio.sleep(0.2)

        items = await trail(market, ask["id"])
        assert lines(items) == [
            ("new", 10, "50.00", None),
            ("fill", 4, "50.00", None),
            ("expire", 6, "50.00", "expired"),
        ]
        log = await command_log(engine, symbol)
        assert [log[i["seq"]] for i in items] == [
            ("submit", ask["id"]),
            ("submit", bid["id"]),
            ("expire", ask["id"]),
        ]
        assert datetime.fromisoformat(items[2]["created_at"]) >= expires_at

    async def test_an_ioc_order_whose_remainder_was_cancelled(
        self, market: Market, engine: AsyncEngine
    ) -> None:
        symbol = (await market.instrument())["symbol"]
        seller, _ = await market.seller(100)
        buyer = await market.buyer()
        await market.order(seller, symbol, "sell", 4, "50.00")
        ioc = await market.order(buyer, symbol, "buy", 10, "50.00", time_in_force="IOC")
        assert (ioc["status"], ioc["filled_quantity"]) == ("cancelled", 4), ioc

        items = await trail(market, ioc["id"])
        assert lines(items) == [
            ("new", 10, "50.00", None),
            ("fill", 4, "50.00", None),
            ("cancel", 6, "50.00", "ioc_remainder"),
        ]
        log = await command_log(engine, symbol)
        assert {log[i["seq"]] for i in items} == {("submit", ioc["id"])}


class TestFills:
    async def test_the_fills_of_a_multi_fill_order_are_its_trades(self, market: Market) -> None:
        regulator = market.registry.regulator
        symbol = (await market.instrument())["symbol"]
        first, _ = await market.seller(100)
        second, _ = await market.seller(100)
        buyer = await market.buyer()
        cheap = await market.order(first, symbol, "sell", 5, "50.00")
        dear = await market.order(second, symbol, "sell", 5, "50.10")
        idle = await market.order(buyer, symbol, "buy", 2, "40.00")
        bid = await market.order(buyer, symbol, "buy", 8, "50.10")
        assert bid["status"] == "filled"
        (one, two) = fills_of(bid)
        assert (one[1:], two[1:]) == (("50.00", 5), ("50.10", 3))

        assert fills_of(await order_of(buyer, bid["id"])) == [one, two]
        assert fills_of(await order_of(first, cheap["id"])) == [one]
        assert fills_of(await order_of(second, dear["id"])) == [two]
        assert fills_of(await order_of(buyer, idle["id"])) == []
        listed = (await buyer.get("/v1/orders", params={"instrument": symbol})).json()["items"]
        assert {o["id"]: fills_of(o) for o in listed} == {bid["id"]: [one, two], idle["id"]: []}
        # Both orders of a trade in one read: each lists it.
        every = await regulator.get("/v1/oversight/orders", params={"instrument": symbol})
        assert every.status_code == 200, every.text
        assert {o["id"]: fills_of(o) for o in every.json()["items"]} == {
            cheap["id"]: [one],
            dear["id"]: [two],
            idle["id"]: [],
            bid["id"]: [one, two],
        }
