"""A regulator's reads and the alert review: every party's orders, an order's trail, alerts
listed by kind and status and reviewed once with a note."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import PartyFactory
from tests.api.oversight_helpers import alerts, dealer, surveil, trade
from tests.api.trading_helpers import Market


async def circular_alert(market: Market, engine: AsyncEngine) -> dict[str, Any]:
    symbol = (await market.instrument())["symbol"]
    a, b = await dealer(market), await dealer(market)
    await trade(market, symbol, a, b, 100)
    await trade(market, symbol, b, a, 100)
    await surveil(engine)
    (alert,) = await alerts(market.registry.regulator, symbol, kind="circular_trading")
    return alert


class TestReview:
    async def test_review_once_with_a_note(self, market: Market, engine: AsyncEngine) -> None:
        regulator = market.registry.regulator
        alert = await circular_alert(market, engine)
        path = f"/v1/oversight/alerts/{alert['id']}/review"
        headers = {**regulator.headers, "Idempotency-Key": "review-1"}
        reviewed = await regulator.client.post(
            path, json={"note": "已核查: 关联方"}, headers=headers
        )
        assert reviewed.status_code == 200, reviewed.text
        body = reviewed.json()
        assert body["status"] == "reviewed" and body["review_note"] == "已核查: 关联方"
        assert body["reviewed_by"] == regulator.id and body["id"] == alert["id"]
        replay = await regulator.client.post(path, json={"note": "已核查: 关联方"}, headers=headers)
        assert (replay.status_code, replay.json()) == (200, body)
        again = await regulator.post(path, json={"note": "again"})
        assert again.status_code == 409 and again.json()["code"] == "alert_already_reviewed"
        fetched = (await regulator.get(f"/v1/oversight/alerts/{alert['id']}")).json()
        assert fetched["review_note"] == "已核查: 关联方"
        reviewed_ids = [a["id"] for a in await alerts(regulator, status="reviewed")]
        open_ids = [a["id"] for a in await alerts(regulator, status="open")]
        assert alert["id"] in reviewed_ids and alert["id"] not in open_ids

    async def test_bad_reviews_change_nothing(
        self, market: Market, engine: AsyncEngine, make_party: PartyFactory
    ) -> None:
        regulator = market.registry.regulator
        alert = await circular_alert(market, engine)
        path = f"/v1/oversight/alerts/{alert['id']}/review"
        for body in ({}, {"note": ""}, {"note": "a\x00b"}, {"note": "x" * 2001}, {"note": 5},
                     {"note": "ok", "extra": 1}):  # fmt: skip
            response = await regulator.post(path, json=body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["code"] == "validation_error"
        for kind in ("operator", "enterprise", "certifier"):
            other = await make_party(kind) if kind != "operator" else market.operator
            response = await other.post(path, json={"note": "mine"})
            assert response.status_code == 403, response.text
            assert (await other.get("/v1/oversight/alerts")).status_code == 403
        missing = await regulator.post("/v1/oversight/alerts/alr_nope/review", json={"note": "x"})
        assert missing.status_code == 404
        assert (await regulator.get(f"/v1/oversight/alerts/{alert['id']}")).json()[
            "status"
        ] == "open"

    async def test_bad_filters_are_422(self, market: Market) -> None:
        regulator = market.registry.regulator
        for params in ({"kind": "wash"}, {"status": "closed"}, {"limit": 0}):
            response = await regulator.get("/v1/oversight/alerts", params=params)
            assert response.status_code == 400 or response.status_code == 422, response.text


async def test_alerts_are_never_updated_or_deleted(market: Market, engine: AsyncEngine) -> None:
    alert = await circular_alert(market, engine)
    for statement in (
        "UPDATE alerts SET detail = 'nothing' WHERE id = :id",
        "DELETE FROM alerts WHERE id = :id",
    ):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                await connection.execute(text(statement), {"id": alert["id"]})
            await connection.rollback()


class TestOrders:
    async def test_every_party_orders_with_filters(self, market: Market) -> None:
        regulator = market.registry.regulator
        symbol = (await market.instrument())["symbol"]
        seller, buyer = await dealer(market), await market.buyer()
        await trade(market, symbol, seller, buyer, 10)
        resting = await market.order(buyer, symbol, "buy", 5, "45.00")

        async def listed(**params: Any) -> list[dict[str, Any]]:
            response = await regulator.get("/v1/oversight/orders", params={"limit": 500, **params})
            assert response.status_code == 200, response.text
            return list(response.json()["items"])

        everything = await listed(instrument=symbol)
        assert {o["party_id"] for o in everything} == {seller.id, buyer.id}
        assert len(everything) == 3
        assert [o["id"] for o in await listed(instrument=symbol, status="open")] == [resting["id"]]
        assert {o["party_id"] for o in await listed(instrument=symbol, party_id=seller.id)} == {
            seller.id
        }
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert await listed(instrument=symbol, **{"from": future}) == []
        assert len(await listed(instrument=symbol, to=future)) == 3
        page = await regulator.get(
            "/v1/oversight/orders", params={"instrument": symbol, "limit": 2}
        )
        rest = await regulator.get(
            "/v1/oversight/orders",
            params={"instrument": symbol, "limit": 2, "cursor": page.json()["next_cursor"]},
        )
        assert len(page.json()["items"]) == 2 and len(rest.json()["items"]) == 1
        assert (await buyer.get("/v1/oversight/orders")).status_code == 403
        assert (await market.operator.get("/v1/oversight/orders")).status_code == 403
        for params in ({"status": "gone"}, {"from": "yesterday"},
                       {"from": future, "to": "2020-01-01T00:00:00Z"}):  # fmt: skip
            response = await regulator.get("/v1/oversight/orders", params=params)
            assert response.status_code in (400, 422), (params, response.text)

    async def test_trails_rebuild_the_book(self, market: Market) -> None:
        regulator = market.registry.regulator
        symbol = (await market.instrument())["symbol"]
        seller, buyer = await dealer(market), await market.buyer()
        sells = [
            await market.order(seller, symbol, "sell", 30, p) for p in ("50.00", "51.00", "52.00")
        ]
        taken = await market.order(buyer, symbol, "buy", 40, "51.00")  # 30 @ 50, 10 @ 51
        cancelled = await market.order(buyer, symbol, "buy", 7, "48.00")
        assert (await buyer.delete(f"/v1/orders/{cancelled['id']}")).status_code == 200
        rejected = await market.order(buyer, symbol, "buy", 4, "60.00")  # outside the band
        await market.order(buyer, symbol, "buy", 3, "49.00")
        trail = await regulator.get(f"/v1/oversight/orders/{taken['id']}/trail")
        assert trail.status_code == 200, trail.text
        body = trail.json()
        assert (body["order_id"], body["side"], body["instrument"]) == (taken["id"], "buy", symbol)
        assert [(i["kind"], i["quantity"], i["price"]) for i in body["items"]] == [
            ("new", 40, "51.00"), ("fill", 30, "50.00"), ("fill", 10, "51.00"),
        ]  # fmt: skip
        seqs = [i["seq"] for i in body["items"]]
        assert seqs == sorted(seqs) and all(i["created_at"].endswith("Z") for i in body["items"])
        assert all(i["trade_id"] for i in body["items"][1:])
        cancel = (await regulator.get(f"/v1/oversight/orders/{cancelled['id']}/trail")).json()
        assert [(i["kind"], i["quantity"]) for i in cancel["items"]] == [("new", 7), ("cancel", 7)]
        assert rejected["status"] == "rejected", rejected
        reject = (await regulator.get(f"/v1/oversight/orders/{rejected['id']}/trail")).json()
        assert [(i["kind"], i["quantity"]) for i in reject["items"]] == [("new", 4), ("reject", 4)]
        assert reject["items"][1]["reason"] == "price_out_of_band"

        # Replay every order's trail of the instrument: what rests is the public book.
        orders = (
            await regulator.get("/v1/oversight/orders", params={"instrument": symbol, "limit": 500})
        ).json()["items"]
        resting: dict[tuple[str, str], int] = defaultdict(int)
        for order in orders:
            items = (await regulator.get(f"/v1/oversight/orders/{order['id']}/trail")).json()[
                "items"
            ]
            left = 0
            for item in items:
                left += item["quantity"] if item["kind"] == "new" else -item["quantity"]
            if left:
                resting[(order["side"], items[0]["price"])] += left
        book = (await market.operator.get(f"/v1/instruments/{symbol}/book")).json()
        from_book = {("buy", lv["price"]): lv["quantity"] for lv in book["bids"]}
        from_book |= {("sell", lv["price"]): lv["quantity"] for lv in book["asks"]}
        assert dict(resting) == from_book
        assert sells[0]["id"] in {o["id"] for o in orders}

    async def test_trail_is_for_regulators(self, market: Market) -> None:
        symbol = (await market.instrument())["symbol"]
        buyer = await market.buyer()
        order = await market.order(buyer, symbol, "buy", 1, "45.00")
        assert (await buyer.get(f"/v1/oversight/orders/{order['id']}/trail")).status_code == 403
        missing = await market.registry.regulator.get("/v1/oversight/orders/ord_nope/trail")
        assert missing.status_code == 404


# DOMAIN.md's eleven invariants and the checks that run each.
INVARIANT_CHECKS = {
    1: {"units_conserved", "holding_counters_match_ranges"},
    2: {"serials_exact", "retired_serials_never_move"},
    3: {"journal_balanced", "cash_conserved", "cash_balances_match_postings"},
    4: {"nothing_negative", "cash_nothing_negative"},
    5: {"reserved_cash_matches_orders", "escrowed_units_match_orders"},
    6: {"book_not_crossed", "fills_match_orders", "trades_at_maker_price_no_self_trade"},
    7: {"trades_settled_and_certified", "certificates_verify"},
    8: {"history_append_only", "log_root_consistent", "trading_append_only", "alerts_append_only"},
    9: {"one_order_per_client_order_id", "one_entry_per_deposit", "one_outcome_per_withdrawal"},
    10: {"order_rows_complete", "book_commands_belong", "transfer_rows_complete"},
    11: {"claims_exclusive", "no_double_issuance", "claims_guarded_by_database"},
}


async def test_the_invariant_report_covers_all_eleven(market: Market) -> None:
    for caller in (market.registry.regulator, market.operator):
        response = await caller.get("/v1/oversight/invariants")
        assert response.status_code == 200, response.text
        report = response.json()
        names = {c["name"] for c in report["checks"]}
        missing = {n: checks - names for n, checks in INVARIANT_CHECKS.items() if checks - names}
        assert not missing, missing
        assert report["ok"] is True, [c for c in report["checks"] if not c["ok"]]
