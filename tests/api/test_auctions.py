"""Single-sided auctions (单向竞价): escrow, sealed bids reserving cash, the uniform-price close
(ties by time, the marginal bid partly filled), losers released, unsold units returned,
approval products, refusals, bids racing the close, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Actor
from tests.api.deal_helpers import (
    at,
    expect,
    funds,
    pending_approval_of,
    tape,
    trade_of,
    units,
    until,
    verified,
)
from tests.api.trading_helpers import Market


async def government_seller(market: Market, quantity: int) -> tuple[Actor, dict[str, Any]]:
    """A county government holding `quantity` carbon-sink units (transferred by a collective)."""
    collective, batch = await market.seller(quantity)
    government = await market.registry.trader("government")
    moved = await collective.post(
        "/v1/transfers",
        json={"batch_id": batch["id"], "quantity": quantity, "to_party_id": government.id},
    )
    assert moved.status_code == 201 and moved.json()["status"] == "completed", moved.text
    return government, batch


async def open_auction(
    seller: Actor, symbol: str, quantity: int, reserve: str, ends_at: str, **over: Any
) -> dict[str, Any]:
    body = {
        "instrument": symbol,
        "quantity": quantity,
        "reserve_price": reserve,
        "ends_at": ends_at,
        **over,
    }
    return expect(await seller.post("/v1/auctions", json=body), 201)


async def bid(party: Actor, auction_id: str, price: str, quantity: int) -> dict[str, Any]:
    return expect(
        await party.post(
            f"/v1/auctions/{auction_id}/bids", json={"price": price, "quantity": quantity}
        ),
        201,
    )


async def test_uniform_price_allocation_ties_by_time_marginal_partly_filled(market: Market) -> None:
    symbol = (await market.instrument(reference_price="10.00"))["symbol"]  # fees 10 / 20 bps
    seller, batch = await government_seller(market, 100)
    a, b, c, d = [await market.buyer("1000.00") for _ in range(4)]
    regulator = market.registry.regulator
    ends_at = at(1.5)
    auction = await open_auction(seller, symbol, 100, "10.00", ends_at)
    assert auction == {**auction, "status": "open", "quantity": 100, "reserve_price": "10.00",
                       "seller_id": seller.id, "clearing_price": None, "sold_quantity": 0}  # fmt: skip
    assert await units(market, seller, batch["id"]) == (0, 100)

    bid_a = await bid(a, auction["id"], "12.00", 40)
    bid_b = await bid(b, auction["id"], "11.00", 50)  # ties with c at 11.00: earlier wins
    bid_c = await bid(c, auction["id"], "11.00", 30)
    bid_d = await bid(d, auction["id"], "10.00", 50)  # exactly the reserve: accepted
    assert bid_d["status"] == "open" and bid_d["price"] == "10.00"
    assert await funds(market, a) == ("519.52", "480.48")  # 480.00 + max fee 0.48
    assert await funds(market, d) == ("499.50", "500.50")
    expect(await b.post(f"/v1/auctions/{auction['id']}/bids", json={"price": "9.99", "quantity": 10}),
           409, "below_reserve")  # fmt: skip

    # sealed: nobody sees the bids before the close but the bidder and a regulator
    public = expect(await a.client.get(f"/v1/auctions/{auction['id']}"), 200)
    assert public["bids"] is None and public["status"] == "open"
    own = expect(await a.get(f"/v1/auctions/{auction['id']}/bids"), 200)["items"]
    assert [x["id"] for x in own] == [bid_a["id"]]
    everyone = expect(await regulator.get(f"/v1/auctions/{auction['id']}/bids"), 200)["items"]
    assert [x["id"] for x in everyone] == [bid_a["id"], bid_b["id"], bid_c["id"], bid_d["id"]]

    expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 409, "auction_open")
    await until(ends_at)
    expect(await b.post(f"/v1/auctions/{auction['id']}/bids", json={"price": "20.00", "quantity": 10}),
           409, "auction_closed")  # fmt: skip
    expect(await a.post(f"/v1/auctions/{auction['id']}/close"), 403, "forbidden")

    closed = expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 200)
    assert closed["status"] == "closed" and closed["clearing_price"] == "11.00"
    assert closed["sold_quantity"] == 100
    assert [(x["party_id"], x["quantity"]) for x in closed["allocations"]] == [
        (a.id, 40), (b.id, 50), (c.id, 10)
    ]  # fmt: skip
    for alloc, party in zip(closed["allocations"], (a, b, c), strict=True):
        trade = await trade_of(party, alloc["trade_id"])
        assert trade["kind"] == "auction" and trade["price"] == "11.00"
        assert trade["quantity"] == alloc["quantity"] and trade["seller_id"] == seller.id
        assert trade["settlement"]["status"] == "settled"
        assert (await verified(party, trade["certificate_id"]))["payload"][
            "trade_kind"
        ] == "auction"
    # winners pay 11.00 (+ fee) whatever they bid; the rest of their reservation comes back
    assert await funds(market, a) == ("559.56", "0.00")  # 1000 - 440.00 - 0.44
    assert await funds(market, b) == ("449.45", "0.00")  # 1000 - 550.00 - 0.55
    assert await funds(market, c) == ("889.89", "0.00")  # 1000 - 110.00 - 0.11
    assert await funds(market, d) == ("1000.00", "0.00")  # lost: released
    assert await funds(market, seller) == ("1097.80", "0.00")  # 1100.00 - 2.20
    assert [await units(market, p, batch["id"]) for p in (a, b, c, d)] == [
        (40, 0), (50, 0), (10, 0), (0, 0)
    ]  # fmt: skip
    assert await units(market, seller, batch["id"]) == (0, 0)
    printed = await tape(d, symbol)
    assert [(t["seq"], t["kind"], t["price"]) for t in printed] == [
        (3, "auction", "11.00"), (2, "auction", "11.00"), (1, "auction", "11.00")
    ]  # fmt: skip

    after = expect(await d.client.get(f"/v1/auctions/{auction['id']}"), 200)
    assert after["clearing_price"] == "11.00" and after["closed_at"]
    assert [
        (x["price"], x["quantity"], x["filled_quantity"], x["status"]) for x in after["bids"]
    ] == [
        ("12.00", 40, 40, "filled"),
        ("11.00", 50, 50, "filled"),
        ("11.00", 30, 10, "partially_filled"),
        ("10.00", 50, 0, "lost"),
    ]
    assert all("party_id" not in x for x in after["bids"])
    expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 409, "auction_closed")
    expect(await market.operator.post(f"/v1/auctions/{auction['id']}/close"), 409, "auction_closed")


async def test_unsold_units_return_and_an_auction_without_bids_sells_nothing(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    ends_at = at(1.0)
    partly = await open_auction(seller, symbol, 60, "50.00", ends_at)
    empty = await open_auction(seller, symbol, 40, "50.00", ends_at)
    assert await units(market, seller, batch["id"]) == (0, 100)
    await bid(buyer, partly["id"], "52.00", 20)
    await bid(buyer, partly["id"], "51.00", 10)
    await until(ends_at)

    closed = expect(await market.operator.post(f"/v1/auctions/{partly['id']}/close"), 200)
    assert closed["clearing_price"] == "51.00" and closed["sold_quantity"] == 30
    assert [x["quantity"] for x in closed["allocations"]] == [20, 10]
    nothing = expect(await seller.post(f"/v1/auctions/{empty['id']}/close"), 200)
    assert nothing["clearing_price"] is None and nothing["allocations"] == []
    assert nothing["sold_quantity"] == 0
    assert await units(market, seller, batch["id"]) == (70, 0)
    assert await units(market, buyer, batch["id"]) == (30, 0)
    assert await funds(market, buyer) == ("8468.47", "0.00")  # 10000 - 1530.00 - 1.53


async def test_approval_products_settle_into_pending_approval(market: Market) -> None:
    registry, regulator = market.registry, market.registry.regulator
    symbol = (await market.instrument(product_type="WATER_RIGHT"))["symbol"]  # 10 / 20 bps
    seller = await registry.trader("collective")
    batch = await registry.current_batch(seller, 100, "WATER_RIGHT")
    buyer = await market.buyer("10000.00")
    loser = await market.buyer("10000.00")
    ends_at = at(1.0)
    auction = await open_auction(seller, symbol, 50, "40.00", ends_at)
    await bid(buyer, auction["id"], "60.00", 50)
    await bid(loser, auction["id"], "45.00", 50)
    await until(ends_at)
    closed = expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 200)
    assert closed["clearing_price"] == "60.00"
    (allocation,) = closed["allocations"]
    trade = await trade_of(buyer, allocation["trade_id"])
    assert trade["settlement"]["status"] == "pending_approval"
    # held for the regulator: the trade's cash (3000.00 + 3.00) reserved, the units escrowed
    assert await funds(market, buyer) == ("6997.00", "3003.00")
    assert await funds(market, loser) == ("10000.00", "0.00")
    assert await units(market, seller, batch["id"]) == (50, 50)
    approval = await pending_approval_of(regulator, trade["id"])
    expect(
        await regulator.post(
            f"/v1/oversight/approvals/{approval['id']}/reject", json={"reason": "quota"}
        ),
        200,
    )
    assert await funds(market, buyer) == ("10000.00", "0.00")
    assert await units(market, seller, batch["id"]) == (100, 0)


async def test_bad_auctions_and_bids_are_refused_and_change_nothing(market: Market) -> None:
    symbol = (await market.instrument(lot_size=10))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("100.00")
    good = {"instrument": symbol, "quantity": 50, "reserve_price": "50.00", "ends_at": at(60)}
    for body in (
        {**good, "quantity": 0},
        {**good, "quantity": "50"},
        {**good, "reserve_price": "50"},
        {**good, "reserve_price": "0.00"},
        {**good, "ends_at": at(-1)},
        {**good, "ends_at": "2030-01-01T00:00:00"},
        {**good, "ends_at": "tomorrow"},
        {**good, "batch_id": "x\x00"},
        {**good, "surprise": True},
        {k: v for k, v in good.items() if k != "ends_at"},
    ):
        expect(await seller.post("/v1/auctions", json=body), 422, "validation_error")
    expect(
        await seller.post("/v1/auctions", json={**good, "quantity": 55}), 409, "quantity_not_on_lot"
    )
    expect(
        await seller.post("/v1/auctions", json={**good, "reserve_price": "50.001"}),
        422,
        "validation_error",
    )
    expect(
        await seller.post("/v1/auctions", json={**good, "quantity": 200}), 409, "insufficient_units"
    )
    expect(await market.registry.certifier.post("/v1/auctions", json=good), 403, "forbidden")
    assert await units(market, seller, batch["id"]) == (100, 0)

    auction = await open_auction(seller, symbol, 50, "5.00", at(60))
    path = f"/v1/auctions/{auction['id']}/bids"
    for body in (
        {"price": "5", "quantity": 10},
        {"price": "0.00", "quantity": 10},
        {"price": "6.00", "quantity": 0},
        {"price": "6.00", "quantity": 60},  # more than offered
        {"price": "6.00"},
        {"price": "6.00", "quantity": 10, "party_id": buyer.id},
    ):
        expect(await buyer.post(path, json=body), 422, "validation_error")
    expect(
        await buyer.post(path, json={"price": "6.00", "quantity": 5}), 409, "quantity_not_on_lot"
    )
    expect(
        await buyer.post(path, json={"price": "20.00", "quantity": 10}), 409, "insufficient_funds"
    )
    expect(await seller.post(path, json={"price": "6.00", "quantity": 10}), 403, "forbidden")
    expect(
        await market.registry.regulator.post(path, json={"price": "6.00", "quantity": 10}),
        403,
        "forbidden",
    )
    expect(
        await buyer.post("/v1/auctions/auc_nope/bids", json={"price": "6.00", "quantity": 10}),
        404,
        "not_found",
    )
    expect(await buyer.client.get("/v1/auctions/auc_nope"), 404, "not_found")
    assert await funds(market, buyer) == ("100.00", "0.00")
    assert expect(await buyer.get(f"/v1/auctions/{auction['id']}/bids"), 200)["items"] == []


async def test_bids_racing_the_close_are_either_in_the_allocation_or_refused(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    bidders = [await market.buyer("100000.00") for _ in range(4)]
    ends_at = at(0.8)
    auction = await open_auction(seller, symbol, 100, "50.00", ends_at)
    path = f"/v1/auctions/{auction['id']}/bids"
    accepted: list[dict[str, Any]] = []
    refused = 0
    closed: dict[str, Any] | None = None

    async def keep_bidding(party: Actor, n: int) -> None:
        nonlocal refused
        for i in range(200):
            price = f"{50 + (n * 7 + i) % 10}.00"
            response = await party.post(path, json={"price": price, "quantity": 10})
            if response.status_code == 201:
                accepted.append(response.json())
            else:
                expect(response, 409, "auction_closed")
                refused += 1
                return

    async def keep_closing() -> None:
        nonlocal closed
        for _ in range(400):
            response = await seller.post(f"/v1/auctions/{auction['id']}/close")
            if response.status_code == 200:
                closed = response.json()
                return
            expect(response, 409, "auction_open")
            await asyncio.sleep(0.01)

    await asyncio.gather(keep_closing(), *(keep_bidding(p, n) for n, p in enumerate(bidders)))
    assert closed is not None and accepted and refused == len(bidders)
    bids = expect(await market.registry.regulator.get(f"/v1/auctions/{auction['id']}/bids"), 200)[
        "items"
    ]
    # every bid acknowledged took part in the close: none is left open, none got lost in between
    assert {x["id"] for x in bids} == {x["id"] for x in accepted}
    assert all(x["status"] != "open" for x in bids)
    assert sum(x["quantity"] for x in closed["allocations"]) == min(100, 10 * len(accepted))
    best = sorted(accepted, key=lambda x: -int(x["price"].replace(".", "")))
    assert closed["clearing_price"] == best[min(len(best), 10) - 1]["price"]
    for party in bidders:
        assert (await funds(market, party))[1] == "0.00"
    assert await units(market, seller, batch["id"]) == (100 - closed["sold_quantity"], 0)


async def test_idempotent_auction_bid_and_close_also_when_concurrent(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    ends_at = at(1.0)
    body = {"instrument": symbol, "quantity": 30, "reserve_price": "50.00", "ends_at": ends_at}
    headers = {**seller.headers, "Idempotency-Key": "auc-1"}
    answers = await asyncio.gather(
        *(seller.client.post("/v1/auctions", json=body, headers=headers) for _ in range(4))
    )
    created = [x for x in answers if x.status_code == 201]
    assert created and all(x.json() == created[0].json() for x in created)
    assert all(
        x.status_code == 201 or x.json()["code"] == "idempotency_key_in_use" for x in answers
    )
    again = await seller.client.post("/v1/auctions", json=body, headers=headers)
    assert again.status_code == 201 and again.json() == created[0].json()
    assert await units(market, seller, batch["id"]) == (70, 30)
    auction_id = created[0].json()["id"]

    bid_headers = {**buyer.headers, "Idempotency-Key": "bid-1"}
    path = f"/v1/auctions/{auction_id}/bids"
    answers = await asyncio.gather(
        *(
            buyer.client.post(path, json={"price": "51.00", "quantity": 10}, headers=bid_headers)
            for _ in range(4)
        )
    )
    placed = [x for x in answers if x.status_code == 201]
    assert placed and all(x.json() == placed[0].json() for x in placed)
    assert all(
        x.status_code == 201 or x.json()["code"] == "idempotency_key_in_use" for x in answers
    )
    assert await funds(market, buyer) == ("9489.49", "510.51")  # one reservation
    reused = await buyer.client.post(
        path, json={"price": "52.00", "quantity": 10}, headers=bid_headers
    )
    expect(reused, 409, "idempotency_key_reused")

    await until(ends_at)
    close_headers = {**seller.headers, "Idempotency-Key": "close-1"}
    answers = await asyncio.gather(
        *(
            seller.client.post(f"/v1/auctions/{auction_id}/close", headers=close_headers)
            for _ in range(3)
        )
    )
    done = [x for x in answers if x.status_code == 200]
    assert done and all(x.json() == done[0].json() for x in done)
    assert len(await tape(buyer, symbol)) == 1
    assert await units(market, buyer, batch["id"]) == (10, 0)


async def test_a_bidder_frozen_before_the_close_is_left_out_and_released(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    frozen, other = await market.buyer("10000.00"), await market.buyer("10000.00")
    regulator = market.registry.regulator
    ends_at = at(1.0)
    auction = await open_auction(seller, symbol, 20, "50.00", ends_at)
    await bid(frozen, auction["id"], "60.00", 20)
    await bid(other, auction["id"], "55.00", 20)
    expect(await regulator.post(f"/v1/oversight/parties/{frozen.id}/freeze"), 200)
    expect(await frozen.post(f"/v1/auctions/{auction['id']}/bids", json={"price": "61.00", "quantity": 10}),
           409, "party_frozen")  # fmt: skip
    await until(ends_at)
    closed = expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 200)
    assert [(x["party_id"], x["quantity"]) for x in closed["allocations"]] == [(other.id, 20)]
    assert closed["clearing_price"] == "55.00"
    assert await funds(market, frozen) == ("10000.00", "0.00")
    assert await units(market, other, batch["id"]) == (20, 0)


async def test_a_halted_instrument_refuses_bids_and_the_close(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    ends_at = at(1.0)
    auction = await open_auction(seller, symbol, 20, "50.00", ends_at)
    await bid(buyer, auction["id"], "50.00", 20)
    halted = await market.operator.post(
        f"/v1/instruments/{symbol}/status", json={"status": "halted"}
    )
    assert halted.status_code == 200, halted.text
    expect(await buyer.post(f"/v1/auctions/{auction['id']}/bids", json={"price": "51.00", "quantity": 10}),
           409, "instrument_halted")  # fmt: skip
    await until(ends_at)
    expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 409, "instrument_halted")
    assert await units(market, seller, batch["id"]) == (80, 20)
    reopened = await market.operator.post(
        f"/v1/instruments/{symbol}/status", json={"status": "open"}
    )
    assert reopened.status_code == 200, reopened.text
    closed = expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 200)
    assert closed["sold_quantity"] == 20


async def test_an_auction_over_two_batches_delivers_oldest_serials_first(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, first = await market.seller(100)
    second = await market.registry.batch(seller, 100)
    early, late = await market.buyer("100000.00"), await market.buyer("100000.00")
    ends_at = at(1.0)
    auction = await open_auction(seller, symbol, 150, "50.00", ends_at)
    assert await units(market, seller, first["id"]) == (0, 100)
    assert await units(market, seller, second["id"]) == (50, 50)
    await bid(early, auction["id"], "53.00", 80)
    await bid(late, auction["id"], "52.00", 100)
    await until(ends_at)
    closed = expect(await seller.post(f"/v1/auctions/{auction['id']}/close"), 200)
    assert [(x["party_id"], x["quantity"]) for x in closed["allocations"]] == [
        (early.id, 80),
        (late.id, 70),
    ]
    late_trade = await trade_of(late, closed["allocations"][1]["trade_id"])
    ranges = late_trade["settlement"]["ranges"]
    assert [(r["batch_id"], r["end"] - r["start"] + 1) for r in ranges] == [
        (first["id"], 20),
        (second["id"], 50),
    ]
    assert ranges[0]["start"] == first["serial_start"] + 80
    assert await units(market, early, first["id"]) == (80, 0)
    assert await units(market, late, first["id"]) == (20, 0)
    assert await units(market, late, second["id"]) == (50, 0)
    assert await units(market, seller, second["id"]) == (50, 0)
