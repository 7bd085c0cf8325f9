"""HTTP fixtures: the app with its lifespan, an operator, and party factories."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from market.app import create_app
from market.parties.credit_code import complete_credit_code
from market.settings import Settings
from tests.invariants import assert_invariants

OPERATOR_TOKEN = "operator-test-token"


def random_credit_code(region: str = "110105") -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(secrets.choice(alphabet) for _ in range(9))
    return complete_credit_code("91" + region + body)


@dataclass
class Actor:
    """A party and a client that speaks as it."""

    id: str
    kind: str
    token: str
    client: AsyncTestClient[Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.client.post(path, json=json, headers=self.headers, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers, **kw)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    from market.cli import bootstrap

    await bootstrap(settings)
    app = create_app(settings)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
    await assert_invariants(settings.database_url or "")


@pytest.fixture
async def operator(client: AsyncTestClient[Any]) -> Actor:
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert response.status_code == 200, response.text
    return Actor(response.json()["id"], "operator", OPERATOR_TOKEN, client)


class PartyFactory:
    def __init__(self, operator: Actor) -> None:
        self.operator = operator

    async def __call__(self, kind: str, name: str | None = None, region: str = "110105") -> Actor:
        response = await self.operator.post(
            "/v1/parties",
            json={
                "name": name or f"{kind} {secrets.token_hex(3)}",
                "kind": kind,
                "credit_code": random_credit_code(region),
                "region_code": region,
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return Actor(body["party"]["id"], kind, body["api_key"], self.operator.client)


@pytest.fixture
def make_party(operator: Actor) -> PartyFactory:
    return PartyFactory(operator)


@pytest.fixture
async def registry(operator: Actor, make_party: PartyFactory) -> Any:
    from tests.api.registry_helpers import Registry

    return Registry(
        operator=operator,
        registrar=await make_party("registrar"),
        certifier=await make_party("certifier"),
        regulator=await make_party("regulator"),
        make_party=make_party,
    )


@pytest.fixture
async def market(registry: Any) -> Any:
    from tests.api.trading_helpers import Market

    return Market(registry)
