"""The authorization matrix, generated from the route table.

Every route `create_app()` serves must have an entry in `EXPECT` (a new endpoint without one
fails `test_every_route_has_an_entry`). For each entry, one world is probed with every party kind
and without a key:

- no key → 401 (unless the route is public);
- a valid key of each kind on an object that does not exist → 404 for the kinds the route
  serves, 403 or 404 for the others (never a 2xx, never a 5xx);
- on a route without an object, a kind the route does not serve → 403, one it serves passes
  the role check (no 401/403, no 5xx);
- another party's object (built by `other`): the kinds in `sees` reach it, every other kind gets
  403 or 404 — never a 2xx leak — and the object's own party (`own`) reaches it.

The hand-written `test_authorization.py` checks exact outcomes for the registry; this matrix
checks that nothing is forgotten and nothing leaks.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from market.app import create_app
from market.settings import Settings
from tests.api.conftest import Actor, random_credit_code
from tests.api.registry_helpers import Registry, asset_body
from tests.api.trading_helpers import Market, order_body

KINDS = ("collective", "enterprise", "government", "registrar", "certifier", "regulator",
         "operator")  # fmt: skip
ANY = frozenset(KINDS)
TRADERS = frozenset({"collective", "enterprise", "government"})
HOLDERS = frozenset({"collective", "enterprise"})  # right holders: they apply for assets
OVERSEERS = frozenset({"regulator", "operator"})
REGULATOR = frozenset({"regulator"})
OPERATOR = frozenset({"operator"})
PUBLIC = None  # no key needed
MISSING_ID = "zz_0000000000000000000000000z"
NO_BATCH = "bat_0000000000000000000000000z"
NO_PARTY = "pty_0000000000000000000000000z"


@dataclass(frozen=True)
class Spec:
    """What one route's contract implies for each kind of caller."""

    who: frozenset[str] | None  # kinds the route serves; None: public
    body: Any = None
    query: str = ""
    other: str | None = None  # builder of another party's object (its path parameters)
    sees: frozenset[str] = frozenset()  # kinds (besides `own`) that reach that object
    own: str | None = "owner"  # the party whose object it is ("owner" or "peer"), if it may act


def spec(who: frozenset[str] | None, **kw: Any) -> Spec:
    return Spec(who, **kw)


FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
PERIOD = {"quantity": 10, "vintage": 2025, "period_start": "2025-01-01",
          "period_end": "2025-12-31"}  # fmt: skip
REASON = {"reason": "不符"}

