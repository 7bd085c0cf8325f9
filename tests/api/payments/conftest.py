"""Payment fixtures: a real localstripe for the session, an app configured for it, webhook
signing, and a recording Stripe transport for Connect payouts (which localstripe lacks).

localstripe is started once per test session on a free 127.0.0.1 port, from scratch (its saved
state in /tmp/localstripe.pickle is never loaded, so a stale file from another run changes
nothing). If it cannot start, the payment tests fail: they never skip.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr

from market.app import create_app
from market.payments.gateway import StripeGateway, StripeHTTPClient
from market.settings import Settings
from tests.api.conftest import OPERATOR_TOKEN, Actor, PartyFactory
from tests.invariants import assert_invariants

STRIPE_KEY = "sk_test_market"
WEBHOOK_SECRET = "whsec_market_test_secret"
# localstripe's own `start()` binds every interface and loads /tmp/localstripe.pickle unless
# --from-scratch; this runs the same app on loopback only and never loads the file.
LAUNCH = (
    "import sys; from aiohttp import web; from localstripe.server import app; "
    "web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalStripe:
    """localstripe's HTTP API, as a card holder's browser and Stripe's dashboard would use it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {STRIPE_KEY}"}, timeout=10
        )

    def intent(self, intent_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/payment_intents/{intent_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    def pay(self, intent_id: str, card: str = "4242424242424242") -> httpx.Response:
        """Attach a new card to the PaymentIntent and confirm it (what Stripe.js does)."""
        method = self.http.post(
            "/v1/payment_methods",
            data={"type": "card", "card[number]": card, "card[exp_month]": "12",
                  "card[exp_year]": "2030", "card[cvc]": "123"},
        )  # fmt: skip
        assert method.status_code == 200, method.text
        # Stripe lets a customer retry a declined intent with another card; localstripe keeps
        # the failed charge (and `requires_payment_method`) unless it is cleared.
        retry = {"latest_charge": None} if self.intent(intent_id)["latest_charge"] else {}
        attached = self.http.post(
            f"/v1/payment_intents/{intent_id}",
            json={"payment_method": method.json()["id"], **retry},
        )
        assert attached.status_code == 200, attached.text
        return self.http.post(f"/v1/payment_intents/{intent_id}/confirm")

    def event(self, kind: str, intent_id: str, event_id: str | None = None) -> dict[str, Any]:
        """A Stripe event carrying the PaymentIntent as localstripe has it now."""
        return {
            "id": event_id or f"evt_{secrets.token_hex(8)}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": self.intent(intent_id)},
        }


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stripe_api = LocalStripe(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"localstripe exited with {process.returncode}: {stderr[-2000:]}")
            try:
                if stripe_api.http.get("/v1/customers").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("localstripe did not answer within 30 s")
            time.sleep(0.1)
        yield stripe_api
    finally:
        stripe_api.http.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="session")
def stripe_settings(settings: Settings, localstripe: LocalStripe) -> Settings:
    return settings.model_copy(
        update={
            "stripe_api_key": SecretStr(STRIPE_KEY),
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "stripe_api_base": localstripe.base,
        }
    )


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe computes it (v1: HMAC-SHA256 of `t.payload`)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass
class Shop:
    """The app configured for localstripe, with its operator and party factory."""

    client: AsyncTestClient[Any]
    operator: Actor
    make_party: PartyFactory
    stripe: LocalStripe

    async def deliver(
        self, event: dict[str, Any], *, signature: str | None = None, body: bytes | None = None
    ) -> httpx.Response:
        payload = body if body is not None else json.dumps(event).encode()
        headers = {"Content-Type": "application/json"}
        headers["Stripe-Signature"] = signature if signature is not None else sign(payload)
        return await self.client.post("/v1/webhooks/stripe", content=payload, headers=headers)

    async def card_deposit(self, party: Actor, amount: str) -> dict[str, Any]:
        response = await party.post("/v1/deposits", json={"amount": amount})
        assert response.status_code == 201, response.text
        return dict(response.json())


async def _app_client(
    settings: Settings, gateway: StripeGateway | None = None
) -> AsyncIterator[AsyncTestClient[Any]]:
    from market.cli import bootstrap

    await bootstrap(settings)
    app = create_app(settings)
    if gateway is not None:
        app.state.stripe_gateway = gateway
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
    await assert_invariants(settings.database_url or "")


async def _operator(client: AsyncTestClient[Any]) -> Actor:
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert response.status_code == 200, response.text
    return Actor(response.json()["id"], "operator", OPERATOR_TOKEN, client)


@pytest.fixture
async def shop(stripe_settings: Settings, localstripe: LocalStripe) -> AsyncIterator[Shop]:
    async for client in _app_client(stripe_settings):
        operator = await _operator(client)
        yield Shop(client, operator, PartyFactory(operator), localstripe)


# Connect payouts: stripe's own HTTP client over a recording transport ------------------------


