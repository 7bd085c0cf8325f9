"""The trading flow: deposit → sell → buy → partial fills → cancel → certificate → exact books."""

from __future__ import annotations

from typing import Any

from tests.api.test_certificates import independent_verify
from tests.api.trading_helpers import Market


def fen(amount: str) -> int:
    whole, frac = amount.split(".")
    return int(whole) * 100 + int(frac)


async def test_full_trading_flow_is_exact(market: Market) -> None:
    instrument = await market.instrument()
    symbol = instrument["symbol"]
    seller, batch = await market.seller(1_000)
    buyer = await market.buyer("100000.00")
    platform_before = fen((await market.cash(market.operator))["available"])

    ask = await market.order(seller, symbol, "sell", 300, "50.00")
    assert ask["status"] == "open" and ask["remaining_quantity"] == 300
    held = await market.holding(seller, batch["id"])
    assert (held["available"], held["escrowed"]) == (700, 300)

    book = (await market.operator.client.get(f"/v1/instruments/{symbol}/book")).json()
    assert book["asks"] == [{"price": "50.00", "quantity": 300, "orders": 1}] and book["bids"] == []

    first = await market.order(buyer, symbol, "buy", 100, "51.00")
    assert first["status"] == "filled"
    assert first["average_price"] == "50.00"  # the resting order's price
    assert [(f["price"], f["quantity"]) for f in first["fills"]] == [("50.00", 100)]

    second = await market.order(buyer, symbol, "buy", 150, "50.00", time_in_force="IOC")
    assert second["status"] == "filled"

    resting = (await seller.get(f"/v1/orders/{ask['id']}")).json()
    assert resting["status"] == "partially_filled"
    assert (resting["filled_quantity"], resting["remaining_quantity"]) == (250, 50)
    cancelled = await seller.delete(f"/v1/orders/{ask['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await seller.delete(f"/v1/orders/{ask['id']}")
    assert again.status_code == 409 and again.json()["code"] == "order_not_open"

    start = batch["serial_start"]
    bought = await market.holding(buyer, batch["id"])
    assert bought["available"] == 250
    assert bought["ranges"] == [{"start": start, "end": start + 249, "bucket": "available"}]
    kept = await market.holding(seller, batch["id"])
    assert (kept["available"], kept["escrowed"]) == (750, 0)

    # 100 × 50.00 and 150 × 50.00; buyer pays 10 bps, seller 20 bps, fees rounded down to the fen.
    notional_1, notional_2 = 100 * 5000, 150 * 5000
    buyer_fees = notional_1 * 10 // 10_000 + notional_2 * 10 // 10_000
    seller_fees = notional_1 * 20 // 10_000 + notional_2 * 20 // 10_000
    buyer_cash = await market.cash(buyer)
    assert fen(buyer_cash["available"]) == 10_000_000 - notional_1 - notional_2 - buyer_fees
    assert buyer_cash["reserved"] == "0.00"
    seller_cash = await market.cash(seller)
    assert fen(seller_cash["available"]) == notional_1 + notional_2 - seller_fees
    platform_after = fen((await market.cash(market.operator))["available"])
    assert platform_after - platform_before == buyer_fees + seller_fees

    trades = (await buyer.get("/v1/trades")).json()["items"]
    assert [t["quantity"] for t in trades] == [100, 150]
    trade = (await seller.get(f"/v1/trades/{trades[0]['id']}")).json()
    assert trade["price"] == "50.00" and trade["aggressor_side"] == "buy"
    assert trade["settlement"]["status"] == "settled"
    assert trade["settlement"]["cash_amount"] == "5000.00"
    assert (
        trade["settlement"]["buyer_fee"] == "5.00" and trade["settlement"]["seller_fee"] == "10.00"
    )
    assert trade["settlement"]["ranges"] == [
        {"batch_id": batch["id"], "start": start, "end": start + 99}
    ]
    client = market.operator.client
    certificate = (await client.get(f"/v1/certificates/{trade['certificate_id']}")).json()
    keys = (await client.get("/v1/keys")).json()
    assert certificate["kind"] == "trade" and independent_verify(certificate, keys)
    assert (
        certificate["payload"]["price"] == "50.00" and certificate["payload"]["quantity"] == "100"
    )

    tape = (await client.get(f"/v1/instruments/{symbol}/trades")).json()["items"]
    assert [(t["seq"], t["quantity"], t["kind"]) for t in tape] == [
        (2, 150, "continuous"), (1, 100, "continuous")
    ]  # fmt: skip
    assert "buyer_id" not in tape[0]
    first = (await client.get(f"/v1/instruments/{symbol}/trades", params={"limit": 1})).json()
    assert [t["seq"] for t in first["items"]] == [2] and first["next_cursor"] == "2"
    rest = await client.get(
        f"/v1/instruments/{symbol}/trades", params={"limit": 1, "cursor": first["next_cursor"]}
    )
    assert [t["seq"] for t in rest.json()["items"]] == [1] and rest.json()["next_cursor"] is None
    for bad in ("0", "x", "-1", "1" * 20):
        refused = await client.get(f"/v1/instruments/{symbol}/trades", params={"cursor": bad})
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_error"), bad
    listed = (await client.get(f"/v1/instruments/{symbol}")).json()
    assert listed["last_price"] == "50.00"


async def test_replayed_client_order_id_returns_the_same_order(market: Market) -> None:
    instrument = await market.instrument()
    seller, _ = await market.seller(100)
    body: dict[str, Any] = {"instrument": instrument["symbol"], "side": "sell", "type": "limit",
                            "price": "50.00", "quantity": 10, "client_order_id": "sell-1"}  # fmt: skip
    first = await seller.post("/v1/orders", json=body)
    again = await seller.post("/v1/orders", json=body)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    orders = (await seller.get("/v1/orders")).json()["items"]
    assert len(orders) == 1
    held = (await seller.get("/v1/holdings")).json()["items"][0]
    assert held["escrowed"] == 10


async def test_market_buy_fills_only_while_cash_lasts(market: Market) -> None:
    instrument = await market.instrument(buyer_fee_bps=0, seller_fee_bps=0)
    symbol = instrument["symbol"]
    seller, _ = await market.seller(100)
    await market.order(seller, symbol, "sell", 100, "50.00")
    buyer = await market.buyer("1234.56")
    order = await market.order(buyer, symbol, "buy", 100)
    assert order["filled_quantity"] == 24  # 24 × 50.00 = 1200.00 ≤ 1234.56 < 25 × 50.00
    assert order["status"] == "cancelled" and order["reject_reason"] == "insufficient_funds"
    cash = await market.cash(buyer)
    assert cash == {**cash, "available": "34.56", "reserved": "0.00"}


async def test_instruments_list_in_pages_by_symbol(market: Market) -> None:
    created = sorted([(await market.instrument())["symbol"] for _ in range(3)])
    client = market.operator.client
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/instruments", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [i["symbol"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor == page["items"][-1]["symbol"]
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(created) <= set(seen)


async def test_a_buy_holds_cash_without_a_journal_entry_and_a_fill_posts_one(
    market: Market,
) -> None:
    """A reservation is a hold (DOMAIN.md invariant 5 keeps it exact), not a journal entry:
    only the movement of value, the settlement, is in the buyer's journal."""
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer("1000.00")

    async def journal() -> list[tuple[str, str, list[tuple[str, str]]]]:
        items = (await buyer.get("/v1/ledger/entries")).json()["items"]
        postings = [[(p["account"], p["amount"]) for p in e["postings"]] for e in items]
        return [(e["kind"], e["ref_id"], legs) for e, legs in zip(items, postings, strict=True)]

    (deposit,) = await journal()
    assert deposit[0] == "deposit"
    bid = await market.order(buyer, symbol, "buy", 10, "50.00")  # 500.00 + 0.50 fee
    assert bid["status"] == "open"
    cash = await market.cash(buyer)
    assert (cash["available"], cash["reserved"], cash["total"]) == ("499.50", "500.50", "1000.00")
    assert await journal() == [deposit]

    await market.order(seller, symbol, "sell", 4, "50.00")  # 200.00, buyer fee 0.20
    cash = await market.cash(buyer)
    assert (cash["available"], cash["reserved"]) == ("499.50", "300.30")
    (trade,) = (await buyer.get("/v1/trades")).json()["items"]
    settlement, _ = await journal()
    assert settlement == (
        "trade_settlement",
        trade["id"],
        [
            (f"party:{buyer.id}:reserved", "-200.20"),
            ("party:counterparty:available", "199.60"),
            (f"fee:{symbol}", "0.60"),
        ],
    )

    cancelled = await buyer.delete(f"/v1/orders/{bid['id']}")
    assert cancelled.status_code == 200, cancelled.text
    cash = await market.cash(buyer)
    assert (cash["available"], cash["reserved"], cash["total"]) == ("799.80", "0.00", "799.80")
    assert await journal() == [settlement, deposit]
