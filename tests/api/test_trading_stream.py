"""`WS /v1/instruments/{symbol}/stream`: a book snapshot first, then trades and newer books.

Litestar's AsyncTestClient hangs on websockets (litestar#4200), so these are plain `def` tests
driving their own app through the sync `TestClient` (its event loop runs in a thread). The
database is the one every other test uses; parties and units are built over HTTP here.

The stream handler never reads from the socket, so it cannot notice that the client went away
while the instrument is idle; the test app therefore runs each websocket session in a cancel
scope that the fixture cancels at the end (otherwise leaving the client would wait forever).
"""

from __future__ import annotations

import asyncio
import queue
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from litestar.testing.websocket_test_session import WebSocketTestSession

from market.app import create_app
from market.settings import Settings
from tests.api.conftest import OPERATOR_TOKEN, random_credit_code
from tests.api.registry_helpers import fresh_square
from tests.api.trading_helpers import symbol as new_symbol
from tests.invariants import assert_invariants

WAIT_S = 6.0


def run_async(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    """Run a coroutine on a fresh loop in another thread (never on pytest-asyncio's loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, fn(*args)).result()


@dataclass
class Session:
    scope: anyio.CancelScope
    done: threading.Event = field(default_factory=threading.Event)


class Tracked:
    """The app, with every websocket session in a cancel scope the test can cancel."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sessions: list[Session] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        session = Session(anyio.CancelScope())
        self.sessions.append(session)
        try:
            with session.scope:
                await self.app(scope, receive, send)
        finally:
            session.done.set()


@dataclass
class Live:
    client: TestClient[Any]
    app: Tracked

    def as_(self, token: str) -> Caller:
        return Caller(self.client, token)

    @property
    def operator(self) -> Caller:
        return self.as_(OPERATOR_TOKEN)


@dataclass
class Caller:
    client: TestClient[Any]
    token: str
    id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, path: str, json: Any = None, expect: int = 201) -> dict[str, Any]:
        response = self.client.post(path, json=json, headers=self.headers)
        assert response.status_code == expect, (path, response.text)
        return dict(response.json())

    def get(self, path: str) -> dict[str, Any]:
        response = self.client.get(path, headers=self.headers)
        assert response.status_code == 200, (path, response.text)
        return dict(response.json())


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    from market.cli import bootstrap

    run_async(bootstrap, settings)
    tracked = Tracked(create_app(settings))
    with TestClient(app=tracked) as client:
        try:
            yield Live(client, tracked)
        finally:
            for session in tracked.sessions:
                client.blocking_portal.call(session.scope.cancel)
            for session in tracked.sessions:
                assert session.done.wait(5), "a websocket session did not end"
    run_async(assert_invariants, settings.database_url or "")


def make_party(live: Live, kind: str) -> Caller:
    body = live.operator.post(
        "/v1/parties",
        json={"name": f"{kind} {secrets.token_hex(3)}", "kind": kind,
              "credit_code": random_credit_code(), "region_code": "110105"},
    )  # fmt: skip
    return Caller(live.client, body["api_key"], body["party"]["id"])


def seller_with_units(live: Live, quantity: int) -> tuple[Caller, dict[str, Any]]:
    seller = make_party(live, "collective")
    registrar, certifier = make_party(live, "registrar"), make_party(live, "certifier")
    asset = seller.post(
        "/v1/assets",
        json={"resource_type": "forest", "name": "东山村集体林地", "region_code": "330521",
              "area_ha": "120.50", "boundary": fresh_square(),
              "rights": [{"kind": "ownership", "holder_id": seller.id, "share": "100",
                          "valid_from": "2020-01-01"}]},
    )  # fmt: skip
    registrar.post(f"/v1/assets/{asset['id']}/confirm", expect=200)
    product = seller.post(
        "/v1/eco-products",
        json={"product_type": "CARBON_SINK", "name": "东山林业碳汇", "asset_ids": [asset["id"]]},
    )
    certifier.post(
        f"/v1/eco-products/{product['id']}/certify", json={"standard": "CCER"}, expect=200
    )
    batch = certifier.post(
        f"/v1/eco-products/{product['id']}/batches",
        json={"quantity": quantity, "vintage": 2025, "period_start": "2025-01-01",
              "period_end": "2025-12-31"},
    )  # fmt: skip
    return seller, batch


def buyer_with_cash(live: Live, amount: str) -> Caller:
    buyer = make_party(live, "enterprise")
    live.operator.post(
        "/v1/deposits",
        json={"party_id": buyer.id, "amount": amount, "method": "bank_transfer",
              "reference": "stream test"},
    )  # fmt: skip
    return buyer


def instrument(live: Live) -> str:
    body = live.operator.post(
        "/v1/instruments",
        json={"symbol": new_symbol(), "product_type": "CARBON_SINK", "reference_price": "50.00",
              "buyer_fee_bps": 0, "seller_fee_bps": 0},
    )  # fmt: skip
    return str(body["symbol"])


def order(party: Caller, symbol: str, side: str, quantity: int, price: str) -> dict[str, Any]:
    return party.post(
        "/v1/orders",
        json={"instrument": symbol, "side": side, "type": "limit", "price": price,
              "quantity": quantity, "client_order_id": secrets.token_hex(8)},
    )  # fmt: skip