EXPECT: dict[tuple[str, str], Spec] = {
    # Operations and the schema: public.
    ("GET", "/health"): spec(PUBLIC),
    ("GET", "/ready"): spec(PUBLIC),
    ("GET", "/metrics"): spec(PUBLIC),
    ("GET", "/schema"): spec(PUBLIC),
    ("GET", "/schema/openapi.json"): spec(PUBLIC),
    ("GET", "/schema/swagger"): spec(PUBLIC),
    ("GET", "/schema/scalar"): spec(PUBLIC),
    ("GET", "/schema/oauth2-redirect.html"): spec(PUBLIC),
    ("GET", "/schema/{path}"): spec(PUBLIC),
    # Parties and keys.
    ("POST", "/v1/parties"): spec(OPERATOR, body="party"),
    ("GET", "/v1/parties"): spec(OVERSEERS),
    ("GET", "/v1/parties/{party_id}"): spec(ANY, other="party", sees=OVERSEERS),
    ("GET", "/v1/me"): spec(ANY),
    ("POST", "/v1/parties/{party_id}/api-keys"): spec(ANY - REGULATOR, other="party", sees=OPERATOR),
    ("DELETE", "/v1/api-keys/{key_id}"): spec(ANY, other="key", sees=OPERATOR),
    # Registry.
    ("GET", "/v1/assets"): spec(ANY),
    ("POST", "/v1/assets"): spec(HOLDERS, body="asset"),
    ("GET", "/v1/assets/{asset_id}"): spec(ANY, other="asset",
                                          sees=frozenset({"registrar"}) | OVERSEERS),
    ("GET", "/v1/assets/{asset_id}/events"): spec(ANY, other="asset",
                                                 sees=frozenset({"registrar"}) | OVERSEERS),
    ("POST", "/v1/assets/{asset_id}/confirm"): spec(frozenset({"registrar"}), other="applied",
                                                   sees=frozenset({"registrar"}), own=None),
    ("POST", "/v1/assets/{asset_id}/reject"): spec(frozenset({"registrar"}), body=REASON,
                                                  other="applied", sees=frozenset({"registrar"}),
                                                  own=None),
    ("POST", "/v1/assets/{asset_id}/cancel"): spec(frozenset({"registrar"}), body=REASON,
                                                  other="asset", sees=frozenset({"registrar"}),
                                                  own=None),
    ("GET", "/v1/product-types"): spec(ANY),
    ("GET", "/v1/eco-products"): spec(ANY),
    ("POST", "/v1/eco-products"): spec(HOLDERS, body={"product_type": "CARBON_SINK",
                                                     "name": "碳汇", "asset_ids": [MISSING_ID]}),
    ("GET", "/v1/eco-products/{product_id}"): spec(ANY, other="product",
                                                  sees=frozenset({"certifier"}) | OVERSEERS),
    ("POST", "/v1/eco-products/{product_id}/certify"): spec(
        frozenset({"certifier"}), body={"standard": "CCER"}, other="product",
        sees=frozenset({"certifier"}), own=None),
    ("POST", "/v1/eco-products/{product_id}/reject"): spec(
        frozenset({"certifier"}), body=REASON, other="product", sees=frozenset({"certifier"}),
        own=None),
    ("POST", "/v1/eco-products/{product_id}/revoke"): spec(
        frozenset({"certifier"}), body=REASON, other="certified", sees=frozenset({"certifier"}),
        own=None),
    ("POST", "/v1/eco-products/{product_id}/batches"): spec(
        frozenset({"certifier"}), body=PERIOD, other="certified", sees=frozenset({"certifier"}),
        own=None),
    ("GET", "/v1/batches/{batch_id}"): spec(ANY, other="batch", sees=ANY),
    ("GET", "/v1/holdings"): spec(ANY, other="party_query", sees=OVERSEERS),
    ("POST", "/v1/transfers"): spec(TRADERS, body={"batch_id": NO_BATCH, "quantity": 1,
                                                  "to_party_id": NO_PARTY}),
    ("POST", "/v1/retirements"): spec(TRADERS, body={"batch_id": NO_BATCH, "quantity": 1,
                                                    "beneficiary": "甲", "reason": "抵销"}),
    ("POST", "/v1/pledges"): spec(TRADERS, body={"batch_id": NO_BATCH, "quantity": 1,
                                                "pledgee_id": NO_PARTY, "reference": "贷款"}),
    ("GET", "/v1/transfers/{transfer_id}"): spec(ANY, other="transfer", sees=OVERSEERS),
    ("GET", "/v1/retirements/{retirement_id}"): spec(ANY, other="retirement", sees=OVERSEERS),
    ("GET", "/v1/pledges/{pledge_id}"): spec(ANY, other="pledge", sees=OVERSEERS),
    ("POST", "/v1/pledges/{pledge_id}/release"): spec(ANY, other="pledge_release", own="peer"),
    ("GET", "/v1/public/retirements"): spec(PUBLIC, query=f"batch_id={NO_BATCH}&serial=1"),
    ("GET", "/v1/claims"): spec(ANY, query=f"asset_id={MISSING_ID}"),
    # Certificates and the log: public.
    ("GET", "/v1/certificates/{certificate_id}"): spec(PUBLIC),
    ("GET", "/v1/certificates/{certificate_id}/bundle"): spec(PUBLIC),
    ("GET", "/verify/{certificate_id}"): spec(PUBLIC),
    ("POST", "/v1/certificates/verify"): spec(PUBLIC, body="certificate"),
    ("GET", "/v1/keys"): spec(PUBLIC),
    ("GET", "/v1/log/head"): spec(PUBLIC),
    ("GET", "/v1/log/proof/inclusion"): spec(PUBLIC, query="leaf_index=0&tree_size=1"),
    ("GET", "/v1/log/proof/consistency"): spec(PUBLIC, query="first=1&second=1"),
    ("POST", "/v1/keys/rotate"): spec(frozenset({"registrar", "certifier", "operator"})),
    ("POST", "/v1/keys/{key_id}/revoke"): spec(frozenset({"registrar", "certifier", "operator"}),
                                              body={}),
    # Cash and payments.
    ("GET", "/v1/cash"): spec(ANY, other="party_query", sees=OVERSEERS),
    ("POST", "/v1/deposits"): spec(TRADERS | OPERATOR, body="deposit"),
    ("GET", "/v1/deposits"): spec(ANY),
    ("GET", "/v1/deposits/{deposit_id}"): spec(ANY, other="deposit", sees=OVERSEERS),
    ("POST", "/v1/withdrawals"): spec(TRADERS, body={"amount": "1.00"}),
    ("GET", "/v1/withdrawals"): spec(ANY),
    ("GET", "/v1/withdrawals/{withdrawal_id}"): spec(ANY, other="withdrawal", sees=OVERSEERS),
    ("POST", "/v1/withdrawals/{withdrawal_id}/cancel"): spec(ANY, other="withdrawal-cancel"),
    ("POST", "/v1/withdrawals/{withdrawal_id}/paid"): spec(OPERATOR, body={},
                                                          other="withdrawal-paid",
                                                          sees=OPERATOR, own=None),
    ("POST", "/v1/withdrawals/{withdrawal_id}/failed"): spec(OPERATOR, body={},
                                                            other="withdrawal-failed",
                                                            sees=OPERATOR, own=None),
    ("POST", "/v1/withdrawals/{withdrawal_id}/payout"): spec(OPERATOR,
                                                            other="withdrawal-payout",
                                                            sees=OPERATOR, own=None),
    # Reading another party's connected account is checked on no such account (404 for all).
    ("GET", "/v1/parties/{party_id}/stripe-account"): spec(ANY),
    ("POST", "/v1/parties/{party_id}/stripe-account"): spec(
        OPERATOR, body={"account_id": "acct_1ABCDEFGHIJKLMNO"}, other="party", sees=OPERATOR,
        own=None),
    ("GET", "/v1/ledger/entries"): spec(ANY, other="party_query", sees=REGULATOR),
    ("POST", "/v1/fees/sweep"): spec(OPERATOR),
    ("POST", "/v1/webhooks/stripe"): spec(PUBLIC),
    # Trading.
    ("GET", "/v1/instruments"): spec(PUBLIC),
    ("POST", "/v1/instruments"): spec(OPERATOR, body="instrument"),
    ("GET", "/v1/instruments/{symbol}"): spec(PUBLIC),
    ("GET", "/v1/instruments/{symbol}/book"): spec(PUBLIC),
    ("GET", "/v1/instruments/{symbol}/trades"): spec(PUBLIC),
    ("POST", "/v1/instruments/{symbol}/status"): spec(OVERSEERS, body={"status": "halted"}),
    ("POST", "/v1/orders"): spec(TRADERS, body="order"),
    ("GET", "/v1/orders"): spec(ANY),
    ("GET", "/v1/orders/{order_id}"): spec(ANY, other="order", sees=REGULATOR),
    ("DELETE", "/v1/orders/{order_id}"): spec(TRADERS, other="order-cancel"),
    ("GET", "/v1/trades"): spec(ANY),
    ("GET", "/v1/trades/{trade_id}"): spec(ANY, other="trade", sees=REGULATOR),
    ("POST", "/v1/block-trades"): spec(TRADERS, body="block"),
    ("GET", "/v1/block-trades"): spec(ANY),
    ("GET", "/v1/block-trades/{block_id}"): spec(ANY, other="block", sees=REGULATOR),
    ("POST", "/v1/block-trades/{block_id}/accept"): spec(ANY, other="block-accept", own="peer"),
    ("POST", "/v1/block-trades/{block_id}/decline"): spec(ANY, other="block-decline",
                                                         own="peer"),
    ("POST", "/v1/block-trades/{block_id}/cancel"): spec(ANY, other="block-cancel"),
    ("POST", "/v1/auctions"): spec(TRADERS, body="auction"),
    ("GET", "/v1/auctions/{auction_id}"): spec(PUBLIC),
    ("GET", "/v1/auctions/{auction_id}/bids"): spec(ANY),
    ("POST", "/v1/auctions/{auction_id}/bids"): spec(TRADERS, body={"price": "50.00",
                                                                   "quantity": 1},
                                                    other="auction", sees=TRADERS, own=None),
    ("POST", "/v1/auctions/{auction_id}/close"): spec(TRADERS | OPERATOR, other="auction-close",
                                                     sees=OPERATOR),
    ("GET", "/v1/oversight/trades"): spec(REGULATOR),
    # Oversight.
    ("GET", "/v1/oversight/orders"): spec(REGULATOR),
    ("GET", "/v1/oversight/orders/{order_id}/trail"): spec(REGULATOR, other="order",
                                                          sees=REGULATOR, own=None),
    ("GET", "/v1/oversight/alerts"): spec(REGULATOR),
    ("GET", "/v1/oversight/alerts/{alert_id}"): spec(REGULATOR),
    ("POST", "/v1/oversight/alerts/{alert_id}/review"): spec(REGULATOR, body={"note": "ok"}),
    ("GET", "/v1/oversight/approvals"): spec(REGULATOR),
    ("POST", "/v1/oversight/approvals/{approval_id}/approve"): spec(
        REGULATOR, body={}, other="approval", sees=REGULATOR, own=None),
    ("POST", "/v1/oversight/approvals/{approval_id}/reject"): spec(
        REGULATOR, body=REASON, other="approval-reject", sees=REGULATOR, own=None),
    ("POST", "/v1/oversight/parties/{party_id}/freeze"): spec(REGULATOR, other="target",
                                                             sees=REGULATOR, own=None),
    ("POST", "/v1/oversight/parties/{party_id}/unfreeze"): spec(REGULATOR, other="target",
                                                               sees=REGULATOR, own=None),
    ("GET", "/v1/oversight/invariants"): spec(OVERSEERS),
    ("GET", "/v1/oversight/export"): spec(REGULATOR, query="kind=trades&format=jsonl"),
    # Value accounting and compensation.
    ("GET", "/v1/gep/methodologies"): spec(PUBLIC),
    ("POST", "/v1/gep/methodologies"): spec(OVERSEERS, body="methodology"),
    ("POST", "/v1/gep/accounts"): spec(frozenset({"certifier"}), body="account"),
    ("GET", "/v1/gep/accounts"): spec(PUBLIC, query="region_code=110105&year=2025"),
    ("GET", "/v1/gep/accounts/{account_id}"): spec(PUBLIC, other="draft", sees=REGULATOR,
                                                  own=None),
    ("POST", "/v1/gep/accounts/{account_id}/publish"): spec(frozenset({"certifier"}),
                                                           other="draft-publish", own=None),
    ("POST", "/v1/monitoring/records"): spec(frozenset({"registrar", "certifier"}),
                                             body="record"),
    ("GET", "/v1/monitoring/records"): spec(PUBLIC),
    ("POST", "/v1/compensation/schemes"): spec(frozenset({"government"}), body="scheme"),
    ("GET", "/v1/compensation/schemes"): spec(PUBLIC),
    ("GET", "/v1/compensation/schemes/{scheme_id}"): spec(PUBLIC),
    ("POST", "/v1/compensation/schemes/{scheme_id}/fund"): spec(
        frozenset({"government"}), body={"amount": "1.00"}, other="scheme", own=None),
    ("POST", "/v1/compensation/schemes/{scheme_id}/periods"): spec(
        frozenset({"government"}), body={"period_start": "2025-01-01",
                                         "period_end": "2025-12-31", "preview": True},
        other="scheme", own=None),
    ("GET", "/v1/compensation/payments"): spec(ANY, other="party_query", sees=REGULATOR),
}  # fmt: skip


