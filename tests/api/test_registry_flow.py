"""The whole registry flow of the issue, end to end over HTTP."""

from __future__ import annotations

from tests.api.conftest import Actor, PartyFactory
from tests.api.registry_helpers import asset_body


async def test_forest_to_retirement_flow(operator: Actor, make_party: PartyFactory) -> None:
    collective = await make_party("collective", name="东山村股份经济合作社")
    enterprise = await make_party("enterprise", name="绿能制造有限公司")
    registrar = await make_party("registrar")
    certifier = await make_party("certifier")
    regulator = await make_party("regulator")

    applied = await collective.post("/v1/assets", json=asset_body(collective))
    assert applied.status_code == 201, applied.text
    asset = applied.json()
    assert asset["status"] == "applied" and asset["area_ha"] == "120.50"

    confirmed = await registrar.post(f"/v1/assets/{asset['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["registration_number"].startswith("330521-FO-")

    events = await collective.get(f"/v1/assets/{asset['id']}/events")
    assert [e["kind"] for e in events.json()["items"]] == ["applied", "confirmed"]

    product = await collective.post(
        "/v1/eco-products",
        json={"product_type": "CARBON_SINK", "name": "东山林业碳汇", "asset_ids": [asset["id"]]},
    )
    assert product.status_code == 201, product.text
    assert product.json()["status"] == "pending"
    certified = await certifier.post(
        f"/v1/eco-products/{product.json()['id']}/certify", json={"standard": "CCER-14-001"}
    )
    assert certified.status_code == 200 and certified.json()["status"] == "certified"

    issued = await certifier.post(
        f"/v1/eco-products/{product.json()['id']}/batches",
        json={"quantity": 10_000, "vintage": 2025, "period_start": "2025-01-01",
              "period_end": "2025-12-31"},
    )  # fmt: skip
    assert issued.status_code == 201, issued.text
    batch = issued.json()
    assert batch["quantity"] == 10_000
    assert batch["serial_end"] - batch["serial_start"] + 1 == 10_000
    assert batch["owner_id"] == collective.id
    assert batch["serial"].startswith("CARBON_SINK-330521-2025-")

    transfer = await collective.post(
        "/v1/transfers",
        json={"batch_id": batch["id"], "quantity": 1_000, "to_party_id": enterprise.id},
    )
    assert transfer.status_code == 201, transfer.text
    assert transfer.json()["status"] == "completed"
    first = batch["serial_start"]
    assert transfer.json()["ranges"] == [{"start": first, "end": first + 999}]

    retirement = await enterprise.post(
        "/v1/retirements",
        json={"batch_id": batch["id"], "quantity": 100, "beneficiary": "绿能制造有限公司",
              "reason": "2025 年度碳中和声明", "period": "2025"},
    )  # fmt: skip
    assert retirement.status_code == 201, retirement.text
    retired = retirement.json()
    assert retired["ranges"] == [{"start": first, "end": first + 99}]

    mine = (await enterprise.get("/v1/holdings")).json()["items"]
    assert [(h["available"], h["retired"]) for h in mine] == [(900, 100)]
    theirs = (await collective.get("/v1/holdings")).json()["items"]
    assert theirs[0]["available"] == 9_000
    assert theirs[0]["ranges"] == [{"start": first + 1000, "end": batch["serial_end"],
                                    "bucket": "available"}]  # fmt: skip

    public = await operator.client.get(
        "/v1/public/retirements", params={"batch_id": batch["id"], "serial": first + 42}
    )
    assert public.status_code == 200
    assert [r["id"] for r in public.json()["items"]] == [retired["id"]]
    assert public.json()["items"][0]["beneficiary"] == "绿能制造有限公司"
    outside = await operator.client.get(
        "/v1/public/retirements", params={"batch_id": batch["id"], "serial": first + 100}
    )
    assert outside.json()["items"] == []

    report = await regulator.get("/v1/oversight/invariants")
    assert report.status_code == 200
    assert report.json()["ok"] is True, report.json()
