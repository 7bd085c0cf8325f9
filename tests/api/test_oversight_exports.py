"""Regulator exports over HTTP: CSV per RFC 4180 and JSON Lines, for trades, orders,
retirements and ledger postings, limited by `from`/`to`; bad requests are 4xx."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from market.oversight.exports import (
    ORDER_COLUMNS,
    POSTING_COLUMNS,
    RETIREMENT_COLUMNS,
    TRADE_COLUMNS,
)
from tests.api.conftest import Actor
from tests.api.oversight_helpers import dealer, trade
from tests.api.trading_helpers import Market

BENEFICIARY = '绿能, "Green" Co.\nLine 2'


async def export(regulator: Actor, kind: str, fmt: str, **params: Any) -> Any:
    response = await regulator.get(
        "/v1/oversight/export", params={"kind": kind, "format": fmt, **params}
    )
    assert response.status_code == 200, response.text
    if fmt == "csv":
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.text.endswith("\r\n")
        return list(csv.reader(io.StringIO(response.text, newline="")))
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.text.splitlines()]


async def test_exports_in_both_formats(market: Market) -> None:
    regulator = market.registry.regulator
    since = (datetime.now(UTC) - timedelta(milliseconds=1)).isoformat()
    symbol = (await market.instrument())["symbol"]
    seller, buyer = await dealer(market), await market.buyer()
    fill = await trade(market, symbol, seller, buyer, 12, "51.00")
    batch_id = (await buyer.get("/v1/holdings")).json()["items"][0]["batch_id"]
    retired = await buyer.post(
        "/v1/retirements",
        json={"batch_id": batch_id, "quantity": 2,
              "beneficiary": BENEFICIARY, "reason": "2025 碳中和"},
    )  # fmt: skip
    assert retired.status_code == 201, retired.text

    rows = await export(regulator, "trades", "csv", **{"from": since})
    assert tuple(rows[0]) == TRADE_COLUMNS
    trades = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [t["id"] for t in trades] == [fill["trade_id"]]
    assert (trades[0]["price"], trades[0]["quantity"], trades[0]["cash_amount"]) == (
        "51.00", "12", "612.00"
    )  # fmt: skip
    assert (trades[0]["buyer_id"], trades[0]["seller_id"]) == (buyer.id, seller.id)
    assert trades[0]["settlement_status"] == "settled"
    assert json.loads(trades[0]["ranges"])[0]["batch_id"]
    lines = await export(regulator, "trades", "jsonl", **{"from": since})
    assert lines == [
        {**t, "seq": int(t["seq"]), "quantity": int(t["quantity"]),
         "ranges": json.loads(t["ranges"])}
        for t in trades
    ]  # fmt: skip

    rows = await export(regulator, "retirements", "csv", **{"from": since})
    assert tuple(rows[0]) == RETIREMENT_COLUMNS
    assert [dict(zip(rows[0], r, strict=True))["beneficiary"] for r in rows[1:]] == [BENEFICIARY]
    (retirement,) = await export(regulator, "retirements", "jsonl", **{"from": since})
    assert retirement["id"] == retired.json()["id"] and retirement["quantity"] == 2

    orders = await export(regulator, "orders", "jsonl", **{"from": since})
    assert tuple(orders[0]) == ORDER_COLUMNS
    assert {(o["party_id"], o["side"], o["status"]) for o in orders} == {
        (seller.id, "sell", "filled"), (buyer.id, "buy", "filled"),
    }  # fmt: skip

    postings = await export(regulator, "ledger", "jsonl", **{"from": since})
    assert postings and tuple(postings[0]) == POSTING_COLUMNS
    entries: dict[str, int] = {}
    for p in postings:
        cents = int(p["amount"].replace(".", ""))
        entries[p["entry_id"]] = entries.get(p["entry_id"], 0) + cents
    assert set(entries.values()) == {0}  # each entry balances
    assert {p["kind"] for p in postings} >= {"trade_settlement"}

    later = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert await export(regulator, "trades", "csv", **{"from": later}) == [list(TRADE_COLUMNS)]
    assert await export(regulator, "orders", "jsonl", **{"from": since, "to": since}) == []


async def test_bad_export_requests(market: Market) -> None:
    regulator = market.registry.regulator
    for params in (
        {"kind": "parties"},
        {},
        {"kind": "trades", "format": "xlsx"},
        {"kind": "trades", "from": "last week"},
        {"kind": "trades", "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
    ):
        response = await regulator.get("/v1/oversight/export", params=params)
        assert response.status_code in (400, 422), (params, response.text)
        assert "code" in response.json()
    buyer = await market.buyer()
    for caller in (buyer, market.operator):
        response = await caller.get("/v1/oversight/export", params={"kind": "trades"})
        assert response.status_code == 403