def served_routes() -> set[tuple[str, str]]:
    settings = Settings(database_url="postgresql://unused@127.0.0.1/unused")
    routes: set[tuple[str, str]] = set()
    for route in create_app(settings).routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in getattr(route, "methods", ()):
            if method not in ("HEAD", "OPTIONS"):
                routes.add((method, path))
    return routes


def test_every_route_has_an_entry() -> None:
    served = served_routes()
    assert served - EXPECT.keys() == set(), "routes with no authorization expectation"
    assert EXPECT.keys() - served == set(), "expectations for routes that no longer exist"


@dataclass
class World:
    """Callers of every kind, unrelated to the objects; the objects belong to `owner` (a
    collective) and, where two parties are involved, `peer` (an enterprise)."""

    market: Market
    callers: dict[str, Actor]
    owner: Actor
    peer: Actor
    certifier: Actor  # drafts GEP accounts; not the certifier among the callers
    payer: Actor  # a government paying a scheme; not the government among the callers
    symbol: str
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def registry(self) -> Registry:
        return self.market.registry

    async def once(self, name: str, build: Callable[[], Awaitable[Any]]) -> Any:
        if name not in self.cache:
            self.cache[name] = await build()
        return self.cache[name]

    async def batch(self) -> dict[str, Any]:
        return dict(await self.once("batch", lambda: self.registry.batch(self.owner, 10_000)))

    async def created(self, actor: Actor, path: str, body: Any, status: int = 201) -> Any:
        response = await actor.post(path, json=body)
        assert response.status_code == status, (path, response.text)
        return response.json()

    async def body(self, name: str, caller: Actor) -> Any:
        """A valid request body for a creating route, as `caller` would send it."""
        batch = await self.batch()
        bodies: dict[str, Any] = {
            "party": {"name": "新主体", "kind": "enterprise", "credit_code": random_credit_code(),
                      "region_code": "110105"},
            "asset": asset_body(caller),
            "certificate": {"id": MISSING_ID, "kind": "trade", "payload": {"a": "1"},
                            "signature": "AAAA", "alg": "Ed25519", "key_id": "k"},
            "deposit": ({"party_id": self.owner.id, "amount": "1.00", "method": "bank_transfer",
                         "reference": "r"} if caller.kind == "operator" else {"amount": "1.00"}),
            "instrument": {"symbol": f"MX{secrets.token_hex(3).upper()}",
                           "product_type": "CARBON_SINK", "reference_price": "50.00"},
            "order": order_body(self.symbol, "buy", 1, "50.00"),
            "block": {"instrument": self.symbol, "price": "50.00", "quantity": 1,
                      "buyer_id": self.peer.id, "batch_id": batch["id"]},
            "auction": {"instrument": self.symbol, "quantity": 1, "reserve_price": "40.00",
                        "ends_at": FUTURE, "batch_id": batch["id"]},
            "methodology": {"code": f"M{secrets.token_hex(3).upper()}", "version": "1",
                            "indicators": [{"code": "water_conservation", "name": "水源涵养",
                                            "category": "regulating", "unit": "m3",
                                            "price": "1.00"}]},
            "account": {"region_code": "110105", "year": 2025,
                        "methodology": {"code": "CN-GEP", "version": "2022-illustrative"},
                        "lines": [{"indicator": "water_conservation", "quantity": "1"}]},
            "record": {"subject": {"region_code": "110105"}, "indicator": "water_conservation",
                       "period_start": "2025-01-01", "period_end": "2025-12-31", "value": "1",
                       "unit": "m3"},
            "scheme": {"name": "补偿", "kind": "classified",
                       "rules": {"region_prefix": "1101", "resource_type": "forest",
                                 "service": "water_conservation", "rate_per_ha": "1.00"}},
        }  # fmt: skip
        return bodies[name]

    async def withdrawal(self) -> str:
        await self.market.deposit(self.owner, "10.00")
        made = await self.created(self.owner, "/v1/withdrawals", {"amount": "1.00"})
        return str(made["id"])

    async def sell_order(self) -> dict[str, Any]:
        batch = await self.batch()
        body = order_body(self.symbol, "sell", 1, "55.00", batch_id=batch["id"])
        return dict(await self.created(self.owner, "/v1/orders", body))

    async def trade(self) -> str:
        batch = await self.batch()
        sell = order_body(self.symbol, "sell", 1, "45.00", batch_id=batch["id"])
        await self.created(self.owner, "/v1/orders", sell)
        await self.market.deposit(self.peer, "1000.00")
        buy = await self.created(
            self.peer, "/v1/orders", order_body(self.symbol, "buy", 1, "45.00")
        )
        return str(buy["fills"][0]["trade_id"])

    async def block(self) -> str:
        body = await self.body("block", self.owner)
        return str((await self.created(self.owner, "/v1/block-trades", body))["id"])

    async def auction(self, ends_at: str = FUTURE) -> str:
        body = await self.body("auction", self.owner)
        body["ends_at"] = ends_at
        return str((await self.created(self.owner, "/v1/auctions", body))["id"])

    async def approval(self) -> str:
        batch = await self.once(
            "water", lambda: self.registry.current_batch(self.owner, 100, "WATER_RIGHT")
        )
        moved = await self.created(
            self.owner, "/v1/transfers",
            {"batch_id": batch["id"], "quantity": 1, "to_party_id": self.peer.id},
        )  # fmt: skip
        listed = await self.registry.regulator.get(
            "/v1/oversight/approvals", params={"status": "pending", "limit": 500}
        )
        items = listed.json()["items"]
        return str(next(a["id"] for a in items if a["subject_id"] == moved["id"]))

    async def draft(self) -> str:
        body = await self.body("account", self.certifier)
        body["region_code"] = f"{secrets.randbelow(40) + 51}{secrets.randbelow(9000) + 1000}"
        return str((await self.created(self.certifier, "/v1/gep/accounts", body))["id"])

    async def params(self, name: str) -> dict[str, str]:
        """Path parameters (or `query`) naming another party's object of the given kind."""
        batch_id = (await self.batch())["id"]
        builders: dict[str, Callable[[], Awaitable[dict[str, str]]]] = {
            "party": self._const({"party_id": self.owner.id}),
            "party_query": self._const({"query": f"party_id={self.owner.id}"}),
            "key": self._key,
            "asset": self._id("asset_id", lambda: self.registry.confirmed_asset(self.owner)),
            "applied": self._id("asset_id", lambda: self.registry.applied_asset(self.owner)),
            "product": self._id("product_id", self._pending_product),
            "certified": self._id(
                "product_id", lambda: self.registry.certified_product(self.owner)
            ),
            "batch": self._const({"batch_id": batch_id}),
            "transfer": self._id("transfer_id", lambda: self.created(
                self.owner, "/v1/transfers",
                {"batch_id": batch_id, "quantity": 1, "to_party_id": self.peer.id})),
            "retirement": self._id("retirement_id", lambda: self.created(
                self.owner, "/v1/retirements",
                {"batch_id": batch_id, "quantity": 1, "beneficiary": "甲", "reason": "r"})),
            "pledge": self._id("pledge_id", self._pledge),
            "pledge_release": self._id("pledge_id", self._pledge),
            "deposit": self._id("deposit_id", lambda: self.created(
                self.registry.operator, "/v1/deposits",
                {"party_id": self.owner.id, "amount": "1.00", "method": "bank_transfer",
                 "reference": "r"})),
            "withdrawal": self._value("withdrawal_id", self.withdrawal),
            "order": self._id("order_id", self.sell_order),
            "trade": self._value("trade_id", self.trade),
            "block": self._value("block_id", self.block),
            "auction": self._value("auction_id", self.auction),
            "approval": self._value("approval_id", self.approval),
            "target": self._target,
            "draft": self._value("account_id", self.draft),
            "scheme": self._id("scheme_id", self._scheme),
        }  # fmt: skip
        # "order-cancel", "block-accept"…: a fresh object of that kind for a route that changes it.
        kind = name.split("-")[0]
        return dict(await self.once(f"params:{name}", builders[kind]))

    async def _scheme(self) -> dict[str, Any]:
        body = await self.body("scheme", self.payer)
        return dict(await self.created(self.payer, "/v1/compensation/schemes", body))

    @staticmethod
    def _const(value: dict[str, str]) -> Callable[[], Awaitable[dict[str, str]]]:
        async def build() -> dict[str, str]:
            return value

        return build

    @staticmethod
    def _id(
        name: str, make: Callable[[], Awaitable[Any]]
    ) -> Callable[[], Awaitable[dict[str, str]]]:
        async def build() -> dict[str, str]:
            return {name: str((await make())["id"])}

        return build

    @staticmethod
    def _value(
        name: str, make: Callable[[], Awaitable[str]]
    ) -> Callable[[], Awaitable[dict[str, str]]]:
        async def build() -> dict[str, str]:
            return {name: await make()}

        return build

    async def _key(self) -> dict[str, str]:
        made = await self.created(self.registry.operator, f"/v1/parties/{self.owner.id}/api-keys",
                                  None)  # fmt: skip
        return {"key_id": str(made["id"])}

    async def _pending_product(self) -> dict[str, Any]:
        asset = await self.registry.confirmed_asset(self.owner)
        body = {"product_type": "CARBON_SINK", "name": "碳汇", "asset_ids": [asset["id"]]}
        return dict(await self.created(self.owner, "/v1/eco-products", body))

    async def _pledge(self) -> dict[str, Any]:
        body = {"batch_id": (await self.batch())["id"], "quantity": 1, "pledgee_id": self.peer.id,
                "reference": "贷款"}  # fmt: skip
        return dict(await self.created(self.owner, "/v1/pledges", body))

    async def _target(self) -> dict[str, str]:
        return {"party_id": (await self.registry.trader("collective")).id}