def next_message(
    ws: WebSocketTestSession,
    matches: Callable[[dict[str, Any]], bool],
    seen: list[dict[str, Any]],
    timeout: float = WAIT_S,
) -> dict[str, Any]:
    """The next message that `matches`, within `timeout` seconds (all received go to `seen`)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no matching message within {timeout}s; received {seen}"
        try:
            message = ws.receive_json(timeout=min(left, 0.5))
        except queue.Empty:
            continue
        seen.append(message)
        if matches(message):
            return dict(message)


def test_stream_sends_book_then_trades_and_newer_books(live: Live) -> None:
    symbol = instrument(live)
    seller, _ = seller_with_units(live, 100)
    buyer = buyer_with_cash(live, "10000.00")
    seen: list[dict[str, Any]] = []
    with live.client.websocket_connect(f"/v1/instruments/{symbol}/stream") as ws:
        first = next_message(ws, lambda m: True, seen)
        assert first["type"] == "book", first
        assert first["symbol"] == symbol and isinstance(first["seq"], int)
        assert first["bids"] == [] and first["asks"] == []

        ask = order(seller, symbol, "sell", 10, "50.00")
        assert ask["status"] == "open"
        resting = next_message(
            ws, lambda m: m["type"] == "book" and m["seq"] > first["seq"] and bool(m["asks"]), seen
        )
        assert resting["asks"] == [{"price": "50.00", "quantity": 10, "orders": 1}]

        bid = order(buyer, symbol, "buy", 4, "50.00")
        assert bid["status"] == "filled"
        trade = next_message(ws, lambda m: m["type"] == "trade", seen)
        assert trade == {
            **trade,
            "symbol": symbol,
            "trade_id": bid["fills"][0]["trade_id"],
            "price": "50.00",
            "quantity": 4,
            "aggressor_side": "buy",
            "kind": "continuous",
        }
        # `seq` is the market data's version; `trade_seq` the trade's number on the tape.
        assert trade["trade_seq"] == 1 and trade["seq"] > resting["seq"]
        after = next_message(ws, lambda m: m["type"] == "book" and m["seq"] > resting["seq"], seen)
        assert after["asks"] == [{"price": "50.00", "quantity": 6, "orders": 1}]
        assert after["bids"] == []

    assert all("seq" in m for m in seen)
    books = [m["seq"] for m in seen if m["type"] == "book"]
    assert books == sorted(books) and len(set(books)) == len(books)
    snapshot = live.client.get(f"/v1/instruments/{symbol}/book").json()
    assert snapshot["seq"] == after["seq"]


def test_stream_sends_one_trade_message_per_trade(live: Live) -> None:
    symbol = instrument(live)
    first_seller, _ = seller_with_units(live, 100)
    second_seller, _ = seller_with_units(live, 100)
    buyer = buyer_with_cash(live, "10000.00")
    order(first_seller, symbol, "sell", 5, "50.00")
    order(second_seller, symbol, "sell", 5, "50.10")
    seen: list[dict[str, Any]] = []
    with live.client.websocket_connect(f"/v1/instruments/{symbol}/stream") as ws:
        first = next_message(ws, lambda m: True, seen)
        assert first["type"] == "book" and len(first["asks"]) == 2
        bid = order(buyer, symbol, "buy", 8, "50.10")
        assert bid["status"] == "filled" and len(bid["fills"]) == 2
        next_message(ws, lambda m: m["type"] == "book" and m["seq"] > first["seq"], seen)
    trades = [m for m in seen if m["type"] == "trade"]
    assert [(t["trade_id"], t["price"], t["quantity"]) for t in trades] == [
        (f["trade_id"], f["price"], f["quantity"]) for f in bid["fills"]
    ]


def test_stream_of_an_unknown_instrument_errors_and_closes(live: Live) -> None:
    symbol = "NOSUCH" + secrets.token_hex(3).upper()
    with live.client.websocket_connect(f"/v1/instruments/{symbol}/stream") as ws:
        message = ws.receive_json(timeout=WAIT_S)
        assert message == {"type": "error", "code": "not_found", "symbol": symbol}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json(timeout=WAIT_S)
        assert closed.value.code == 4404


def test_stream_handler_ends_when_the_client_leaves(live: Live) -> None:
    symbol = instrument(live)
    with live.client.websocket_connect(f"/v1/instruments/{symbol}/stream") as ws:
        assert ws.receive_json(timeout=WAIT_S)["type"] == "book"
    session = live.app.sessions[-1]
    assert session.done.wait(2.0), "the stream handler still runs after the client left"


def test_stream_sends_block_trades_with_their_kind(live: Live) -> None:
    symbol = instrument(live)
    seller, _ = seller_with_units(live, 100)
    buyer = buyer_with_cash(live, "10000.00")
    seen: list[dict[str, Any]] = []
    with live.client.websocket_connect(f"/v1/instruments/{symbol}/stream") as ws:
        first = next_message(ws, lambda m: True, seen)
        block = seller.post(
            "/v1/block-trades",
            json={"instrument": symbol, "price": "60.00", "quantity": 20, "buyer_id": buyer.id},
        )
        accepted = buyer.post(f"/v1/block-trades/{block['id']}/accept", expect=200)
        trade = next_message(ws, lambda m: m["type"] == "trade", seen)
        assert trade == {
            **trade,
            "trade_id": accepted["trade_id"],
            "trade_seq": 1,
            "kind": "block",
            "price": "60.00",
            "quantity": 20,
        }
        assert trade["seq"] > first["seq"]
