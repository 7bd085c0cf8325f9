"""The end-to-end scenario of issue 11, over HTTP: GEP accounts drive compensation, nature is
never paid for twice, and horizontal compensation goes the way the monitoring record says.

Every amount is exact to the fen, every payment certified and verifiable offline, and every
invariant holds after each step.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from tests.api.compensation_helpers import (
    fresh_prefix,
    fund,
    paid,
    scheme,
    settle,
    verified_offline,
)
from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry
from tests.api.test_registry_refusals import expect
from tests.api.trading_helpers import Market
from tests.api.valuation_helpers import account_body, monitoring_record, published
from tests.invariants import assert_invariants

YEAR = ("2025-01-01", "2025-12-31")


async def test_a_district_compensates_its_villages_and_a_river_settles_across_regions(
    registry: Registry, market: Market, settings: Any, tmp_path: Path
) -> None:
    async def invariants() -> None:
        await assert_invariants(settings.database_url or "")

    client = registry.operator.client
    prefix = fresh_prefix()
    east, west = f"{prefix}01", f"{prefix}02"
    district = await registry.make_party("government", "区财政局", region=f"{prefix}00")
    village1 = await registry.make_party("collective", "东山村股份经济合作社", region=east)
    village2 = await registry.make_party("collective", "西坡村股份经济合作社", region=west)
    coop1 = await registry.make_party("collective", "西坡林业专业合作社", region=west)
    coop2 = await registry.make_party("enterprise", "西坡森林康养公司", region=west)
    await market.deposit(district, "1000000.00")

    # 1. two villages' forests are registered and confirmed; the second is operated by two
    #    holders of operation rights (they, not the owner, are paid)
    forest1 = await registry.confirmed_asset(village1, region_code=east, area_ha="120.50")
    forest2 = await registry.confirmed_asset(
        village2, region_code=west, area_ha="80.25",
        rights=[
            {"kind": "ownership", "holder_id": village2.id, "share": "100", "valid_from": "2020-01-01"},
            {"kind": "operation", "holder_id": coop1.id, "share": "60", "valid_from": "2021-01-01"},
            {"kind": "operation", "holder_id": coop2.id, "share": "40", "valid_from": "2021-01-01"},
        ],
    )  # fmt: skip
    await invariants()

    # 2. the first village issues carbon-sink units on its forest for 2025
    product = await registry.product_on(village1, [forest1["id"]])
    batch = await registry.issue(product["id"], 5_000)
    claims = (await village1.get(f"/v1/claims?asset_id={forest1['id']}")).json()["items"]
    assert claims == [{"asset_id": forest1["id"], "service": "carbon_fixation",
                       "period_start": YEAR[0], "period_end": YEAR[1], "source": "batch",
                       "source_id": batch["id"]}]  # fmt: skip
    await invariants()

    # 3. GEP accounts for 2025: drafted, published, the east one corrected once
    certifier = registry.certifier
    east_account = await published(certifier, account_body(east, [
        {"indicator": "water_conservation", "quantity": "1000000", "asset_id": forest1["id"]},
        {"indicator": "carbon_fixation", "quantity": "500"},
        {"indicator": "recreation", "quantity": "2000"},
    ]))  # fmt: skip
    assert east_account["total"] == "6435000.00"
    west_account = await published(certifier, account_body(west, [
        {"indicator": "water_conservation", "quantity": "800000", "asset_id": forest2["id"]},
        {"indicator": "recreation", "quantity": "1000"},
    ]))  # fmt: skip
    assert west_account["total"] == "5038000.00"
    corrected = await published(certifier, account_body(east, [
        {"indicator": "water_conservation", "quantity": "1200000", "asset_id": forest1["id"]},
        {"indicator": "carbon_fixation", "quantity": "500"},
        {"indicator": "recreation", "quantity": "2000"},
    ], supersedes=east_account["id"], reason="水库库容复核后修正水源涵养量"))  # fmt: skip
    assert corrected["total"] == "7657000.00"
    assert corrected["by_category"] == {"provisioning": "0.00", "regulating": "7357000.00",
                                        "cultural": "300000.00"}  # fmt: skip
    await monitoring_record(registry.registrar, {"region_code": east}, "forest_cover",
                            *YEAR, "70", "%")  # fmt: skip
    await monitoring_record(registry.registrar, {"region_code": west}, "forest_cover",
                            *YEAR, "55", "%")  # fmt: skip
    await invariants()

    # 4. the district funds two classified schemes for forests and a comprehensive one
    forests = {"region_prefix": prefix, "resource_type": "forest"}
    carbon = await scheme(district, "森林固碳分类补偿", "classified",
                          {**forests, "service": "carbon_fixation", "rate_per_ha": "30.00"})  # fmt: skip
    water = await scheme(district, "森林水源涵养分类补偿", "classified",
                         {**forests, "service": "water_conservation", "rate_per_ha": "45.50"})  # fmt: skip
    overall = await scheme(district, "生态涵养区综合性补偿", "comprehensive", {
        "budget_per_period": "100000.00", "recipients": [village1.id, village2.id],
        "weights": [{"indicator": "gep_total", "weight": "0.7"},
                    {"indicator": "forest_cover", "weight": "0.3"}],
    })  # fmt: skip
    assert (await fund(district, carbon["id"], "10000.00"))["balance"] == "10000.00"
    await fund(district, water["id"], "20000.00")
    await fund(district, overall["id"], "100000.00")
    assert (await market.cash(district))["available"] == "870000.00"
    await invariants()

    # 5. carbon fixation: the forest that backs carbon credits is excluded, naming the batch
    preview = await settle(district, carbon["id"], *YEAR, preview=True)
    assert paid(preview) == {(coop1.id, forest2["id"]): "1444.50",  # 80.25 ha × 30.00 × 60 %
                             (coop2.id, forest2["id"]): "963.00"}  # fmt: skip
    assert preview["excluded"] == [{
        "asset_id": forest1["id"], "party_id": village1.id, "reason": "double_claim",
        "claim": {"source": "batch", "source_id": batch["id"],
                  "period_start": YEAR[0], "period_end": YEAR[1]},
    }]  # fmt: skip
    settled = await settle(district, carbon["id"], *YEAR, preview=False)
    assert paid(settled) == paid(preview) and settled["excluded"] == preview["excluded"]
    assert settled["total"] == "2407.50"
    expect(await district.post(f"/v1/compensation/schemes/{carbon['id']}/periods",
                               json={"period_start": "2025-06-01", "period_end": "2025-06-30"}),
           409, "period_already_settled")  # fmt: skip
    await invariants()

    # ... and now the operated forest's carbon is paid for: no carbon-sink batch on it for 2025
    credits = await registry.product_on(coop1, [forest2["id"]])
    refused = expect(await certifier.post(f"/v1/eco-products/{credits['id']}/batches", json={
        "quantity": 100, "vintage": 2025, "period_start": "2025-07-01", "period_end": "2026-06-30",
    }), 409, "double_claim")  # fmt: skip
    assert refused["claim"]["source"] == "compensation"
    assert refused["claim"]["source_id"] == settled["id"]
    later = await registry.issue(credits["id"], 100, "2026-01-01", "2026-12-31", 2026)
    assert later["quantity"] == 100

    # 6. water conservation is paid on both forests, the credit-selling village included
    water_paid = await settle(district, water["id"], *YEAR, preview=False)
    assert paid(water_paid) == {
        (village1.id, forest1["id"]): "5482.75",  # 120.50 × 45.50
        (coop1.id, forest2["id"]): "2190.83",  # 80.25 × 45.50 = 3651.375 → 3651.38, 60 % + the fen
        (coop2.id, forest2["id"]): "1460.55",
    }  # fmt: skip
    assert water_paid["excluded"] == []

    # 7. comprehensive: 70 % by the current (corrected) GEP, 30 % by forest cover
    shared = await settle(district, overall["id"], *YEAR, preview=False)
    # 100000 × (0.7 × 7657000/12695000 + 0.3 × 70/125) = 59020.559… → 59020.56 (largest remainder)
    assert paid(shared) == {(village1.id, None): "59020.56", (village2.id, None): "40979.44"}

    balances = {s: (await client.get(f"/v1/compensation/schemes/{s}")).json()["balance"]
                for s in (carbon["id"], water["id"], overall["id"])}  # fmt: skip
    assert balances == {carbon["id"]: "7592.50", water["id"]: "10865.87", overall["id"]: "0.00"}
    assert (await market.cash(coop1))["available"] == "3635.33"
    assert (await market.cash(village1))["available"] == "64503.31"
    await invariants()

    # every payment is certified by the platform and verifies offline
    payment = settled["payments"][0]
    payload = await verified_offline(client, payment["certificate_id"], tmp_path)
    assert payload["kind"] == "compensation_payment"
    assert (
        payload["amount"] == payment["amount"] and payload["to_party_id"] == payment["to_party_id"]
    )
    assert payload["from_account"] == f"scheme:{carbon['id']}"
    listed = (await coop1.get("/v1/compensation/payments")).json()["items"]
    assert sorted(p["amount"] for p in listed) == ["1444.50", "2190.83"]
    for item in listed:
        await verified_offline(client, item["certificate_id"], tmp_path)

    # 8. horizontal: upstream and downstream districts bet on the water at a section
    upstream = await registry.make_party("government", "上游市财政局", region="130800")
    downstream = await registry.make_party("government", "下游市财政局", region="110100")
    await market.deposit(upstream, "2000000.00")
    await market.deposit(downstream, "2000000.00")
    section = f"潮白河古北口断面-{secrets.token_hex(3)}"
    river = await scheme(downstream, "潮白河流域横向生态保护补偿", "horizontal", {
        "upstream_party_id": upstream.id, "downstream_party_id": downstream.id,
        "section": section, "indicator": "water_quality_class",
        "target": {"op": "<=", "value": "3"}, "amount": "1000000.00",
    })  # fmt: skip
    january, february = ("2025-01-01", "2025-01-31"), ("2025-02-01", "2025-02-28")
    expect(await upstream.post(f"/v1/compensation/schemes/{river['id']}/periods",
                               json={"period_start": january[0], "period_end": january[1]}),
           409, "monitoring_record_missing")  # fmt: skip
    await monitoring_record(registry.registrar, {"section": section}, "water_quality_class",
                            *january, "2", "class")  # fmt: skip
    await monitoring_record(registry.registrar, {"section": section}, "water_quality_class",
                            *february, "4", "class")  # fmt: skip
    met = await settle(upstream, river["id"], *january, preview=False)  # class II: target met
    assert [(p["to_party_id"], p["from_account"], p["amount"]) for p in met["payments"]] == [
        (upstream.id, f"party:{downstream.id}", "1000000.00")
    ]
    assert (await market.cash(upstream))["available"] == "3000000.00"
    missed = await settle(downstream, river["id"], *february, preview=False)  # class IV: missed
    assert [(p["to_party_id"], p["from_account"]) for p in missed["payments"]] == [
        (downstream.id, f"party:{upstream.id}")
    ]
    assert (await market.cash(upstream))["available"] == "2000000.00"
    assert (await market.cash(downstream))["available"] == "2000000.00"
    payload = await verified_offline(client, missed["payments"][0]["certificate_id"], tmp_path)
    assert payload["basis"]["target_met"] is False and payload["basis"]["value"] == "4"
    await invariants()

    # The regulator exports the compensation payments (one line per payment, as paid).
    exported = await registry.regulator.get(
        "/v1/oversight/export", params={"kind": "compensation", "format": "jsonl"}
    )
    assert exported.status_code == 200, exported.text
    lines = {r["id"]: r for r in map(json.loads, exported.text.splitlines())}
    for payment in (*met["payments"], *missed["payments"]):
        row = lines[payment["id"]]
        assert (row["to_party_id"], row["amount"], row["certificate_id"]) == (
            payment["to_party_id"], payment["amount"], payment["certificate_id"])  # fmt: skip
        assert row["scheme_id"] == river["id"]
    assert {lines[p["id"]]["period_start"] for p in met["payments"]} == {january[0]}


async def test_refusals_change_nothing(registry: Registry, market: Market) -> None:
    prefix = fresh_prefix()
    district = await registry.make_party("government", region=f"{prefix}00")
    village = await registry.make_party("collective", region=f"{prefix}01")
    await market.deposit(district, "100.00")
    await registry.confirmed_asset(village, region_code=f"{prefix}01", area_ha="10")
    rules = {"region_prefix": prefix, "resource_type": "forest", "service": "water_conservation",
             "rate_per_ha": "20.00"}  # fmt: skip
    body = {"name": "x", "kind": "classified", "rules": rules}
    expect(await village.post("/v1/compensation/schemes", json=body), 403, "forbidden")
    for bad in (
        {**body, "kind": "comprehensive"},
        {**body, "rules": {**rules, "rate_per_ha": "20"}},
        {**body, "rules": {**rules, "resource_type": "moon"}},
        {**body, "rules": {**rules, "extra": 1}},
        {**body, "kind": "comprehensive", "rules": {"budget_per_period": "1.00", "recipients": [village.id],
                                                    "weights": [{"indicator": "gep_total", "weight": "0.5"}]}},
        {**body, "name": "a\x00b"},
    ):  # fmt: skip
        expect(await district.post("/v1/compensation/schemes", json=bad), 422, "validation_error")
    created = await scheme(district, "分类补偿", "classified", rules)
    sid = created["id"]
    expect(await village.post(f"/v1/compensation/schemes/{sid}/fund", json={"amount": "1.00"}),
           403, "forbidden")  # fmt: skip
    expect(await district.post(f"/v1/compensation/schemes/{sid}/fund", json={"amount": "100.01"}),
           409, "insufficient_funds")  # fmt: skip
    await fund(district, sid, "100.00")
    period = {"period_start": "2025-01-01", "period_end": "2025-12-31"}
    preview = await settle(district, sid, *period.values(), preview=True)
    assert preview["total"] == "200.00"  # a preview shows what execution would pay
    expect(await district.post(f"/v1/compensation/schemes/{sid}/periods", json=period), 409,
           "insufficient_scheme_funds")  # fmt: skip
    expect(
        await village.post(f"/v1/compensation/schemes/{sid}/periods", json=period), 403, "forbidden"
    )
    expect(await district.post(f"/v1/compensation/schemes/{sid}/periods",
                               json={**period, "period_end": "2024-12-31"}), 422, "validation_error")  # fmt: skip
    expect(await district.post(f"/v1/compensation/schemes/{sid}/periods",
                               json={**period, "preview": "yes"}), 422, "validation_error")  # fmt: skip
    assert (await district.get(f"/v1/compensation/schemes/{sid}")).json()["balance"] == "100.00"
    assert (await market.cash(village))["available"] == "0.00"
    assert (await village.get("/v1/compensation/payments")).json()["items"] == []
    expect(await district.post("/v1/compensation/schemes/csch_nope/fund", json={"amount": "1.00"}),
           404, "not_found")  # fmt: skip


async def test_settling_is_idempotent_per_key_and_period(
    registry: Registry, market: Market
) -> None:
    prefix = fresh_prefix()
    district = await registry.make_party("government", region=f"{prefix}00")
    village = await registry.make_party("collective", region=f"{prefix}01")
    await market.deposit(district, "1000.00")
    await registry.confirmed_asset(village, region_code=f"{prefix}01", area_ha="3.3333")
    created = await scheme(district, "湿地", "classified", {
        "region_prefix": prefix, "resource_type": "forest", "service": "soil_retention",
        "rate_per_ha": "10.00"})  # fmt: skip
    await fund(district, created["id"], "1000.00")
    url = f"/v1/compensation/schemes/{created['id']}/periods"
    body = {"period_start": "2025-01-01", "period_end": "2025-03-31"}
    headers = {**district.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await district.client.post(url, json=body, headers=headers)
    again = await district.client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert paid(first.json()) == {(village.id, first.json()["payments"][0]["asset_id"]): "33.33"}
    expect(await district.post(url, json=body), 409, "period_already_settled")
    assert (await district.get(f"/v1/compensation/schemes/{created['id']}")).json()[
        "balance"
    ] == "966.67"
    assert (await market.cash(village))["available"] == "33.33"


async def test_horizontal_payer_without_cash_is_refused(registry: Registry, market: Market) -> None:
    upstream: Actor = await registry.make_party("government")
    downstream: Actor = await registry.make_party("government")
    await market.deposit(downstream, "10.00")
    section = f"断面-{secrets.token_hex(3)}"
    river = await scheme(upstream, "横向", "horizontal", {
        "upstream_party_id": upstream.id, "downstream_party_id": downstream.id, "section": section,
        "indicator": "water_quality_class", "target": {"op": "<=", "value": "3"}, "amount": "50.00",
    })  # fmt: skip
    expect(await upstream.post(f"/v1/compensation/schemes/{river['id']}/fund", json={"amount": "1.00"}),
           409, "scheme_has_no_account")  # fmt: skip
    await monitoring_record(registry.registrar, {"section": section}, "water_quality_class",
                            "2025-03-01", "2025-03-31", "3", "class")  # fmt: skip
    preview = await settle(upstream, river["id"], "2025-03-01", "2025-03-31", preview=True)
    assert preview["payments"][0]["from_party_id"] == downstream.id  # class III meets "<= 3"
    expect(await upstream.post(f"/v1/compensation/schemes/{river['id']}/periods",
                               json={"period_start": "2025-03-01", "period_end": "2025-03-31"}),
           409, "insufficient_funds")  # fmt: skip
    assert (await market.cash(downstream))["available"] == "10.00"
    stranger = await registry.make_party("government")
    expect(await stranger.post("/v1/compensation/schemes", json={"name": "x", "kind": "horizontal", "rules": {
        "upstream_party_id": upstream.id, "downstream_party_id": downstream.id, "section": section,
        "indicator": "water_quality_class", "target": {"op": "<=", "value": "3"}, "amount": "50.00",
    }}), 403, "forbidden")  # fmt: skip