@pytest.fixture
async def world(market: Market) -> World:
    registry = market.registry
    callers = {kind: await registry.make_party(kind)
               for kind in ("collective", "enterprise", "government")}  # fmt: skip
    callers |= {"registrar": registry.registrar, "certifier": registry.certifier,
                "regulator": registry.regulator, "operator": registry.operator}  # fmt: skip
    instrument = await market.instrument()
    return World(
        market, callers, await registry.trader("collective"), await registry.trader("enterprise"),
        await registry.make_party("certifier"), await registry.make_party("government"),
        instrument["symbol"],
    )  # fmt: skip


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), MISSING_ID), path)


async def call(
    actor: Actor | None, client: Any, method: str, path: str, body: Any
) -> httpx.Response:
    headers = actor.headers if actor else {}
    if body is None:
        return await client.request(method, path, headers=headers)  # type: ignore[no-any-return]
    return await client.request(method, path, json=body, headers=headers)  # type: ignore[no-any-return]


async def test_matrix(world: World) -> None:
    failures: list[str] = []
    client = world.owner.client
    calls = 0

    def expect(ok: bool, what: str, response: httpx.Response) -> None:
        if not ok:
            failures.append(f"{what}: {response.status_code} {response.text[:160]}")

    for (method, template), rule in sorted(EXPECT.items()):
        if template.startswith("/schema") or template in ("/metrics", "/v1/webhooks/stripe"):
            continue  # public documents; the webhook is checked by its own signature tests
        params = re.findall(r"\{(\w+)\}", template)
        query = f"?{rule.query}" if rule.query else ""
        missing = fill(template, {"symbol": "NOSUCH"}) + query
        name = f"{method} {template}"

        async def body_for(caller: Actor, rule: Spec = rule) -> Any:
            if isinstance(rule.body, str):
                return await world.body(rule.body, caller)
            return rule.body

        # No key.
        response = await call(None, client, method, missing, await body_for(world.owner))
        calls += 1
        if rule.who is PUBLIC:
            expect(response.status_code != 401 and response.status_code < 500,
                   f"{name} public, no key", response)  # fmt: skip
        else:
            expect(response.status_code == 401, f"{name} no key", response)
        # Every kind, on no such object (or, without an object, the role check).
        for kind in KINDS:
            caller = world.callers[kind]
            response = await call(caller, client, method, missing, await body_for(caller))
            calls += 1
            status = response.status_code
            serves = rule.who is PUBLIC or kind in rule.who
            if params and template != "/v1/instruments/{symbol}/status":
                want = {404} if serves else {403, 404}
                expect(status in want, f"{name} as {kind}, no such object", response)
            elif serves:
                expect(status not in (401, 403) and status < 500, f"{name} as {kind}", response)
            else:
                expect(status == 403, f"{name} as {kind}, wrong role", response)
        if rule.other is None:
            continue
        # Another party's object: strangers first (no effect), then its own party, then the
        # kinds that may act on it.
        built = await world.params(rule.other)
        path = fill(template, built)
        path += f"?{built['query']}" if "query" in built else query
        own = {"owner": world.owner, "peer": world.peer}.get(rule.own or "")
        strangers = [k for k in KINDS if k not in rule.sees]
        for kind in strangers:
            caller = world.callers[kind]
            response = await call(caller, client, method, path, await body_for(caller))
            calls += 1
            expect(response.status_code in (403, 404), f"{name} as {kind}, another's", response)
        for actor in ([own] if own else []) + [world.callers[k] for k in KINDS if k in rule.sees]:
            response = await call(actor, client, method, path, await body_for(actor))
            calls += 1
            expect(response.status_code not in (401, 403, 404) and response.status_code < 500,
                   f"{name} as {actor.kind} ({'own' if actor is own else 'sees'})",
                   response)  # fmt: skip
    print(f"authorization matrix: {len(EXPECT)} routes, {calls} calls, {len(failures)} failures")
    assert not failures, "\n".join(failures)
