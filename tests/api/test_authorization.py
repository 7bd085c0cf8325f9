"""Role × endpoint table for the party, registry and oversight endpoints.

Each row names an endpoint, the party kinds allowed to call it and what every other kind gets
(403 for a wrong role, 404 where the object belongs to someone else and must stay hidden). The
six callers are parties unrelated to the objects, except where `prepare` builds the object for
the caller itself (a right holder applying, a holder moving its own units).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry

KINDS = ("collective", "enterprise", "registrar", "certifier", "regulator", "operator")
TRADERS = {"collective", "enterprise"}
EVERYONE = set(KINDS)
OVERSEERS = {"regulator", "operator"}


@dataclass
class World:
    """Six callers (one per kind) and lazily built objects owned by two other traders."""

    registry: Registry
    callers: dict[str, Actor]
    owner: Actor
    peer: Actor
    cache: dict[str, Any] = field(default_factory=dict)

    async def once(self, name: str, build: Callable[[], Awaitable[Any]]) -> Any:
        if name not in self.cache:
            self.cache[name] = await build()
        return self.cache[name]

    async def batch(self) -> dict[str, Any]:
        return dict(await self.once("batch", lambda: self.registry.batch(self.owner, 1_000)))

    async def transfer(self) -> dict[str, Any]:
        async def build() -> Any:
            batch = await self.batch()
            response = await self.owner.post(
                "/v1/transfers",
                json={"batch_id": batch["id"], "quantity": 5, "to_party_id": self.peer.id},
            )
            assert response.status_code == 201, response.text
            return response.json()

        return dict(await self.once("transfer", build))

    async def retirement(self) -> dict[str, Any]:
        async def build() -> Any:
            batch = await self.batch()
            response = await self.owner.post(
                "/v1/retirements",
                json={"batch_id": batch["id"], "quantity": 5, "beneficiary": "甲", "reason": "r"},
            )
            assert response.status_code == 201, response.text
            return response.json()

        return dict(await self.once("retirement", build))

    async def pledge(self) -> dict[str, Any]:
        async def build() -> Any:
            batch = await self.batch()
            response = await self.owner.post(
                "/v1/pledges",
                json={"batch_id": batch["id"], "quantity": 5, "pledgee_id": self.peer.id,
                      "reference": "贷款"},
            )  # fmt: skip
            assert response.status_code == 201, response.text
            return response.json()

        return dict(await self.once("pledge", build))

    async def approval(self) -> dict[str, Any]:
        batch = await self.registry.current_batch(self.owner, 100, "WATER_RIGHT")
        response = await self.owner.post(
            "/v1/transfers",
            json={"batch_id": batch["id"], "quantity": 5, "to_party_id": self.peer.id},
        )
        assert response.status_code == 201, response.text
        listed = await self.registry.regulator.get(
            "/v1/oversight/approvals", params={"status": "pending", "limit": 500}
        )
        return next(a for a in listed.json()["items"] if a["subject_id"] == response.json()["id"])


# (path, json body) for one caller; None body means no body.
Prepared = tuple[str, Any]
Prepare = Callable[[World, Actor], Awaitable[Prepared]]


def fixed(path: str, body: Any = None) -> Prepare:
    async def prepare(world: World, caller: Actor) -> Prepared:
        return path, body

    return prepare


async def _party_body(world: World, caller: Actor) -> Prepared:
    from tests.api.conftest import random_credit_code

    body = {"name": "新主体", "kind": "enterprise", "credit_code": random_credit_code(),
            "region_code": "110105"}  # fmt: skip
    return "/v1/parties", body


async def _other_party(world: World, caller: Actor) -> Prepared:
    return f"/v1/parties/{world.owner.id}", None


async def _new_key_for_other(world: World, caller: Actor) -> Prepared:
    return f"/v1/parties/{world.owner.id}/api-keys", None


async def _revoke_other_key(world: World, caller: Actor) -> Prepared:
    async def build() -> Any:
        made = await world.registry.operator.post(f"/v1/parties/{world.owner.id}/api-keys")
        assert made.status_code == 201, made.text
        return made.json()["id"]

    return f"/v1/api-keys/{await world.once('key', build)}", None


async def _apply_asset(world: World, caller: Actor) -> Prepared:
    from tests.api.registry_helpers import asset_body

    return "/v1/assets", asset_body(caller)


async def _applied_asset(world: World) -> dict[str, Any]:
    return await world.registry.applied_asset(world.owner)


async def _confirm(world: World, caller: Actor) -> Prepared:
    asset = await world.once("to-confirm", lambda: _applied_asset(world))
    return f"/v1/assets/{asset['id']}/confirm", None


async def _reject(world: World, caller: Actor) -> Prepared:
    asset = await world.once("to-reject", lambda: _applied_asset(world))
    return f"/v1/assets/{asset['id']}/reject", {"reason": "不符"}


async def _cancel(world: World, caller: Actor) -> Prepared:
    asset = await world.once("to-cancel", lambda: world.registry.confirmed_asset(world.owner))
    return f"/v1/assets/{asset['id']}/cancel", {"reason": "注销"}


async def _confirmed(world: World) -> dict[str, Any]:
    return dict(await world.once("asset", lambda: world.registry.confirmed_asset(world.owner)))


async def _get_asset(world: World, caller: Actor) -> Prepared:
    return f"/v1/assets/{(await _confirmed(world))['id']}", None


async def _asset_events(world: World, caller: Actor) -> Prepared:
    return f"/v1/assets/{(await _confirmed(world))['id']}/events", None


async def _apply_product(world: World, caller: Actor) -> Prepared:
    # Traders apply on their own confirmed asset; other kinds on someone else's.
    holder = caller if caller.kind in TRADERS else world.owner
    asset = await world.registry.confirmed_asset(holder)
    return "/v1/eco-products", {"product_type": "CARBON_SINK", "name": "碳汇",
                                "asset_ids": [asset["id"]]}  # fmt: skip


async def _pending_product(world: World) -> dict[str, Any]:
    asset = await world.registry.confirmed_asset(world.owner)
    response = await world.owner.post(
        "/v1/eco-products",
        json={"product_type": "CARBON_SINK", "name": "碳汇", "asset_ids": [asset["id"]]},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _get_product(world: World, caller: Actor) -> Prepared:
    product = await world.once("product", lambda: _pending_product(world))
    return f"/v1/eco-products/{product['id']}", None


async def _certify(world: World, caller: Actor) -> Prepared:
    product = await world.once("to-certify", lambda: _pending_product(world))
    return f"/v1/eco-products/{product['id']}/certify", {"standard": "CCER"}


async def _reject_product(world: World, caller: Actor) -> Prepared:
    product = await world.once("to-reject-product", lambda: _pending_product(world))
    return f"/v1/eco-products/{product['id']}/reject", {"reason": "不符"}


async def _revoke_product(world: World, caller: Actor) -> Prepared:
    product = await world.once("to-revoke", lambda: world.registry.certified_product(world.owner))
    return f"/v1/eco-products/{product['id']}/revoke", {"reason": "撤销"}


async def _issue(world: World, caller: Actor) -> Prepared:
    product = await world.once("to-issue", lambda: world.registry.certified_product(world.owner))
    return f"/v1/eco-products/{product['id']}/batches", {
        "quantity": 10, "vintage": 2025, "period_start": "2025-01-01", "period_end": "2025-12-31"
    }  # fmt: skip


async def _get_batch(world: World, caller: Actor) -> Prepared:
    return f"/v1/batches/{(await world.batch())['id']}", None


async def _other_holdings(world: World, caller: Actor) -> Prepared:
    return f"/v1/holdings?party_id={world.owner.id}", None


async def _own_batch(world: World, caller: Actor) -> dict[str, Any]:
    if caller.kind in TRADERS:
        return dict(
            await world.once(f"batch-{caller.kind}", lambda: world.registry.batch(caller, 100))
        )
    return await world.batch()


async def _transfer(world: World, caller: Actor) -> Prepared:
    batch = await _own_batch(world, caller)
    return "/v1/transfers", {"batch_id": batch["id"], "quantity": 1, "to_party_id": world.peer.id}


async def _retire(world: World, caller: Actor) -> Prepared:
    batch = await _own_batch(world, caller)
    return "/v1/retirements", {"batch_id": batch["id"], "quantity": 1, "beneficiary": "甲",
                               "reason": "抵销"}  # fmt: skip


async def _pledge(world: World, caller: Actor) -> Prepared:
    batch = await _own_batch(world, caller)
    return "/v1/pledges", {"batch_id": batch["id"], "quantity": 1, "pledgee_id": world.peer.id,
                           "reference": "贷款"}  # fmt: skip


async def _get_transfer(world: World, caller: Actor) -> Prepared:
    return f"/v1/transfers/{(await world.transfer())['id']}", None


async def _get_retirement(world: World, caller: Actor) -> Prepared:
    return f"/v1/retirements/{(await world.retirement())['id']}", None


async def _get_pledge(world: World, caller: Actor) -> Prepared:
    return f"/v1/pledges/{(await world.pledge())['id']}", None


async def _approve(world: World, caller: Actor) -> Prepared:
    approval = await world.once("to-approve", world.approval)
    return f"/v1/oversight/approvals/{approval['id']}/approve", None


async def _reject_approval(world: World, caller: Actor) -> Prepared:
    approval = await world.once("to-reject-approval", world.approval)
    return f"/v1/oversight/approvals/{approval['id']}/reject", {"reason": "不批"}


async def _freeze(world: World, caller: Actor) -> Prepared:
    return f"/v1/oversight/parties/{world.peer.id}/freeze", None


async def _unfreeze(world: World, caller: Actor) -> Prepared:
    return f"/v1/oversight/parties/{world.peer.id}/unfreeze", None


@dataclass(frozen=True)
class Row:
    method: str
    name: str
    prepare: Prepare
    allowed: frozenset[str]
    denied: frozenset[int] = frozenset({403})


def row(
    method: str, name: str, prepare: Prepare, allowed: set[str], denied: set[int] | None = None
) -> Any:
    r = Row(method, name, prepare, frozenset(allowed), frozenset(denied or {403}))
    return pytest.param(r, id=f"{method} {name}")


ROWS = [
    row("POST", "/v1/parties", _party_body, {"operator"}),
    row("GET", "/v1/parties", fixed("/v1/parties"), OVERSEERS),
    row("GET", "/v1/parties/{other}", _other_party, OVERSEERS, {404}),
    row("GET", "/v1/me", fixed("/v1/me"), EVERYONE),
    # Regulators are told they may not (403); anyone else must not learn the party exists.
    row("POST", "/v1/parties/{other}/api-keys", _new_key_for_other, {"operator"}, {403, 404}),
    row("DELETE", "/v1/api-keys/{other's}", _revoke_other_key, {"operator"}, {404}),
    row("POST", "/v1/assets", _apply_asset, TRADERS),
    row("GET", "/v1/assets", fixed("/v1/assets"), EVERYONE),
    row("GET", "/v1/assets/{other's}", _get_asset, {"registrar", *OVERSEERS}, {404}),
    row("GET", "/v1/assets/{other's}/events", _asset_events, {"registrar", *OVERSEERS}, {404}),
    row("POST", "/v1/assets/{id}/confirm", _confirm, {"registrar"}),
    row("POST", "/v1/assets/{id}/reject", _reject, {"registrar"}),
    row("POST", "/v1/assets/{id}/cancel", _cancel, {"registrar"}),
    row("GET", "/v1/product-types", fixed("/v1/product-types"), EVERYONE),
    row("POST", "/v1/eco-products", _apply_product, TRADERS),
    row("GET", "/v1/eco-products", fixed("/v1/eco-products"), EVERYONE),
    row("GET", "/v1/eco-products/{other's}", _get_product, {"certifier", *OVERSEERS}, {404}),
    row("POST", "/v1/eco-products/{id}/certify", _certify, {"certifier"}),
    row("POST", "/v1/eco-products/{id}/reject", _reject_product, {"certifier"}),
    row("POST", "/v1/eco-products/{id}/revoke", _revoke_product, {"certifier"}),
    row("POST", "/v1/eco-products/{id}/batches", _issue, {"certifier"}),
    row("GET", "/v1/batches/{id}", _get_batch, EVERYONE),
    row("GET", "/v1/holdings", fixed("/v1/holdings"), EVERYONE),
    row("GET", "/v1/holdings?party_id={other}", _other_holdings, OVERSEERS, {404}),
    row("POST", "/v1/transfers", _transfer, TRADERS),
    row("POST", "/v1/retirements", _retire, TRADERS),
    row("POST", "/v1/pledges", _pledge, TRADERS),
    row("GET", "/v1/transfers/{other's}", _get_transfer, OVERSEERS, {404}),
    row("GET", "/v1/retirements/{other's}", _get_retirement, OVERSEERS, {404}),
    row("GET", "/v1/pledges/{other's}", _get_pledge, OVERSEERS, {404}),
    row("GET", "/v1/oversight/approvals", fixed("/v1/oversight/approvals"), {"regulator"}),
    row("POST", "/v1/oversight/approvals/{id}/approve", _approve, {"regulator"}),
    row("POST", "/v1/oversight/approvals/{id}/reject", _reject_approval, {"regulator"}),
    row("POST", "/v1/oversight/parties/{id}/freeze", _freeze, {"regulator"}),
    row("POST", "/v1/oversight/parties/{id}/unfreeze", _unfreeze, {"regulator"}),
    row("GET", "/v1/oversight/invariants", fixed("/v1/oversight/invariants"), OVERSEERS),
    row("GET", "/v1/oversight/orders", fixed("/v1/oversight/orders"), {"regulator"}),
    row("GET", "/v1/oversight/alerts", fixed("/v1/oversight/alerts"), {"regulator"}),
    row(
        "GET",
        "/v1/oversight/export",
        fixed("/v1/oversight/export?kind=retirements&format=jsonl"),
        {"regulator"},
    ),
]


@pytest.fixture
async def world(registry: Registry) -> World:
    callers = {
        "collective": await registry.trader("collective"),
        "enterprise": await registry.trader("enterprise"),
        "registrar": registry.registrar,
        "certifier": registry.certifier,
        "regulator": registry.regulator,
        "operator": registry.operator,
    }
    return World(registry, callers, await registry.trader(), await registry.trader("enterprise"))


async def call(
    client: Any, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    if body is None:
        return await client.request(method, path, headers=headers)
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("endpoint", ROWS)
async def test_role_table(world: World, endpoint: Row) -> None:
    # Denied kinds first, so that an allowed call (which may change the object) comes last.
    order = sorted(KINDS, key=lambda k: k in endpoint.allowed)
    for kind in order:
        caller = world.callers[kind]
        path, body = await endpoint.prepare(world, caller)
        client = caller.client

        anonymous = await call(client, endpoint.method, path, body, {})
        assert anonymous.status_code == 401, (kind, anonymous.text)
        assert anonymous.json()["code"] == "unauthenticated"
        bad_key = await call(client, endpoint.method, path, body, {"Authorization": "Bearer nope"})
        assert bad_key.status_code == 401, (kind, bad_key.text)

        response = await call(client, endpoint.method, path, body, caller.headers)
        if kind in endpoint.allowed:
            assert response.status_code < 400, (kind, path, response.text)
        else:
            assert response.status_code in endpoint.denied, (kind, path, response.text)
            code = response.json()["code"]
            assert code == ("forbidden" if response.status_code == 403 else "not_found"), code


async def test_owners_read_their_own_objects(world: World) -> None:
    """The 404s above are about strangers: the parties involved do see their objects."""
    owner, peer = world.owner, world.peer
    for prepare in (_get_asset, _asset_events, _get_product, _get_transfer, _get_retirement,
                    _get_pledge):  # fmt: skip
        path, _ = await prepare(world, owner)
        response = await owner.get(path)
        assert response.status_code == 200, (path, response.text)
    for prepare in (_get_transfer, _get_pledge):
        path, _ = await prepare(world, peer)
        assert (await peer.get(path)).status_code == 200, path
    # The peer received units but the retirement is the owner's alone.
    path, _ = await _get_retirement(world, peer)
    assert (await peer.get(path)).status_code == 404
    # Another collective's list of assets does not include the owner's.
    listed = await world.callers["collective"].get("/v1/assets", params={"limit": 500})
    asset_id = (await _confirmed(world))["id"]
    assert asset_id not in [a["id"] for a in listed.json()["items"]]
    products = await world.callers["collective"].get("/v1/eco-products", params={"limit": 500})
    product_id = (await world.once("product", lambda: _pending_product(world)))["id"]
    assert product_id not in [p["id"] for p in products.json()["items"]]


async def test_public_retirement_lookup_needs_no_key(world: World) -> None:
    retirement = await world.retirement()
    first = retirement["ranges"][0]["start"]
    response = await world.owner.client.get(
        "/v1/public/retirements", params={"batch_id": retirement["batch_id"], "serial": first}
    )
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["items"]] == [retirement["id"]]
