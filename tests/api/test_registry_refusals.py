"""Every refusal API.md lists for the registry endpoints: status AND stable `code`.

Also the rules behind them (use rights beat ownership, expired rights do not count, approval
escrow, pledges, idempotency) and that a refusal changes nothing.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry, asset_body, square

# Deliberately overlapping squares live far from the fresh grid (longitudes 60-90, latitude 40+).
_far = itertools.count()


def far_origin() -> tuple[float, float]:
    n = next(_far)
    return 60.0 + (n % 250) * 0.1, 40.0 + (n // 250) * 0.1


def expect(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = dict(response.json())
    assert body["code"] == code, body
    return body


async def holdings_of(actor: Actor) -> list[dict[str, Any]]:
    response = await actor.get("/v1/holdings")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def holding(actor: Actor, batch_id: str) -> dict[str, Any] | None:
    return next((h for h in await holdings_of(actor) if h["batch_id"] == batch_id), None)


def retire_body(batch_id: str, quantity: int) -> dict[str, Any]:
    return {"batch_id": batch_id, "quantity": quantity, "beneficiary": "某企业", "reason": "抵销"}


# assets -------------------------------------------------------------------------------------


async def test_overlapping_confirmation_is_refused_naming_the_first(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader()
    lon, lat = far_origin()
    first = await registry.confirmed_asset(a, boundary=square(lon, lat))
    second = await registry.applied_asset(b, boundary=square(lon + 0.005, lat + 0.002))
    refused = await registry.registrar.post(f"/v1/assets/{second['id']}/confirm")
    body = expect(refused, 409, "boundary_overlap")
    assert first["id"] in body["detail"]
    again = await registry.registrar.get(f"/v1/assets/{second['id']}")
    assert again.json()["status"] == "applied"


async def test_a_tiny_overlap_is_allowed(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader()
    lon, lat = far_origin()
    await registry.confirmed_asset(a, boundary=square(lon, lat))
    # 0.00002 of a 0.01 side: 0.2% of either area, below the 0.5% threshold.
    await registry.confirmed_asset(b, boundary=square(lon + 0.01 - 0.00002, lat))


async def test_same_boundary_of_another_resource_type_is_allowed(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader()
    lon, lat = far_origin()
    await registry.confirmed_asset(a, boundary=square(lon, lat))
    other = await registry.confirmed_asset(b, boundary=square(lon, lat), resource_type="grassland")
    assert other["status"] == "confirmed"


@pytest.mark.parametrize(
    "boundary",
    [
        pytest.param(
            {"type": "Polygon", "coordinates": [[[70, 50], [70.01, 50.01], [70.01, 50],
                                                 [70, 50.01], [70, 50]]]},
            id="bow-tie",
        ),
        pytest.param({"type": "Point", "coordinates": [70, 50]}, id="point"),
        pytest.param(
            {"type": "Polygon", "coordinates": [[[190, 50], [190.01, 50], [190.01, 50.01],
                                                 [190, 50.01], [190, 50]]]},
            id="longitude-out-of-range",
        ),
        pytest.param(
            {"type": "Polygon", "coordinates": [[[70, 95], [70.01, 95], [70.01, 95.01],
                                                 [70, 95.01], [70, 95]]]},
            id="latitude-out-of-range",
        ),
        pytest.param({"type": "Polygon", "coordinates": []}, id="empty-coordinates"),
        pytest.param({"type": "Polygon", "coordinates": [[]]}, id="empty-ring"),
        pytest.param({"type": "Polygon"}, id="no-coordinates"),
        pytest.param(
            {"type": "Polygon", "coordinates": [[[70, 50], [70.01, 50], [70, 50]]]},
            id="degenerate",
        ),
        pytest.param({"type": "Polygon", "coordinates": [[["a", "b"], [1, 2]]]}, id="strings"),
    ],
)  # fmt: skip
async def test_invalid_boundary_is_422(registry: Registry, boundary: dict[str, Any]) -> None:
    a = await registry.trader()
    response = await a.post("/v1/assets", json=asset_body(a, boundary=boundary))
    expect(response, 422, "invalid_boundary")


async def test_unclosed_ring_is_422(registry: Registry) -> None:
    a = await registry.trader()
    lon, lat = far_origin()
    ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01]]
    response = await a.post(
        "/v1/assets", json=asset_body(a, boundary={"type": "Polygon", "coordinates": [ring]})
    )
    expect(response, 422, "invalid_boundary")


async def test_confirming_a_rejected_asset_is_409(registry: Registry) -> None:
    a = await registry.trader()
    asset = await registry.applied_asset(a)
    rejected = await registry.registrar.post(
        f"/v1/assets/{asset['id']}/reject", json={"reason": "材料不全"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    expect(
        await registry.registrar.post(f"/v1/assets/{asset['id']}/confirm"), 409, "invalid_status"
    )
    expect(
        await registry.registrar.post(f"/v1/assets/{asset['id']}/reject", json={"reason": "x"}),
        409,
        "invalid_status",
    )


# eco-products -------------------------------------------------------------------------------


def product_body(asset_id: str, product_type: str = "CARBON_SINK") -> dict[str, Any]:
    return {"product_type": product_type, "name": "碳汇", "asset_ids": [asset_id]}


async def test_a_stranger_is_not_a_right_holder(registry: Registry) -> None:
    holder, stranger = await registry.trader(), await registry.trader("enterprise")
    asset = await registry.confirmed_asset(holder)
    expect(await stranger.post("/v1/eco-products", json=product_body(asset["id"])), 403,
           "not_right_holder")  # fmt: skip


async def test_unconfirmed_asset_is_409(registry: Registry) -> None:
    holder = await registry.trader()
    asset = await registry.applied_asset(holder)
    expect(await holder.post("/v1/eco-products", json=product_body(asset["id"])), 409,
           "asset_not_confirmed")  # fmt: skip


async def test_a_granted_use_right_excludes_the_owner(registry: Registry) -> None:
    owner, user = await registry.trader(), await registry.trader()
    rights = [
        {"kind": "ownership", "holder_id": owner.id, "share": "100", "valid_from": "2020-01-01"},
        {"kind": "use", "holder_id": user.id, "share": "100", "valid_from": "2020-01-01"},
    ]
    asset = await registry.confirmed_asset(owner, rights=rights)
    expect(await owner.post("/v1/eco-products", json=product_body(asset["id"])), 403,
           "not_right_holder")  # fmt: skip
    ok = await user.post("/v1/eco-products", json=product_body(asset["id"]))
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "pending"


async def test_an_expired_right_does_not_count(registry: Registry) -> None:
    owner, user = await registry.trader(), await registry.trader()
    rights = [
        {"kind": "ownership", "holder_id": owner.id, "share": "100", "valid_from": "2020-01-01"},
        {"kind": "use", "holder_id": user.id, "share": "100", "valid_from": "2020-01-01",
         "valid_to": "2021-12-31"},
    ]  # fmt: skip
    asset = await registry.confirmed_asset(owner, rights=rights)
    # The use right has ended: the user may not apply, and the owner may again.
    expect(await user.post("/v1/eco-products", json=product_body(asset["id"])), 403,
           "not_right_holder")  # fmt: skip
    ok = await owner.post("/v1/eco-products", json=product_body(asset["id"]))
    assert ok.status_code == 201, ok.text

    expired_owner = await registry.trader()
    lapsed = [{"kind": "ownership", "holder_id": expired_owner.id, "share": "100",
               "valid_from": "2015-01-01", "valid_to": "2019-12-31"}]  # fmt: skip
    old = await registry.confirmed_asset(expired_owner, rights=lapsed)
    expect(await expired_owner.post("/v1/eco-products", json=product_body(old["id"])), 403,
           "not_right_holder")  # fmt: skip


# batches ------------------------------------------------------------------------------------


def batch_body(start: str, end: str, quantity: int = 100) -> dict[str, Any]:
    return {"quantity": quantity, "vintage": 2025, "period_start": start, "period_end": end}


async def test_double_issuance_is_409(registry: Registry) -> None:
    holder = await registry.trader()
    product = await registry.certified_product(holder)
    path = f"/v1/eco-products/{product['id']}/batches"
    first = await registry.certifier.post(path, json=batch_body("2025-01-01", "2025-12-31"))
    assert first.status_code == 201, first.text
    body = expect(
        await registry.certifier.post(path, json=batch_body("2025-06-01", "2026-05-31")),
        409,
        "double_issuance",
    )
    assert first.json()["id"] in body["detail"]
    # Touching on the last day is an overlap too.
    expect(await registry.certifier.post(path, json=batch_body("2025-12-31", "2026-01-31")),
           409, "double_issuance")  # fmt: skip
    later = await registry.certifier.post(path, json=batch_body("2026-01-01", "2026-12-31"))
    assert later.status_code == 201, later.text


async def test_double_issuance_across_products_on_the_same_asset(registry: Registry) -> None:
    holder = await registry.trader()
    asset = await registry.confirmed_asset(holder)
    one = await registry.product_on(holder, [asset["id"]])
    two = await registry.product_on(holder, [asset["id"]])
    await registry.issue(one["id"], 10)
    expect(
        await registry.certifier.post(
            f"/v1/eco-products/{two['id']}/batches", json=batch_body("2025-03-01", "2025-03-31")
        ),
        409,
        "double_issuance",
    )
    # Another product type on the same asset and period is a different claim.
    green = await registry.product_on(holder, [asset["id"]], "GREEN_CERT")
    await registry.issue(green["id"], 10)


async def test_batches_need_a_certified_product(registry: Registry) -> None:
    holder = await registry.trader()
    body = batch_body("2025-01-01", "2025-12-31")
    certifier = registry.certifier

    asset = await registry.confirmed_asset(holder)
    pending = (await holder.post("/v1/eco-products", json=product_body(asset["id"]))).json()
    expect(await certifier.post(f"/v1/eco-products/{pending['id']}/batches", json=body), 409,
           "eco_product_not_certified")  # fmt: skip

    asset = await registry.confirmed_asset(holder)
    rejected = (await holder.post("/v1/eco-products", json=product_body(asset["id"]))).json()
    response = await certifier.post(
        f"/v1/eco-products/{rejected['id']}/reject", json={"reason": "方法学不符"}
    )
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    expect(await certifier.post(f"/v1/eco-products/{rejected['id']}/batches", json=body), 409,
           "eco_product_not_certified")  # fmt: skip

    revoked = await registry.certified_product(holder)
    response = await certifier.post(
        f"/v1/eco-products/{revoked['id']}/revoke", json={"reason": "监测造假"}
    )
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    expect(await certifier.post(f"/v1/eco-products/{revoked['id']}/batches", json=body), 409,
           "eco_product_not_certified")  # fmt: skip


async def test_period_end_before_start_is_422(registry: Registry) -> None:
    holder = await registry.trader()
    product = await registry.certified_product(holder)
    response = await registry.certifier.post(
        f"/v1/eco-products/{product['id']}/batches", json=batch_body("2025-12-31", "2025-01-01")
    )
    body = expect(response, 422, "validation_error")
    assert body["errors"]


# transfers and retirements ------------------------------------------------------------------


async def test_insufficient_units_changes_nothing(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.batch(a, 50)
    before_a, before_b = await holdings_of(a), await holdings_of(b)
    too_many = {"batch_id": batch["id"], "quantity": 51, "to_party_id": b.id}
    expect(await a.post("/v1/transfers", json=too_many), 409, "insufficient_units")
    expect(await a.post("/v1/retirements", json=retire_body(batch["id"], 51)), 409,
           "insufficient_units")  # fmt: skip
    pledge = {"batch_id": batch["id"], "quantity": 51, "pledgee_id": b.id, "reference": "贷款"}
    expect(await a.post("/v1/pledges", json=pledge), 409, "insufficient_units")
    # A party holding nothing of the batch.
    expect(await b.post("/v1/transfers", json={**too_many, "quantity": 1, "to_party_id": a.id}),
           409, "insufficient_units")  # fmt: skip
    assert await holdings_of(a) == before_a
    assert await holdings_of(b) == before_b


async def test_not_retirable_types_are_409(registry: Registry) -> None:
    a = await registry.trader()
    water = await registry.current_batch(a, 100, "WATER_RIGHT")
    brand = await registry.batch(a, 100, "BRAND_PRODUCT")
    for batch in (water, brand):
        expect(await a.post("/v1/retirements", json=retire_body(batch["id"], 1)), 409,
               "not_retirable")  # fmt: skip
    assert (await holding(a, brand["id"]) or {})["available"] == 100


async def test_frozen_party_cannot_move_units_but_can_read(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.batch(a, 100)
    frozen = await registry.regulator.post(f"/v1/oversight/parties/{a.id}/freeze")
    assert frozen.status_code == 200 and frozen.json()["status"] == "frozen"
    transfer = {"batch_id": batch["id"], "quantity": 10, "to_party_id": b.id}
    expect(await a.post("/v1/transfers", json=transfer), 409, "party_frozen")
    expect(await a.post("/v1/retirements", json=retire_body(batch["id"], 10)), 409,
           "party_frozen")  # fmt: skip
    pledge = {"batch_id": batch["id"], "quantity": 10, "pledgee_id": b.id, "reference": "r"}
    expect(await a.post("/v1/pledges", json=pledge), 409, "party_frozen")
    me = await a.get("/v1/me")
    assert me.status_code == 200 and me.json()["status"] == "frozen"
    assert (await holding(a, batch["id"]) or {})["available"] == 100
    assert (await a.get(f"/v1/batches/{batch['id']}")).status_code == 200

    unfrozen = await registry.regulator.post(f"/v1/oversight/parties/{a.id}/unfreeze")
    assert unfrozen.status_code == 200 and unfrozen.json()["status"] == "active"
    moved = await a.post("/v1/transfers", json=transfer)
    assert moved.status_code == 201, moved.text
    retired = await a.post("/v1/retirements", json=retire_body(batch["id"], 10))
    assert retired.status_code == 201, retired.text


async def test_only_a_regulator_freezes(registry: Registry) -> None:
    a = await registry.trader()
    for actor in (a, registry.registrar, registry.certifier, registry.operator):
        expect(await actor.post(f"/v1/oversight/parties/{a.id}/freeze"), 403, "forbidden")
    expect(await registry.regulator.post("/v1/oversight/parties/pty_nope/freeze"), 404,
           "not_found")  # fmt: skip


async def _pending_water_transfer(
    registry: Registry, quantity: int
) -> tuple[Actor, Actor, dict[str, Any], dict[str, Any], dict[str, Any]]:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.current_batch(a, 1_000, "WATER_RIGHT")
    before = await holding(a, batch["id"])
    response = await a.post(
        "/v1/transfers", json={"batch_id": batch["id"], "quantity": quantity, "to_party_id": b.id}
    )
    assert response.status_code == 201, response.text
    transfer = response.json()
    assert transfer["status"] == "pending_approval"
    assert before is not None
    return a, b, batch, transfer, before


async def _approval_for(registry: Registry, transfer_id: str) -> dict[str, Any]:
    listed = await registry.regulator.get(
        "/v1/oversight/approvals", params={"status": "pending", "limit": 500}
    )
    assert listed.status_code == 200, listed.text
    matches = [i for i in listed.json()["items"] if i["subject_id"] == transfer_id]
    assert len(matches) == 1, listed.json()
    return dict(matches[0])


async def test_water_right_transfer_waits_for_approval(registry: Registry) -> None:
    a, b, batch, transfer, _ = await _pending_water_transfer(registry, 300)
    start = batch["serial_start"]
    assert transfer["ranges"] == [{"start": start, "end": start + 299}]
    mine = await holding(a, batch["id"])
    assert mine is not None
    assert (mine["available"], mine["escrowed"]) == (700, 300)
    assert {"start": start, "end": start + 299, "bucket": "escrowed"} in mine["ranges"]
    assert ((await holding(b, batch["id"])) or {"available": 0})["available"] == 0

    approval = await _approval_for(registry, transfer["id"])
    assert approval["kind"] == "transfer"
    assert (approval["product_type"], approval["quantity"]) == ("WATER_RIGHT", 300)
    assert (approval["from_party_id"], approval["to_party_id"]) == (a.id, b.id)
    # Only the regulator decides.
    expect(await a.post(f"/v1/oversight/approvals/{approval['id']}/approve"), 403, "forbidden")

    approved = await registry.regulator.post(f"/v1/oversight/approvals/{approval['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    after = await a.get(f"/v1/transfers/{transfer['id']}")
    assert after.json()["status"] == "completed"
    theirs = await holding(b, batch["id"])
    assert theirs is not None and theirs["available"] == 300
    assert theirs["ranges"] == [{"start": start, "end": start + 299, "bucket": "available"}]
    mine = await holding(a, batch["id"])
    assert mine is not None and (mine["available"], mine["escrowed"]) == (700, 0)
    # Deciding twice is refused.
    expect(await registry.regulator.post(f"/v1/oversight/approvals/{approval['id']}/reject"),
           409, "invalid_status")  # fmt: skip


async def test_rejected_water_right_transfer_returns_the_same_serials(registry: Registry) -> None:
    a, b, batch, transfer, before = await _pending_water_transfer(registry, 250)
    approval = await _approval_for(registry, transfer["id"])
    rejected = await registry.regulator.post(
        f"/v1/oversight/approvals/{approval['id']}/reject", json={"reason": "超出配额"}
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert (await a.get(f"/v1/transfers/{transfer['id']}")).json()["status"] == "rejected"
    assert await holding(a, batch["id"]) == before
    assert ((await holding(b, batch["id"])) or {"available": 0})["available"] == 0


async def test_expired_water_right_batch_is_refused(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    product = await registry.certified_product(a, "WATER_RIGHT")
    batch = await registry.issue(product["id"], 100, "2020-01-01", "2020-12-31", 2020)
    expect(
        await a.post(
            "/v1/transfers", json={"batch_id": batch["id"], "quantity": 1, "to_party_id": b.id}
        ),
        409,
        "batch_expired",
    )
    pledge = {"batch_id": batch["id"], "quantity": 1, "pledgee_id": b.id, "reference": "r"}
    expect(await a.post("/v1/pledges", json=pledge), 409, "batch_expired")


# pledges ------------------------------------------------------------------------------------


async def test_pledged_units_are_locked_until_the_pledgee_releases(registry: Registry) -> None:
    a, bank = await registry.trader(), await registry.trader("enterprise")
    stranger = await registry.trader()
    batch = await registry.batch(a, 100)
    created = await a.post(
        "/v1/pledges",
        json={"batch_id": batch["id"], "quantity": 30, "pledgee_id": bank.id,
              "reference": "林权抵押贷款"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    pledge = created.json()
    start = batch["serial_start"]
    assert pledge["ranges"] == [{"start": start, "end": start + 29}]
    assert pledge["status"] == "active"
    mine = await holding(a, batch["id"])
    assert mine is not None and (mine["available"], mine["pledged"]) == (70, 30)

    transfer = {"batch_id": batch["id"], "quantity": 71, "to_party_id": bank.id}
    expect(await a.post("/v1/transfers", json=transfer), 409, "insufficient_units")
    expect(await a.post("/v1/retirements", json=retire_body(batch["id"], 71)), 409,
           "insufficient_units")  # fmt: skip

    path = f"/v1/pledges/{pledge['id']}/release"
    expect(await a.post(path), 403, "forbidden")
    expect(await stranger.post(path), 404, "not_found")
    assert (await stranger.get(f"/v1/pledges/{pledge['id']}")).status_code == 404
    assert (await bank.get(f"/v1/pledges/{pledge['id']}")).status_code == 200

    released = await bank.post(path)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    mine = await holding(a, batch["id"])
    assert mine is not None and (mine["available"], mine["pledged"]) == (100, 0)
    assert mine["ranges"] == [{"start": start, "end": batch["serial_end"], "bucket": "available"}]
    expect(await bank.post(path), 409, "invalid_status")


# idempotency --------------------------------------------------------------------------------


async def test_idempotent_transfer_has_one_effect(registry: Registry) -> None:
    a, b = await registry.trader(), await registry.trader("enterprise")
    batch = await registry.batch(a, 100)
    body = {"batch_id": batch["id"], "quantity": 10, "to_party_id": b.id}
    headers = {**a.headers, "Idempotency-Key": f"idem-{batch['id']}"}
    first = await a.client.post("/v1/transfers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    second = await a.client.post("/v1/transfers", json=body, headers=headers)
    assert second.status_code == first.status_code
    assert second.json() == first.json()
    assert (await holding(a, batch["id"]) or {})["available"] == 90
    assert (await holding(b, batch["id"]) or {})["available"] == 10

    other = await a.client.post("/v1/transfers", json={**body, "quantity": 11}, headers=headers)
    expect(other, 409, "idempotency_key_reused")
    assert (await holding(a, batch["id"]) or {})["available"] == 90

    # A refusal is not stored: the same key may be used again once the request is valid.
    refused_headers = {**a.headers, "Idempotency-Key": f"idem-refused-{batch['id']}"}
    too_many = {**body, "quantity": 1000}
    expect(await a.client.post("/v1/transfers", json=too_many, headers=refused_headers), 409,
           "insufficient_units")  # fmt: skip
    # Another party using the same key string is a different scope.
    c = await registry.trader()
    c_batch = await registry.batch(c, 5)
    c_body = {"batch_id": c_batch["id"], "quantity": 5, "to_party_id": b.id}
    same_key = {**c.headers, "Idempotency-Key": f"idem-{batch['id']}"}
    assert (await c.client.post("/v1/transfers", json=c_body, headers=same_key)).status_code == 201


# splitting ranges ---------------------------------------------------------------------------


async def test_partial_moves_split_ranges_exactly(registry: Registry) -> None:
    a = await registry.trader()
    b, c = await registry.trader("enterprise"), await registry.trader("enterprise")
    batch = await registry.batch(a, 20)
    s, e = batch["serial_start"], batch["serial_end"]

    async def send(to: Actor, quantity: int) -> list[dict[str, int]]:
        response = await a.post(
            "/v1/transfers",
            json={"batch_id": batch["id"], "quantity": quantity, "to_party_id": to.id},
        )
        assert response.status_code == 201, response.text
        return list(response.json()["ranges"])

    assert await send(b, 3) == [{"start": s, "end": s + 2}]
    assert await send(c, 5) == [{"start": s + 3, "end": s + 7}]
    assert (await holding(a, batch["id"]) or {})["ranges"] == [
        {"start": s + 8, "end": e, "bucket": "available"}
    ]
    assert (await holding(b, batch["id"]) or {})["ranges"] == [
        {"start": s, "end": s + 2, "bucket": "available"}
    ]
    assert (await holding(c, batch["id"]) or {})["ranges"] == [
        {"start": s + 3, "end": s + 7, "bucket": "available"}
    ]

    # c sends its units back: a now holds two ranges, oldest moves first next time.
    back = await c.post(
        "/v1/transfers", json={"batch_id": batch["id"], "quantity": 5, "to_party_id": a.id}
    )
    assert back.status_code == 201 and back.json()["ranges"] == [{"start": s + 3, "end": s + 7}]
    mine = await holding(a, batch["id"])
    assert mine is not None and mine["available"] == 17
    assert mine["ranges"] == [{"start": s + 3, "end": e, "bucket": "available"}]
    assert await send(b, 6) == [{"start": s + 3, "end": s + 8}]
    theirs = await holding(b, batch["id"])
    assert theirs is not None and theirs["available"] == 9
    assert theirs["ranges"] == [{"start": s, "end": s + 8, "bucket": "available"}]

    retired = await b.post("/v1/retirements", json=retire_body(batch["id"], 4))
    assert retired.status_code == 201 and retired.json()["ranges"] == [{"start": s, "end": s + 3}]
    theirs = await holding(b, batch["id"])
    assert theirs is not None and (theirs["available"], theirs["retired"]) == (5, 4)
    assert theirs["ranges"] == [
        {"start": s, "end": s + 3, "bucket": "retired"},
        {"start": s + 4, "end": s + 8, "bucket": "available"},
    ]