@dataclass
class RecordedRequest:
    method: str
    path: str
    idempotency_key: str | None
    form: dict[str, str]


@dataclass
class FakeConnect:
    """Answers `POST /v1/transfers` like Stripe, recording every request; an account in
    `refusing` is refused (400), `down` answers 500 to everything."""

    requests: list[RecordedRequest] = field(default_factory=list)
    refusing: set[str] = field(default_factory=set)
    down: bool = False
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode())) if request.content else {}
        self.requests.append(
            RecordedRequest(
                request.method, request.url.path, request.headers.get("idempotency-key"), form
            )
        )
        if self.down:
            return _stripe_error(500, "api_error", "Stripe is down")
        if request.method == "POST" and request.url.path == "/v1/transfers":
            if form["destination"] in self.refusing:
                return _stripe_error(
                    400, "invalid_request_error", "No such destination", "resource_missing"
                )
            key = request.headers.get("idempotency-key")
            for transfer in self.transfers.values():  # Stripe replays a repeated key
                if transfer["_key"] == key:
                    return httpx.Response(200, json=_public(transfer))
            transfer = {
                "id": f"tr_{secrets.token_hex(8)}", "object": "transfer",
                "amount": int(form["amount"]), "currency": form["currency"],
                "destination": form["destination"], "created": int(time.time()),
                "reversed": False, "metadata": {"withdrawal_id": form["metadata[withdrawal_id]"]},
                "_key": key,
            }  # fmt: skip
            self.transfers[transfer["id"]] = transfer
            return httpx.Response(200, json=_public(transfer))
        if request.method == "GET" and request.url.path == "/v1/transfers":
            items = [_public(t) for t in self.transfers.values()]
            return httpx.Response(200, json=_page("/v1/transfers", items))
        if request.method == "POST" and request.url.path == "/v1/payment_intents":
            intent_id = f"pi_{secrets.token_hex(8)}"
            self.intents[intent_id] = {
                "id": intent_id, "object": "payment_intent", "amount": int(form["amount"]),
                "currency": form["currency"], "status": "requires_payment_method",
                "client_secret": f"{intent_id}_secret_x", "created": int(time.time()),
                "metadata": {"deposit_id": form["metadata[deposit_id]"]},
            }  # fmt: skip
            return httpx.Response(200, json=self.intents[intent_id])
        if request.method == "GET" and request.url.path == "/v1/payment_intents":
            return httpx.Response(200, json=_page("/v1/payment_intents", [*self.intents.values()]))
        if request.method == "GET" and request.url.path.startswith("/v1/payment_intents/"):
            intent = self.intents.get(request.url.path.rsplit("/", 1)[1])
            if intent is None:
                return _stripe_error(
                    404, "invalid_request_error", "No such payment_intent", "resource_missing"
                )
            return httpx.Response(200, json=intent)
        return _stripe_error(404, "invalid_request_error", "Unrecognized request URL")

    def gateway(self) -> StripeGateway:
        http = StripeHTTPClient()
        http._client_async = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return StripeGateway(
            STRIPE_KEY, api_base="https://stripe.test", http_client=http, max_network_retries=0
        )

    def transfer_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/transfers"]


def _public(transfer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in transfer.items() if not k.startswith("_")}


def _page(url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "has_more": False, "data": items}


def _stripe_error(status: int, kind: str, message: str, code: str | None = None) -> httpx.Response:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    return httpx.Response(status, json={"error": error})


@dataclass
class Payouts:
    client: AsyncTestClient[Any]
    operator: Actor
    make_party: PartyFactory
    connect: FakeConnect

    async def funded(self, kind: str = "collective", amount: str = "100.00") -> Actor:
        party = await self.make_party(kind)
        response = await self.operator.post(
            "/v1/deposits",
            json={"party_id": party.id, "amount": amount, "method": "bank_transfer",
                  "reference": "BANK-1"},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        return party

    async def connect_account(self, party: Actor, account_id: str | None = None) -> str:
        account_id = account_id or f"acct_{secrets.token_hex(6)}"
        response = await self.operator.post(
            f"/v1/parties/{party.id}/stripe-account", json={"account_id": account_id}
        )
        assert response.status_code == 200, response.text
        return account_id

    async def withdrawal(self, party: Actor, amount: str) -> dict[str, Any]:
        response = await party.post("/v1/withdrawals", json={"amount": amount})
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def connect() -> FakeConnect:
    return FakeConnect()


@pytest.fixture
async def payouts(settings: Settings, connect: FakeConnect) -> AsyncIterator[Payouts]:
    configured = settings.model_copy(
        update={
            "stripe_api_key": SecretStr(STRIPE_KEY),
            "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
        }
    )
    async for client in _app_client(configured, connect.gateway()):
        operator = await _operator(client)
        yield Payouts(client, operator, PartyFactory(operator), connect)
