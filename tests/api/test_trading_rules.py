"""Trading rules over HTTP: every rejection reason, roles, malformed orders, STP, FOK/IOC,
price-time priority, GTD expiry, approval products and the regulator's view.

Every rejection is a recorded order (201, `status: "rejected"`) and must leave nothing behind:
the buyer's reserved cash and the seller's escrowed units are exactly what they were before.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.api.conftest import Actor
from tests.api.trading_helpers import Market, order_body


def fen(amount: str) -> int:
    whole, frac = amount.split(".")
    return int(whole) * 100 + int(frac)


def money(fen_amount: int) -> str:
    return f"{fen_amount // 100}.{fen_amount % 100:02d}"


async def place(
    party: Actor, symbol: str, side: str, quantity: int, price: str | None = None, **over: Any
) -> dict[str, Any]:
    """POST an order that must be recorded (201) and return it."""
    response = await party.post(
        "/v1/orders", json=order_body(symbol, side, quantity, price, **over)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def funds(market: Market, party: Actor) -> tuple[str, str]:
    cash = await market.cash(party)
    return cash["available"], cash["reserved"]


async def units(market: Market, party: Actor, batch_id: str) -> tuple[int, int]:
    held = await market.holding(party, batch_id)
    return held["available"], held["escrowed"]


async def assert_rejected(party: Actor, order: dict[str, Any], reason: str) -> None:
    assert order["status"] == "rejected", order
    assert order["reject_reason"] == reason, order
    assert order["filled_quantity"] == 0 and order["remaining_quantity"] == 0
    assert order["fills"] == []
    stored = await party.get(f"/v1/orders/{order['id']}")
    assert stored.status_code == 200, stored.text
    assert stored.json()["status"] == "rejected"
    assert stored.json()["reject_reason"] == reason
    assert stored.json()["id"] == order["id"]


async def get_order(party: Actor, order_id: str) -> dict[str, Any]:
    response = await party.get(f"/v1/orders/{order_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def book(client: Any, symbol: str) -> dict[str, Any]:
    response = await client.get(f"/v1/instruments/{symbol}/book")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def set_status(actor: Actor, symbol: str, status: str) -> httpx.Response:
    return await actor.post(f"/v1/instruments/{symbol}/status", json={"status": status})


async def my_trades(party: Actor) -> list[dict[str, Any]]:
    response = await party.get("/v1/trades", params={"limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# --- every rejection reason is a recorded order -----------------------------------------------


async def test_buy_beyond_cash_is_rejected_insufficient_funds(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    buyer = await market.buyer("100.00")
    before = await funds(market, buyer)
    order = await place(buyer, symbol, "buy", 2, "50.00")  # 100.00 + 0.10 fee > 100.00
    await assert_rejected(buyer, order, "insufficient_funds")
    assert await funds(market, buyer) == before == ("100.00", "0.00")
    assert (await book(buyer.client, symbol))["bids"] == []


async def test_sell_beyond_holdings_is_rejected_insufficient_units(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    order = await place(seller, symbol, "sell", 101, "50.00")
    await assert_rejected(seller, order, "insufficient_units")
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert (await book(seller.client, symbol))["asks"] == []


async def test_price_off_the_tick_is_rejected(market: Market) -> None:
    symbol = (await market.instrument(tick_size="0.05"))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    sell = await place(seller, symbol, "sell", 10, "50.01")
    await assert_rejected(seller, sell, "price_not_on_tick")
    buy = await place(buyer, symbol, "buy", 10, "49.99")
    await assert_rejected(buyer, buy, "price_not_on_tick")
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert await funds(market, buyer) == ("10000.00", "0.00")
    on_tick = await place(seller, symbol, "sell", 10, "50.05")
    assert on_tick["status"] == "open"
    assert await units(market, seller, batch["id"]) == (90, 10)


async def test_quantity_off_the_lot_is_rejected(market: Market) -> None:
    symbol = (await market.instrument(lot_size=10))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    sell = await place(seller, symbol, "sell", 15, "50.00")
    await assert_rejected(seller, sell, "quantity_not_on_lot")
    buy = await place(buyer, symbol, "buy", 15, "50.00")
    await assert_rejected(buyer, buy, "quantity_not_on_lot")
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert await funds(market, buyer) == ("10000.00", "0.00")
    whole_lots = await place(seller, symbol, "sell", 20, "50.00")
    assert whole_lots["status"] == "open"
    assert await units(market, seller, batch["id"]) == (80, 20)


async def test_price_outside_the_band_is_rejected(market: Market) -> None:
    # reference 50.00, ±10 % → [45.00, 55.00] inclusive
    instrument = await market.instrument(
        reference_price="50.00", price_band_pct="10", buyer_fee_bps=0, seller_fee_bps=0
    )
    symbol = instrument["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    for price in ("55.01", "44.99"):
        await assert_rejected(
            seller, await place(seller, symbol, "sell", 10, price), "price_out_of_band"
        )
        await assert_rejected(
            buyer, await place(buyer, symbol, "buy", 10, price), "price_out_of_band"
        )
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert await funds(market, buyer) == ("10000.00", "0.00")

    top = await place(seller, symbol, "sell", 10, "55.00")
    bottom = await place(buyer, symbol, "buy", 10, "45.00")
    assert top["status"] == "open" and bottom["status"] == "open"
    assert await units(market, seller, batch["id"]) == (90, 10)
    assert await funds(market, buyer) == ("9550.00", "450.00")


async def test_halted_instrument_refuses_new_orders_keeps_resting_and_allows_cancel(
    market: Market,
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    resting = await place(seller, symbol, "sell", 10, "50.00")
    assert resting["status"] == "open"

    halted = await set_status(market.operator, symbol, "halted")
    assert halted.status_code == 200 and halted.json()["status"] == "halted", halted.text

    buy = await place(buyer, symbol, "buy", 10, "50.00")
    await assert_rejected(buyer, buy, "instrument_halted")
    assert await funds(market, buyer) == ("10000.00", "0.00")
    sell = await place(seller, symbol, "sell", 5, "50.00")
    await assert_rejected(seller, sell, "instrument_halted")
    assert await units(market, seller, batch["id"]) == (90, 10)

    # the resting order stays on the book while halted
    assert (await get_order(seller, resting["id"]))["status"] == "open"
    assert (await book(seller.client, symbol))["asks"] == [
        {"price": "50.00", "quantity": 10, "orders": 1}
    ]
    cancelled = await seller.delete(f"/v1/orders/{resting['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert (await book(seller.client, symbol))["asks"] == []

    reopened = await set_status(market.operator, symbol, "open")
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert (await place(seller, symbol, "sell", 5, "50.00"))["status"] == "open"


async def test_closed_instrument_rejects_orders(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    closed = await set_status(market.operator, symbol, "closed")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    await assert_rejected(
        seller, await place(seller, symbol, "sell", 10, "50.00"), "instrument_closed"
    )
    await assert_rejected(
        buyer, await place(buyer, symbol, "buy", 10, "50.00"), "instrument_closed"
    )
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert await funds(market, buyer) == ("10000.00", "0.00")


async def test_frozen_party_orders_are_rejected(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    regulator = market.registry.regulator
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    for party in (seller, buyer):
        frozen = await regulator.post(f"/v1/oversight/parties/{party.id}/freeze")
        assert frozen.status_code == 200 and frozen.json()["status"] == "frozen", frozen.text

    await assert_rejected(seller, await place(seller, symbol, "sell", 10, "50.00"), "party_frozen")
    await assert_rejected(buyer, await place(buyer, symbol, "buy", 10, "50.00"), "party_frozen")
    assert await units(market, seller, batch["id"]) == (100, 0)
    assert await funds(market, buyer) == ("10000.00", "0.00")

    for party in (seller, buyer):
        thawed = await regulator.post(f"/v1/oversight/parties/{party.id}/unfreeze")
        assert thawed.status_code == 200 and thawed.json()["status"] == "active"
    assert (await place(seller, symbol, "sell", 10, "50.00"))["status"] == "open"


async def test_batch_outside_eligibility(market: Market) -> None:
    symbol = (await market.instrument(eligibility={"vintage_from": 2026}))["symbol"]
    seller, batch = await market.seller(100)  # vintage 2025
    named = await place(seller, symbol, "sell", 10, "50.00", batch_id=batch["id"])
    await assert_rejected(seller, named, "batch_not_eligible")
    unnamed = await place(seller, symbol, "sell", 10, "50.00")
    await assert_rejected(seller, unnamed, "insufficient_units")
    assert await units(market, seller, batch["id"]) == (100, 0)


async def test_batch_ids_eligibility(market: Market) -> None:
    seller, listed = await market.seller(100)
    other = await market.registry.batch(seller, 100)
    symbol = (await market.instrument(eligibility={"batch_ids": [listed["id"]]}))["symbol"]
    refused = await place(seller, symbol, "sell", 10, "50.00", batch_id=other["id"])
    await assert_rejected(seller, refused, "batch_not_eligible")
    assert await units(market, seller, other["id"]) == (100, 0)
    accepted = await place(seller, symbol, "sell", 150, "50.00")
    await assert_rejected(seller, accepted, "insufficient_units")  # only 100 are deliverable
    named = await place(seller, symbol, "sell", 10, "50.00", batch_id=listed["id"])
    assert named["status"] == "open" and named["batch_id"] == listed["id"]
    assert await units(market, seller, listed["id"]) == (90, 10)
    assert await units(market, seller, other["id"]) == (100, 0)


# --- who may do what --------------------------------------------------------------------------


async def test_roles_on_instruments_and_orders(market: Market) -> None:
    registry = market.registry
    regulator, operator = registry.regulator, market.operator
    symbol = (await market.instrument())["symbol"]

    halted = await set_status(regulator, symbol, "halted")
    assert halted.status_code == 200 and halted.json()["status"] == "halted", halted.text
    for status in ("open", "closed"):
        refused = await set_status(regulator, symbol, status)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden", refused.text
    assert (await operator.client.get(f"/v1/instruments/{symbol}")).json()["status"] == "halted"
    assert (await set_status(operator, symbol, "open")).status_code == 200

    collective = await registry.trader("collective")
    created = await collective.post(
        "/v1/instruments",
        json={"symbol": "NOPE" + secrets.token_hex(2).upper(), "product_type": "CARBON_SINK",
              "reference_price": "50.00"},
    )  # fmt: skip
    assert created.status_code == 403 and created.json()["code"] == "forbidden", created.text
    assert (await set_status(collective, symbol, "halted")).status_code == 403

    for kind in ("registrar", "regulator", "operator"):
        actor = registry.registrar if kind == "registrar" else regulator
        actor = operator if kind == "operator" else actor
        refused = await actor.post("/v1/orders", json=order_body(symbol, "buy", 1, "50.00"))
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden", kind

    seller, _ = await market.seller(100)
    buyer = await market.buyer("10000.00")
    stranger = await market.buyer("10.00")
    ask = await place(seller, symbol, "sell", 10, "50.00")
    assert (await stranger.get(f"/v1/orders/{ask['id']}")).status_code == 404
    hidden = await stranger.delete(f"/v1/orders/{ask['id']}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert (await get_order(seller, ask["id"]))["status"] == "open"
    seen = await regulator.get(f"/v1/orders/{ask['id']}")
    assert seen.status_code == 200 and seen.json()["id"] == ask["id"]
    assert (await regulator.delete(f"/v1/orders/{ask['id']}")).status_code in (403, 404)

    bid = await place(buyer, symbol, "buy", 10, "50.00")
    assert bid["status"] == "filled"
    for party, order_id in ((buyer, bid["id"]), (seller, ask["id"])):
        refused = await party.delete(f"/v1/orders/{order_id}")
        assert refused.status_code == 409 and refused.json()["code"] == "order_not_open"

    second = await place(seller, symbol, "sell", 5, "51.00")
    assert (await seller.delete(f"/v1/orders/{second['id']}")).status_code == 200
    again = await seller.delete(f"/v1/orders/{second['id']}")
    assert again.status_code == 409 and again.json()["code"] == "order_not_open"
    rejected = await place(buyer, symbol, "buy", 1, "99.00")
    assert rejected["status"] == "rejected"
    refused = await buyer.delete(f"/v1/orders/{rejected['id']}")
    assert refused.status_code == 409 and refused.json()["code"] == "order_not_open"


# --- malformed orders -------------------------------------------------------------------------


def _later(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("limit without price", {"type": "limit"}),
    ("market with price", {"type": "market", "price": "50.00"}),
    ("GTD without expires_at", {"price": "50.00", "time_in_force": "GTD"}),
    ("expires_at on GTC", {"price": "50.00", "time_in_force": "GTC", "expires_at": "LATER"}),
    ("expires_at without offset", {"price": "50.00", "time_in_force": "GTD",
                                   "expires_at": "2099-01-01T00:00:00"}),
    ("three decimals", {"price": "50.001"}),
    ("float price", {"price": 50.0}),
    ("zero quantity", {"price": "50.00", "quantity": 0}),
    ("negative quantity", {"price": "50.00", "quantity": -5}),
    ("string quantity", {"price": "50.00", "quantity": "10"}),
    ("fractional quantity", {"price": "50.00", "quantity": 10.5}),
    ("unknown side", {"price": "50.00", "side": "hold"}),
    ("unknown time in force", {"price": "50.00", "time_in_force": "DAY"}),
    ("unknown stp", {"price": "50.00", "stp": "cancel_all"}),
    ("missing client_order_id", {"price": "50.00", "client_order_id": None}),
]  # fmt: skip


async def test_malformed_orders_are_422(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    for name, over in MALFORMED:
        body = order_body(symbol, "sell", 10)
        body.pop("price", None)
        body["type"] = "limit"
        body.update(over)
        if body.get("expires_at") == "LATER":
            body["expires_at"] = _later()
        if body.get("client_order_id") is None:
            body.pop("client_order_id")
        response = await seller.post("/v1/orders", json=body)
        assert response.status_code == 422, (name, response.text)
        problem = response.json()
        assert problem["code"] == "validation_error", (name, problem)
        assert problem["status"] == 422 and problem.get("errors"), (name, problem)
    assert (await seller.get("/v1/orders")).json()["items"] == []
    assert await units(market, seller, batch["id"]) == (100, 0)


async def test_an_order_expiring_in_the_past_is_409_and_changes_nothing(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    body = order_body(symbol, "sell", 10, "50.00", time_in_force="GTD",
                      expires_at="2020-01-01T00:00:00+00:00")  # fmt: skip
    response = await seller.post("/v1/orders", json=body)
    assert (response.status_code, response.json()["code"]) == (409, "expires_at_passed")
    assert (await seller.get("/v1/orders")).json()["items"] == []
    assert await units(market, seller, batch["id"]) == (100, 0)


async def test_unknown_instrument_is_404(market: Market) -> None:
    seller, batch = await market.seller(100)
    response = await seller.post(
        "/v1/orders", json=order_body("NOSUCH" + secrets.token_hex(3).upper(), "sell", 1, "50.00")
    )
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    assert (await seller.get("/v1/orders")).json()["items"] == []
    assert await units(market, seller, batch["id"]) == (100, 0)


# --- self-trade prevention --------------------------------------------------------------------


async def trader_with_both(market: Market) -> tuple[Actor, dict[str, Any]]:
    party, batch = await market.seller(100)
    await market.deposit(party, "10000.00")
    return party, batch


async def assert_no_self_trades(party: Actor) -> list[dict[str, Any]]:
    trades = await my_trades(party)
    assert all(t["buyer_id"] != t["seller_id"] for t in trades), trades
    return trades


async def test_stp_cancel_newest_cancels_the_incoming_order(market: Market) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    party, batch = await trader_with_both(market)
    ask = await place(party, symbol, "sell", 10, "50.00")
    bid = await place(party, symbol, "buy", 10, "50.00")
    assert bid["status"] == "cancelled" and bid["reject_reason"] == "self_trade_prevented"
    assert bid["filled_quantity"] == 0 and bid["stp"] == "cancel_newest"
    resting = await get_order(party, ask["id"])
    assert resting["status"] == "open" and resting["remaining_quantity"] == 10
    assert await funds(market, party) == ("10000.00", "0.00")
    assert await units(market, party, batch["id"]) == (90, 10)
    assert await assert_no_self_trades(party) == []
    snapshot = await book(party.client, symbol)
    assert snapshot["bids"] == [] and snapshot["asks"][0]["quantity"] == 10


async def test_stp_cancel_oldest_cancels_the_resting_order_and_matches_on(
    market: Market,
) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    party, batch = await trader_with_both(market)
    other, other_batch = await market.seller(100)
    own_ask = await place(party, symbol, "sell", 10, "50.00")
    other_ask = await place(other, symbol, "sell", 10, "50.00")
    bid = await place(party, symbol, "buy", 15, "50.00", stp="cancel_oldest")
    assert bid["status"] == "partially_filled", bid
    assert (bid["filled_quantity"], bid["remaining_quantity"]) == (10, 5)
    cancelled = await get_order(party, own_ask["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["reject_reason"] == "self_trade_prevented"
    assert (await get_order(other, other_ask["id"]))["status"] == "filled"

    trades = await assert_no_self_trades(party)
    assert [(t["buyer_id"], t["seller_id"], t["quantity"]) for t in trades] == [
        (party.id, other.id, 10)
    ]
    # 5 × 50.00 still reserved for the resting remainder; the own ask's units are back
    assert await funds(market, party) == ("9250.00", "250.00")
    assert await units(market, party, batch["id"]) == (100, 0)
    assert await units(market, party, other_batch["id"]) == (10, 0)
    snapshot = await book(party.client, symbol)
    assert snapshot["asks"] == [] and snapshot["bids"] == [
        {"price": "50.00", "quantity": 5, "orders": 1}
    ]
    assert (await party.delete(f"/v1/orders/{bid['id']}")).status_code == 200
    assert await funds(market, party) == ("9500.00", "0.00")


async def test_stp_cancel_both_cancels_both_orders(market: Market) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    party, batch = await trader_with_both(market)
    ask = await place(party, symbol, "sell", 10, "50.00")
    bid = await place(party, symbol, "buy", 10, "50.00", stp="cancel_both")
    assert bid["status"] == "cancelled" and bid["reject_reason"] == "self_trade_prevented"
    resting = await get_order(party, ask["id"])
    assert resting["status"] == "cancelled" and resting["reject_reason"] == "self_trade_prevented"
    assert await funds(market, party) == ("10000.00", "0.00")
    assert await units(market, party, batch["id"]) == (100, 0)
    assert await assert_no_self_trades(party) == []
    snapshot = await book(party.client, symbol)
    assert snapshot["asks"] == [] and snapshot["bids"] == []


# --- FOK and IOC ------------------------------------------------------------------------------


async def test_fok_fills_entirely_or_not_at_all(market: Market) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    ask = await place(seller, symbol, "sell", 10, "50.00")

    too_big = await place(buyer, symbol, "buy", 11, "50.00", time_in_force="FOK")
    await assert_rejected(buyer, too_big, "fok_not_fillable")
    assert await funds(market, buyer) == ("10000.00", "0.00")
    assert await my_trades(buyer) == []
    assert (await get_order(seller, ask["id"]))["remaining_quantity"] == 10

    exact = await place(buyer, symbol, "buy", 10, "50.00", time_in_force="FOK")
    assert exact["status"] == "filled" and exact["filled_quantity"] == 10
    assert await funds(market, buyer) == ("9500.00", "0.00")
    assert await units(market, buyer, batch["id"]) == (10, 0)


async def test_ioc_fills_what_it_can_and_cancels_the_rest(market: Market) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    await place(seller, symbol, "sell", 10, "50.00")
    ioc = await place(buyer, symbol, "buy", 15, "50.00", time_in_force="IOC")
    assert ioc["status"] == "cancelled", ioc
    assert (ioc["filled_quantity"], ioc["remaining_quantity"]) == (10, 0)
    assert ioc["reject_reason"] is None
    assert [(f["price"], f["quantity"]) for f in ioc["fills"]] == [("50.00", 10)]
    assert await funds(market, buyer) == ("9500.00", "0.00")
    assert await units(market, buyer, batch["id"]) == (10, 0)
    assert (await book(buyer.client, symbol))["bids"] == []


# --- price-time priority ----------------------------------------------------------------------


async def test_price_time_priority_across_parties(market: Market) -> None:
    symbol = (await market.instrument())["symbol"]  # buyer 10 bps, seller 20 bps
    first, _ = await market.seller(100)
    second, _ = await market.seller(100)
    better, _ = await market.seller(100)
    buyer = await market.buyer("100000.00")
    first_ask = await place(first, symbol, "sell", 10, "50.00")
    second_ask = await place(second, symbol, "sell", 10, "50.00")
    better_ask = await place(better, symbol, "sell", 10, "49.00")  # later but better

    bid = await place(buyer, symbol, "buy", 15, "50.00")
    assert bid["status"] == "filled"
    assert [(f["price"], f["quantity"]) for f in bid["fills"]] == [("49.00", 10), ("50.00", 5)]
    assert bid["average_price"] in ("49.33", "49.34")
    assert (await get_order(better, better_ask["id"]))["status"] == "filled"
    earlier = await get_order(first, first_ask["id"])
    assert (earlier["status"], earlier["remaining_quantity"]) == ("partially_filled", 5)
    later = await get_order(second, second_ask["id"])
    assert (later["status"], later["remaining_quantity"]) == ("open", 10)

    trades = await my_trades(buyer)
    assert [(t["seller_id"], t["price"], t["quantity"]) for t in trades] == [
        (better.id, "49.00", 10),
        (first.id, "50.00", 5),
    ]
    assert trades[1]["seq"] == trades[0]["seq"] + 1
    # fees per fill, rounded down: 49000 × 10 bps = 49, 25000 × 10 bps = 25
    assert await funds(market, buyer) == (money(10_000_000 - 49_000 - 25_000 - 49 - 25), "0.00")
    assert (await market.cash(better))["available"] == money(49_000 - 98)
    assert (await market.cash(first))["available"] == money(25_000 - 50)
    assert (await market.cash(second))["available"] == "0.00"

    # a sell that crosses a resting bid trades at the bid's (resting) price
    assert (await place(buyer, symbol, "buy", 5, "49.50"))["status"] == "open"
    hit = await place(second, symbol, "sell", 5, "49.00")
    assert [(f["price"], f["quantity"]) for f in hit["fills"]] == [("49.50", 5)]


# --- GTD --------------------------------------------------------------------------------------


async def test_gtd_order_expires_and_releases_its_units(market: Market) -> None:
    symbol = (await market.instrument(buyer_fee_bps=0, seller_fee_bps=0))["symbol"]
    seller, batch = await market.seller(100)
    buyer = await market.buyer("10000.00")
    expires_at = (datetime.now(UTC) + timedelta(seconds=1.5)).astimezone(
        timezone(timedelta(hours=8))  # RFC 3339 with a non-UTC offset
    )
    ask = await place(
        seller, symbol, "sell", 10, "50.00", time_in_force="GTD", expires_at=expires_at.isoformat()
    )
    assert ask["status"] == "open" and ask["time_in_force"] == "GTD"
    assert await units(market, seller, batch["id"]) == (90, 10)

    deadline = asyncio.get_running_loop().time() + 6
    status = ask["status"]
    while status != "expired" and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
        status = (await get_order(seller, ask["id"]))["status"]
    assert status == "expired"
    expired = await get_order(seller, ask["id"])
    assert expired["remaining_quantity"] == 0 and expired["filled_quantity"] == 0
    assert await units(market, seller, batch["id"]) == (100, 0)

    bid = await place(buyer, symbol, "buy", 10, "50.00")
    assert bid["status"] == "open" and bid["filled_quantity"] == 0
    assert await my_trades(buyer) == []
    assert (await book(buyer.client, symbol))["asks"] == []
    assert (await buyer.delete(f"/v1/orders/{bid['id']}")).status_code == 200
    assert await funds(market, buyer) == ("10000.00", "0.00")


# --- approval products ------------------------------------------------------------------------


async def pending_approval_of(regulator: Actor, trade_id: str) -> dict[str, Any]:
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"status": "pending", "limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await regulator.get("/v1/oversight/approvals", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        for item in page["items"]:
            if item["subject_id"] == trade_id:
                return dict(item)
        cursor = page["next_cursor"]
        assert cursor, f"no pending approval for {trade_id}"


async def test_approval_product_trades_wait_for_the_regulator(market: Market) -> None:
    registry, regulator = market.registry, market.registry.regulator
    symbol = (await market.instrument(product_type="WATER_RIGHT"))["symbol"]  # 10 / 20 bps
    seller = await registry.trader("collective")
    batch = await registry.current_batch(seller, 100, "WATER_RIGHT")
    buyer = await market.buyer("100000.00")
    platform_before = fen((await market.cash(market.operator))["available"])

    ask = await place(seller, symbol, "sell", 30, "50.00")
    first = await place(buyer, symbol, "buy", 10, "50.00")
    second = await place(buyer, symbol, "buy", 20, "50.00")
    assert first["status"] == second["status"] == "filled"
    assert (await get_order(seller, ask["id"]))["status"] == "filled"
    trade_1, trade_2 = first["fills"][0]["trade_id"], second["fills"][0]["trade_id"]

    for trade_id in (trade_1, trade_2):
        trade = (await buyer.get(f"/v1/trades/{trade_id}")).json()
        assert trade["settlement"]["status"] == "pending_approval", trade
    # notional 500.00 + fee 0.50, and 1000.00 + 1.00 stay reserved; the units stay escrowed
    assert await funds(market, buyer) == (money(10_000_000 - 150_150), money(150_150))
    assert await units(market, seller, batch["id"]) == (70, 30)
    assert await units(market, buyer, batch["id"]) == (0, 0)
    assert await funds(market, seller) == ("0.00", "0.00")

    approval_1 = await pending_approval_of(regulator, trade_1)
    approval_2 = await pending_approval_of(regulator, trade_2)
    assert approval_1 == {
        **approval_1,
        "kind": "trade",
        "product_type": "WATER_RIGHT",
        "quantity": 10,
        "from_party_id": seller.id,
        "to_party_id": buyer.id,
        "status": "pending",
    }
    assert approval_2["quantity"] == 20
    refused = await buyer.post(f"/v1/oversight/approvals/{approval_1['id']}/approve")
    assert refused.status_code == 403

    approved = await regulator.post(f"/v1/oversight/approvals/{approval_1['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    settled = (await buyer.get(f"/v1/trades/{trade_1}")).json()
    assert settled["settlement"]["status"] == "settled"
    assert settled["settlement"]["buyer_fee"] == "0.50"
    assert settled["settlement"]["seller_fee"] == "1.00"
    assert await units(market, buyer, batch["id"]) == (10, 0)
    assert await units(market, seller, batch["id"]) == (70, 20)
    assert await funds(market, seller) == (money(50_000 - 100), "0.00")
    assert await funds(market, buyer) == (money(10_000_000 - 150_150), money(100_100))
    platform_after = fen((await market.cash(market.operator))["available"])
    assert platform_after - platform_before == 50 + 100

    rejected = await regulator.post(
        f"/v1/oversight/approvals/{approval_2['id']}/reject", json={"reason": "quota"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
    reversed_ = (await seller.get(f"/v1/trades/{trade_2}")).json()
    assert reversed_["settlement"]["status"] == "reversed"
    assert await funds(market, buyer) == (money(10_000_000 - 50_050), "0.00")
    assert await units(market, seller, batch["id"]) == (90, 0)
    assert await units(market, buyer, batch["id"]) == (10, 0)
    assert await funds(market, seller) == (money(49_900), "0.00")

    again = await regulator.post(f"/v1/oversight/approvals/{approval_1['id']}/reject")
    assert again.status_code == 409, again.text


# --- oversight --------------------------------------------------------------------------------


async def test_order_trail_and_oversight_trades(market: Market) -> None:
    regulator = market.registry.regulator
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer("10000.00")
    ask = await place(seller, symbol, "sell", 10, "50.00")
    bid_1 = await place(buyer, symbol, "buy", 4, "50.00")
    bid_2 = await place(buyer, symbol, "buy", 3, "50.00")
    assert (await seller.delete(f"/v1/orders/{ask['id']}")).status_code == 200

    response = await regulator.get(f"/v1/oversight/orders/{ask['id']}/trail")
    assert response.status_code == 200, response.text
    trail = response.json()
    assert trail["order_id"] == ask["id"] and trail["party_id"] == seller.id
    events = trail["items"]
    # API.md's trail kinds (new/fill/cancel/expire/reject); a cancel carries what remained.
    assert [e["kind"] for e in events] == ["new", "fill", "fill", "cancel"], events
    assert events[3]["quantity"] == 3 and trail["side"] == "sell"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert [e["quantity"] for e in events[1:3]] == [4, 3]
    assert [e["trade_id"] for e in events[1:3]] == [
        bid_1["fills"][0]["trade_id"],
        bid_2["fills"][0]["trade_id"],
    ]
    assert all(e["created_at"] for e in events)

    taker = (await regulator.get(f"/v1/oversight/orders/{bid_1['id']}/trail")).json()["items"]
    assert [e["kind"] for e in taker] == ["new", "fill"]

    for actor in (seller, market.operator, buyer):
        denied = await actor.get(f"/v1/oversight/orders/{ask['id']}/trail")
        assert denied.status_code == 403, denied.text
        denied = await actor.get("/v1/oversight/trades", params={"party_id": seller.id})
        assert denied.status_code == 403, denied.text

    listed = await regulator.get("/v1/oversight/trades", params={"party_id": seller.id})
    assert listed.status_code == 200, listed.text
    trades = listed.json()["items"]
    assert [(t["buyer_id"], t["seller_id"], t["quantity"]) for t in trades] == [
        (buyer.id, seller.id, 4),
        (buyer.id, seller.id, 3),
    ]
    assert {t["sell_order_id"] for t in trades} == {ask["id"]}
    by_symbol = await regulator.get("/v1/oversight/trades", params={"instrument": symbol})
    assert len(by_symbol.json()["items"]) == 2


@pytest.mark.parametrize("side", ["buy", "sell"])
async def test_market_order_on_empty_book_leaves_nothing_reserved(
    market: Market, side: str
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, batch = await market.seller(100)
    await market.deposit(seller, "1000.00")
    order = await place(seller, symbol, side, 10)
    assert order["status"] == "cancelled" and order["filled_quantity"] == 0, order
    assert await funds(market, seller) == ("1000.00", "0.00")
    assert await units(market, seller, batch["id"]) == (100, 0)
