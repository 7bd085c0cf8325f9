"""Block trades (大宗协议): proposal escrows, acceptance settles like a trade on the tape as a
block, the ±30 % band, decline, cancel, expiry, approval products, refusals, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Actor
from tests.api.deal_helpers import (
    at,
    expect,
    fen,
    funds,
    pending_approval_of,
    tape,
    trade_of,
    units,
    until,
    verified,
)
from tests.api.trading_helpers import Market


async def propose(seller: Actor, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return expect(await seller.post("/v1/block-trades", json=body, **kw), 201)


def block_body(
    symbol: str, buyer: Actor, quantity: int = 300, price: str = "60.00", **over: Any
) -> dict[str, Any]:
    return {
        "instrument": symbol,
        "price": price,
        "quantity": quantity,
        "buyer_id": buyer.id,
        **over,
    }


async def test_block_trade_escrows_at_proposal_and_settles_at_acceptance(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]  # reference 50.00, fees 10 / 20 bps
    seller, batch = await market.seller(1_000)
    buyer = await market.buyer("100000.00")
    stranger = await market.buyer("10.00")
    platform_before = (await market.cash(market.operator))["available"]
    # a continuous trade first: the block trade takes the next number on the same tape
    await market.order(seller, symbol, "sell", 10, "50.00")
    await market.order(buyer, symbol, "buy", 10, "50.00")

    proposal = await propose(
        seller, block_body(symbol, buyer)
    )  # 60.00: outside ±10 %, inside ±30 %
    assert proposal == {
        **proposal,
        "instrument": symbol,
        "price": "60.00",
        "quantity": 300,
        "seller_id": seller.id,
        "buyer_id": buyer.id,
        "status": "proposed",
        "trade_id": None,
    }
    assert proposal["expires_at"] > proposal["created_at"]  # 24 h by default
    assert await units(market, seller, batch["id"]) == (690, 300)
    for party in (seller, buyer):
        seen = expect(await party.get(f"/v1/block-trades/{proposal['id']}"), 200)
        assert seen["status"] == "proposed"
    expect(await stranger.get(f"/v1/block-trades/{proposal['id']}"), 404, "not_found")
    listed = expect(await buyer.get("/v1/block-trades", params={"status": "proposed"}), 200)
    assert [b["id"] for b in listed["items"]] == [proposal["id"]]
    assert expect(await stranger.get("/v1/block-trades"), 200)["items"] == []

    accepted = expect(await buyer.post(f"/v1/block-trades/{proposal['id']}/accept"), 200)
    assert accepted["status"] == "settled" and accepted["trade_id"], accepted
    trade = await trade_of(buyer, accepted["trade_id"])
    assert trade == {
        **trade,
        "seq": 2,
        "kind": "block",
        "price": "60.00",
        "quantity": 300,
        "buyer_id": buyer.id,
        "seller_id": seller.id,
        "buy_order_id": proposal["id"],
        "sell_order_id": proposal["id"],
    }
    assert trade["settlement"] == {
        **trade["settlement"],
        "status": "settled",
        "cash_amount": "18000.00",
        "buyer_fee": "18.00",
        "seller_fee": "36.00",
    }
    assert sum(r["end"] - r["start"] + 1 for r in trade["settlement"]["ranges"]) == 300
    certificate = await verified(buyer, trade["certificate_id"])
    assert certificate["payload"]["trade_kind"] == "block"
    assert (
        certificate["payload"]["price"] == "60.00" and certificate["payload"]["quantity"] == "300"
    )

    assert await units(market, seller, batch["id"]) == (690, 0)
    assert await units(market, buyer, batch["id"]) == (310, 0)
    assert await funds(market, buyer) == ("81481.50", "0.00")  # 100000 - 500.50 - 18018.00
    assert await funds(market, seller) == ("18463.00", "0.00")  # 499.00 + 17964.00
    platform_after = (await market.cash(market.operator))["available"]
    assert fen(platform_after) - fen(platform_before) == 150 + 5400

    # the tape shows it as a block between continuous trades, numbers without a gap
    await market.order(seller, symbol, "sell", 5, "50.00")
    await market.order(buyer, symbol, "buy", 5, "50.00")
    printed = await tape(stranger, symbol)
    assert [(t["seq"], t["kind"]) for t in printed] == [
        (3, "continuous"),
        (2, "block"),
        (1, "continuous"),
    ]
    instrument = expect(await stranger.get(f"/v1/instruments/{symbol}"), 200)
    assert instrument["last_price"] == "50.00"  # a block price does not move the last price

    # decided once: accept again, decline, cancel → 409, nothing moves
    for path, party in (("accept", buyer), ("decline", buyer), ("cancel", seller)):
        expect(
            await party.post(f"/v1/block-trades/{proposal['id']}/{path}"),
            409,
            "block_trade_not_open",
        )
    assert await units(market, buyer, batch["id"]) == (315, 0)


async def test_band_is_thirty_percent_inclusive(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer()
    for price in ("65.01", "34.99", "100.00"):
        expect(
            await seller.post("/v1/block-trades", json=block_body(symbol, buyer, 10, price)),
            409,
            "price_out_of_band",
        )
    assert await units(market, seller, batch["id"]) == (100, 0)
    for price in ("65.00", "35.00"):
        block = await propose(seller, block_body(symbol, buyer, 10, price))
        accepted = expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 200)
        assert (await trade_of(buyer, accepted["trade_id"]))["price"] == price
    assert await units(market, buyer, batch["id"]) == (20, 0)


async def test_buyer_without_cash_gets_insufficient_funds_and_the_proposal_stays_open(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("500.00")  # 10 × 50.00 = 500.00 + fee 0.50 > 500.00
    block = await propose(seller, block_body(symbol, buyer, 10, "50.00"))

    expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 409, "insufficient_funds")
    still = expect(await buyer.get(f"/v1/block-trades/{block['id']}"), 200)
    assert still["status"] == "proposed" and still["trade_id"] is None
    assert await funds(market, buyer) == ("500.00", "0.00")
    assert await units(market, seller, batch["id"]) == (90, 10)
    assert await tape(buyer, symbol) == []

    await market.deposit(buyer, "0.50")
    accepted = expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 200)
    assert accepted["status"] == "settled"
    assert await funds(market, buyer) == ("0.00", "0.00")
    assert [t["seq"] for t in await tape(buyer, symbol)] == [1]


async def test_decline_and_cancel_release_the_units_and_only_the_named_party_may(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer()
    stranger = await market.buyer()
    first = await propose(seller, block_body(symbol, buyer, 30, "55.00"))
    second = await propose(seller, block_body(symbol, buyer, 20, "45.00"))
    assert await units(market, seller, batch["id"]) == (50, 50)

    expect(await seller.post(f"/v1/block-trades/{first['id']}/accept"), 403, "forbidden")
    expect(await seller.post(f"/v1/block-trades/{first['id']}/decline"), 403, "forbidden")
    expect(await buyer.post(f"/v1/block-trades/{first['id']}/cancel"), 403, "forbidden")
    expect(
        await market.registry.regulator.post(f"/v1/block-trades/{first['id']}/accept"),
        403,
        "forbidden",
    )
    for path in ("accept", "decline", "cancel"):
        expect(await stranger.post(f"/v1/block-trades/{first['id']}/{path}"), 404, "not_found")
    assert await units(market, seller, batch["id"]) == (50, 50)

    declined = expect(await buyer.post(f"/v1/block-trades/{first['id']}/decline"), 200)
    assert declined["status"] == "declined" and declined["decided_at"]
    assert await units(market, seller, batch["id"]) == (80, 20)
    cancelled = expect(await seller.post(f"/v1/block-trades/{second['id']}/cancel"), 200)
    assert cancelled["status"] == "cancelled"
    assert await units(market, seller, batch["id"]) == (100, 0)
    expect(await buyer.post(f"/v1/block-trades/{second['id']}/accept"), 409, "block_trade_not_open")
    regulator_view = expect(await market.registry.regulator.get("/v1/block-trades"), 200)
    assert {b["id"] for b in regulator_view["items"]} >= {first["id"], second["id"]}
    assert await tape(buyer, symbol) == []


async def test_a_proposal_expires_and_its_units_return(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer()
    expires_at = at(1.0)
    block = await propose(seller, block_body(symbol, buyer, 40, "50.00", expires_at=expires_at))
    assert await units(market, seller, batch["id"]) == (60, 40)
    await until(expires_at)
    # expired: acceptance is refused even before the timer released the units
    expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 409, "block_trade_not_open")
    for _ in range(50):  # the background timer runs every 0.5 s
        seen = expect(await buyer.get(f"/v1/block-trades/{block['id']}"), 200)
        if seen["status"] == "expired":
            break
        await asyncio.sleep(0.1)
    assert seen["status"] == "expired", seen
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert await funds(market, buyer) == ("100000.00", "0.00")


async def test_approval_products_settle_into_pending_approval(market: Market) -> None:
    registry, regulator = market.registry, market.registry.regulator
    symbol = (await market.instrument(product_type="WATER_RIGHT"))["symbol"]  # 10 / 20 bps
    seller = await registry.trader("collective")
    batch = await registry.current_batch(seller, 100, "WATER_RIGHT")
    buyer = await market.buyer("10000.00")
    block = await propose(seller, block_body(symbol, buyer, 40, "50.00"))

    accepted = expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 200)
    assert accepted["status"] == "pending_approval"
    trade = await trade_of(seller, accepted["trade_id"])
    assert trade["kind"] == "block" and trade["settlement"]["status"] == "pending_approval"
    # the units wait in the seller's escrow (held by the trade); the cash stays reserved
    assert await units(market, seller, batch["id"]) == (60, 40)
    assert await funds(market, buyer) == ("7998.00", "2002.00")
    approval = await pending_approval_of(regulator, trade["id"])
    assert approval["quantity"] == 40 and approval["kind"] == "trade"

    expect(await regulator.post(f"/v1/oversight/approvals/{approval['id']}/approve"), 200)
    assert expect(await buyer.get(f"/v1/block-trades/{block['id']}"), 200)["status"] == "settled"
    assert await units(market, buyer, batch["id"]) == (40, 0)
    assert await funds(market, buyer) == ("7998.00", "0.00")
    assert await funds(market, seller) == ("1996.00", "0.00")


async def test_bad_proposals_are_refused_and_change_nothing(market: Market) -> None:
    symbol = (await market.instrument(lot_size=10, tick_size="0.05", reference_price="50.00"))[
        "symbol"
    ]
    seller, batch = await market.seller(100)
    buyer = await market.buyer()
    registrar = market.registry.registrar
    good = block_body(symbol, buyer, 10, "50.00")
    invalid: list[dict[str, Any]] = [
        {**good, "price": "50"},
        {**good, "price": "0.00"},
        {**good, "price": 50},
        {**good, "quantity": 0},
        {**good, "quantity": 1.5},
        {**good, "quantity": "10"},
        {**good, "buyer_id": "a\x00b"},
        {**good, "extra": 1},
        {**good, "expires_at": "2020-01-01T00:00:00Z"},
        {**good, "expires_at": "2030-01-01T00:00:00"},
        {**good, "buyer_id": seller.id},
        {k: v for k, v in good.items() if k != "buyer_id"},
        {**good, "instrument": "lower-case"},
    ]
    for body in invalid:
        expect(await seller.post("/v1/block-trades", json=body), 422, "validation_error")
    for buyer_id in (registrar.id, "pty_unknown"):  # no trading party of that id: as transfers
        expect(
            await seller.post("/v1/block-trades", json={**good, "buyer_id": buyer_id}),
            404,
            "unknown_party",
        )
    conflicts = [
        ({**good, "price": "50.02"}, "price_not_on_tick"),
        ({**good, "quantity": 15}, "quantity_not_on_lot"),
        ({**good, "quantity": 110}, "insufficient_units"),
        ({**good, "batch_id": "bat_unknown"}, "batch_not_eligible"),
    ]
    for body, code in conflicts:
        expect(await seller.post("/v1/block-trades", json=body), 409, code)
    expect(
        await seller.post("/v1/block-trades", json={**good, "instrument": "NOPE"}), 404, "not_found"
    )
    expect(await registrar.post("/v1/block-trades", json=good), 403, "forbidden")
    halted = await market.operator.post(
        f"/v1/instruments/{symbol}/status", json={"status": "halted"}
    )
    assert halted.status_code == 200, halted.text
    expect(await seller.post("/v1/block-trades", json=good), 409, "instrument_halted")
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert expect(await seller.get("/v1/block-trades"), 200)["items"] == []


async def test_a_frozen_buyer_cannot_accept(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer()
    block = await propose(seller, block_body(symbol, buyer, 10, "50.00"))
    regulator = market.registry.regulator
    expect(await regulator.post(f"/v1/oversight/parties/{buyer.id}/freeze"), 200)
    expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 409, "party_frozen")
    expect(await regulator.post(f"/v1/oversight/parties/{buyer.id}/unfreeze"), 200)
    expect(await regulator.post(f"/v1/oversight/parties/{seller.id}/freeze"), 200)
    expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 409, "party_frozen")
    assert await units(market, seller, batch["id"]) == (90, 10)


async def test_idempotent_proposal_and_acceptance_also_when_concurrent(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer()
    body = block_body(symbol, buyer, 10, "50.00")
    headers = {**seller.headers, "Idempotency-Key": "blk-1"}
    first = await seller.client.post("/v1/block-trades", json=body, headers=headers)
    again = await seller.client.post("/v1/block-trades", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    reused = await seller.client.post(
        "/v1/block-trades", json={**body, "quantity": 20}, headers=headers
    )
    expect(reused, 409, "idempotency_key_reused")
    assert await units(market, seller, batch["id"]) == (90, 10)

    concurrent = {**seller.headers, "Idempotency-Key": "blk-2"}
    answers = await asyncio.gather(
        *(seller.client.post("/v1/block-trades", json=body, headers=concurrent) for _ in range(5))
    )
    created = [a for a in answers if a.status_code == 201]
    assert created and all(a.json() == created[0].json() for a in created)
    assert all(
        a.status_code == 201 or a.json()["code"] == "idempotency_key_in_use" for a in answers
    )
    assert await units(market, seller, batch["id"]) == (80, 20)

    accept_headers = {**buyer.headers, "Idempotency-Key": "accept-1"}
    path = f"/v1/block-trades/{first.json()['id']}/accept"
    answers = await asyncio.gather(
        *(buyer.client.post(path, headers=accept_headers) for _ in range(4))
    )
    accepted = [a for a in answers if a.status_code == 200]
    assert accepted and all(a.json() == accepted[0].json() for a in accepted)
    assert all(
        a.status_code == 200 or a.json()["code"] == "idempotency_key_in_use" for a in answers
    )
    assert len(await tape(buyer, symbol)) == 1
    assert await units(market, buyer, batch["id"]) == (10, 0)


async def test_a_named_batch_is_the_one_escrowed_and_delivered(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, first = await market.seller(100)
    second = await market.registry.batch(seller, 100)
    buyer = await market.buyer()
    block = await propose(seller, block_body(symbol, buyer, 30, "50.00", batch_id=second["id"]))
    assert block["batch_id"] == second["id"]
    assert await units(market, seller, first["id"]) == (100, 0)
    assert await units(market, seller, second["id"]) == (70, 30)
    expect(await seller.post("/v1/block-trades", json=block_body(symbol, buyer, 80, "50.00", batch_id=second["id"])),
           409, "insufficient_units")  # fmt: skip
    accepted = expect(await buyer.post(f"/v1/block-trades/{block['id']}/accept"), 200)
    ranges = (await trade_of(buyer, accepted["trade_id"]))["settlement"]["ranges"]
    assert ranges == [
        {
            "batch_id": second["id"],
            "start": second["serial_start"],
            "end": second["serial_start"] + 29,
        }
    ]
    assert await units(market, buyer, second["id"]) == (30, 0)
