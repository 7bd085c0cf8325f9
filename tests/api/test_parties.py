"""Parties and API keys."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.conftest import Actor, PartyFactory, random_credit_code


async def test_operator_creates_a_party_whose_key_works(
    operator: Actor, make_party: PartyFactory
) -> None:
    collective = await make_party("collective", name="东山村股份经济合作社")
    me = await collective.get("/v1/me")
    assert me.status_code == 200
    assert me.json()["kind"] == "collective"
    assert me.json()["name"] == "东山村股份经济合作社"
    assert me.json()["status"] == "active"


async def test_bad_credit_code_is_422(operator: Actor) -> None:
    code = random_credit_code()
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    response = await operator.post(
        "/v1/parties",
        json={"name": "x", "kind": "enterprise", "credit_code": wrong, "region_code": "110105"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_credit_code"


async def test_duplicate_credit_code_is_409(operator: Actor) -> None:
    body = {"name": "x", "kind": "enterprise", "credit_code": random_credit_code(),
            "region_code": "110105"}  # fmt: skip
    assert (await operator.post("/v1/parties", json=body)).status_code == 201
    again = await operator.post("/v1/parties", json=body)
    assert again.status_code == 409
    assert again.json()["code"] == "party_exists"


async def test_missing_and_invalid_keys_are_401(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/v1/me")).status_code == 401
    bad = await client.get("/v1/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["code"] == "unauthenticated"


async def test_revoked_key_stops_working(make_party: PartyFactory) -> None:
    enterprise = await make_party("enterprise")
    new = await enterprise.post(f"/v1/parties/{enterprise.id}/api-keys")
    assert new.status_code == 201
    second = Actor(enterprise.id, "enterprise", new.json()["api_key"], enterprise.client)
    assert (await second.get("/v1/me")).status_code == 200
    revoked = await enterprise.delete(f"/v1/api-keys/{new.json()['id']}")
    assert revoked.status_code == 200
    assert (await second.get("/v1/me")).status_code == 401
    assert (await enterprise.get("/v1/me")).status_code == 200


async def test_other_parties_are_hidden(make_party: PartyFactory) -> None:
    a = await make_party("collective")
    b = await make_party("enterprise")
    assert (await a.get(f"/v1/parties/{b.id}")).status_code == 404
    assert (await a.get(f"/v1/parties/{a.id}")).status_code == 200
    assert (await a.get("/v1/parties")).status_code == 403
