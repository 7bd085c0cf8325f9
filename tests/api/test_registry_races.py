"""Concurrency claims under real concurrency: many requests at once through the app's pool.

`asyncio.gather` over the in-process client runs the handlers concurrently; each holds its own
pooled connection, so the races really happen inside PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import httpx

from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry, square

_far = itertools.count()


def far_origin() -> tuple[float, float]:
    """Deliberately overlapping squares: away from the fresh grid and from the refusal tests."""
    n = next(_far)
    return 85.0 + (n % 40) * 0.1, 45.0 + (n // 40) * 0.1


def statuses(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    counted: Counter[tuple[int, str | None]] = Counter()
    for r in responses:
        counted[(r.status_code, None if r.status_code < 400 else r.json().get("code"))] += 1
    return counted


async def holding(actor: Actor, batch_id: str, party_id: str | None = None) -> dict[str, Any]:
    params = {"party_id": party_id} if party_id else None
    response = await actor.get("/v1/holdings", params=params)
    assert response.status_code == 200, response.text
    found = [h for h in response.json()["items"] if h["batch_id"] == batch_id]
    empty = {"available": 0, "escrowed": 0, "pledged": 0, "retired": 0, "ranges": []}
    return dict(found[0]) if found else empty


def assert_exact_cover(ranges: list[dict[str, int]], start: int, end: int) -> None:
    ordered = sorted((r["start"], r["end"]) for r in ranges)
    cursor = start
    for lo, hi in ordered:
        assert lo == cursor, (ordered, start, end)
        assert hi >= lo
        cursor = hi + 1
    assert cursor == end + 1, (ordered, start, end)


async def test_concurrent_retirements_never_oversell(registry: Registry) -> None:
    a = await registry.trader()
    batch = await registry.batch(a, 200)
    body = {"batch_id": batch["id"], "quantity": 10, "beneficiary": "甲", "reason": "抵销"}
    responses = await asyncio.gather(*(a.post("/v1/retirements", json=body) for _ in range(50)))
    assert statuses(responses) == {(201, None): 20, (409, "insufficient_units"): 30}
    mine = await holding(a, batch["id"])
    assert (mine["available"], mine["retired"]) == (0, 200)
    retired = [r for resp in responses if resp.status_code == 201 for r in resp.json()["ranges"]]
    assert sum(r["end"] - r["start"] + 1 for r in retired) == 200
    assert_exact_cover(retired, batch["serial_start"], batch["serial_end"])


async def test_concurrent_transfers_never_oversell(registry: Registry) -> None:
    a = await registry.trader()
    recipients = [await registry.trader("enterprise") for _ in range(4)]
    batch = await registry.batch(a, 200)
    responses = await asyncio.gather(
        *(
            a.post(
                "/v1/transfers",
                json={"batch_id": batch["id"], "quantity": 10, "to_party_id": recipients[i % 4].id},
            )
            for i in range(50)
        )
    )
    assert statuses(responses) == {(201, None): 20, (409, "insufficient_units"): 30}
    assert (await holding(a, batch["id"]))["available"] == 0
    received = [await holding(r, batch["id"]) for r in recipients]
    assert sum(h["available"] for h in received) == 200
    moved = [r for resp in responses if resp.status_code == 201 for r in resp.json()["ranges"]]
    assert_exact_cover(moved, batch["serial_start"], batch["serial_end"])
    held = [r for h in received for r in h["ranges"]]
    assert_exact_cover(held, batch["serial_start"], batch["serial_end"])


async def test_opposite_transfers_do_not_deadlock(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.batch(a, 400)
    half = await a.post(
        "/v1/transfers", json={"batch_id": batch["id"], "quantity": 200, "to_party_id": b.id}
    )
    assert half.status_code == 201, half.text

    def send(sender: Actor, to: Actor, quantity: int) -> Any:
        return sender.post(
            "/v1/transfers",
            json={"batch_id": batch["id"], "quantity": quantity, "to_party_id": to.id},
        )

    calls = []
    for i in range(40):
        calls.append(send(a, b, 7 + i % 5))
        calls.append(send(b, a, 9 + i % 3))
    responses = await asyncio.gather(*calls)
    assert all(r.status_code < 500 for r in responses), [r.text for r in responses]
    assert {r.status_code for r in responses} <= {201, 409}
    assert all(r.json()["code"] == "insufficient_units" for r in responses if r.status_code == 409)
    ha, hb = await holding(a, batch["id"]), await holding(b, batch["id"])
    assert ha["available"] + hb["available"] == 400
    assert_exact_cover(ha["ranges"] + hb["ranges"], batch["serial_start"], batch["serial_end"])


async def test_overlapping_confirmations_race(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader()
    lon, lat = far_origin()
    first = await registry.applied_asset(a, boundary=square(lon, lat))
    second = await registry.applied_asset(b, boundary=square(lon + 0.003, lat + 0.003))
    responses = await asyncio.gather(
        registry.registrar.post(f"/v1/assets/{first['id']}/confirm"),
        registry.registrar.post(f"/v1/assets/{second['id']}/confirm"),
    )
    assert statuses(list(responses)) == {(200, None): 1, (409, "boundary_overlap"): 1}
    winner = next(r for r in responses if r.status_code == 200).json()["id"]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert winner in loser["detail"]


async def test_overlapping_issuances_race(registry: Registry) -> None:
    holder = await registry.trader()
    product = await registry.certified_product(holder)
    path = f"/v1/eco-products/{product['id']}/batches"
    bodies = [
        {
            "quantity": 100,
            "vintage": 2025,
            "period_start": "2025-01-01",
            "period_end": "2025-12-31",
        },
        {"quantity": 50, "vintage": 2025, "period_start": "2025-06-01", "period_end": "2026-05-31"},
    ]
    responses = await asyncio.gather(*(registry.certifier.post(path, json=b) for b in bodies))
    assert statuses(list(responses)) == {(201, None): 1, (409, "double_issuance"): 1}


async def test_overlapping_issuances_race_across_products(registry: Registry) -> None:
    """Two products on the same asset: the product row lock does not serialize them."""
    holder = await registry.trader()
    asset = await registry.confirmed_asset(holder)
    one = await registry.product_on(holder, [asset["id"]])
    two = await registry.product_on(holder, [asset["id"]])
    body = {
        "quantity": 10,
        "vintage": 2025,
        "period_start": "2025-01-01",
        "period_end": "2025-12-31",
    }
    responses = await asyncio.gather(
        *(
            registry.certifier.post(f"/v1/eco-products/{p['id']}/batches", json=body)
            for p in (one, two, one, two)
        )
    )
    assert statuses(list(responses)) == {(201, None): 1, (409, "double_issuance"): 3}
