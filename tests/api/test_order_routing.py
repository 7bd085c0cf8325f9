"""Orders handed to their instrument's home worker over the peer socket (as with
`market serve --workers N`), in one process: the full round trip — answers, rejections and
domain errors come back as if placed here — and the fallback when the home worker is away."""

from __future__ import annotations

import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from market.trading.order_service import answer_peer
from market.workers.messages import PlaceOrderRequest, RefusedReply
from market.workers.peers import Peers
from tests.api.trading_helpers import Market


class Elsewhere:
    """Every instrument's home is worker 1 (this process is worker 0)."""

    async def home(self, symbol: str) -> int:
        return 1


@contextlib.asynccontextmanager
async def routed(client: AsyncTestClient[Any], *, home_running: bool) -> AsyncIterator[None]:
    state = client.app.state
    with tempfile.TemporaryDirectory(prefix="peers-") as directory:
        handler = partial(answer_peer, state.sequencer, state.session_factory)
        here, home = Peers(Path(directory), 0, 2, handler), Peers(Path(directory), 1, 2, handler)
        # The app (and its sequencer) runs on the test client's portal loop: so must the peers.
        portal = client.blocking_portal
        portal.call(here.start)
        if home_running:
            portal.call(home.start)
        state.peers, state.homes = here, Elsewhere()
        try:
            yield
        finally:
            state.peers = state.homes = None
            portal.call(here.close)
            portal.call(home.close)


def body(symbol: str, side: str, quantity: int, price: str, **over: Any) -> dict[str, Any]:
    return {"instrument": symbol, "side": side, "type": "limit", "price": price,
            "quantity": quantity, "client_order_id": secrets.token_hex(8), **over}  # fmt: skip


async def test_orders_handed_to_the_home_worker_answer_as_if_placed_here(
    market: Market, client: AsyncTestClient[Any]
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer("10000.00")
    async with routed(client, home_running=True):
        ask = await seller.post("/v1/orders", json=body(symbol, "sell", 10, "50.00"))
        assert ask.status_code == 201, ask.text
        bid_body = body(symbol, "buy", 4, "50.00")
        bid = await buyer.post("/v1/orders", json=bid_body)
        assert bid.status_code == 201, bid.text
        assert bid.json()["status"] == "filled"
        assert [(f["price"], f["quantity"]) for f in bid.json()["fills"]] == [("50.00", 4)]
        again = await buyer.post("/v1/orders", json=bid_body)  # replayed client_order_id
        assert again.status_code == 200 and again.json()["id"] == bid.json()["id"]
        assert again.json()["fills"] == bid.json()["fills"]
        rejected = await buyer.post("/v1/orders", json=body(symbol, "buy", 1, "50.005"))
        assert rejected.status_code == 422 and rejected.json()["code"] == "validation_error"
        off_tick = await buyer.post("/v1/orders", json=body(symbol, "buy", 1, "99.00"))
        assert off_tick.status_code == 201
        assert off_tick.json()["reject_reason"] == "price_out_of_band"
        unknown = await buyer.post("/v1/orders", json=body("NOSUCH", "buy", 1, "50.00"))
        assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    resting = (await seller.get(f"/v1/orders/{ask.json()['id']}")).json()
    assert (resting["status"], resting["remaining_quantity"]) == ("partially_filled", 6)


async def test_an_order_whose_home_worker_is_away_is_placed_here(
    market: Market, client: AsyncTestClient[Any]
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    async with routed(client, home_running=False):
        ask = await seller.post("/v1/orders", json=body(symbol, "sell", 10, "50.00"))
    assert ask.status_code == 201, ask.text
    assert ask.json()["status"] == "open"


async def test_an_order_the_home_worker_cannot_read_is_refused_not_a_crash(
    market: Market, client: AsyncTestClient[Any]
) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    async with routed(client, home_running=True):
        here = client.app.state.peers
        unreadable = PlaceOrderRequest("p", "enterprise", "active", '{"instrument": 1}')
        reply = client.blocking_portal.call(here.call, 1, unreadable)
        assert isinstance(reply, RefusedReply) and "not an order" in reply.reason
        ask = await seller.post("/v1/orders", json=body(symbol, "sell", 10, "50.00"))
        assert ask.status_code == 201, ask.text  # the home worker serves on
