"""Comprehensive shares (ties, missing data), who sees which payments."""

from __future__ import annotations

from tests.api.compensation_helpers import fresh_prefix, fund, paid, scheme, settle
from tests.api.registry_helpers import Registry
from tests.api.test_registry_refusals import expect
from tests.api.trading_helpers import Market
from tests.api.valuation_helpers import monitoring_record

YEAR = ("2024-01-01", "2024-12-31")


async def test_comprehensive_by_monitoring_with_ties_to_the_earlier_recipient(
    registry: Registry, market: Market
) -> None:
    prefix = fresh_prefix()
    district = await registry.make_party("government", region=f"{prefix}00")
    towns = [await registry.make_party("government", region=f"{prefix}0{n}") for n in (1, 2, 3)]
    await market.deposit(district, "100.00")
    rules = {"budget_per_period": "100.00", "recipients": [t.id for t in towns],
             "weights": [{"indicator": "gep_total", "weight": "0.5"},
                         {"indicator": "protected_area_share", "weight": "0.5"}]}  # fmt: skip
    created = await scheme(district, "综合补偿", "comprehensive", rules)
    await fund(district, created["id"], "100.00")
    url = f"/v1/compensation/schemes/{created['id']}/periods"
    body = {"period_start": YEAR[0], "period_end": YEAR[1], "preview": True}
    expect(await district.post(url, json=body), 409, "compensation_basis_missing")
    for n in (1, 2, 3):  # equal protected area, no GEP published: thirds of 100.00
        await monitoring_record(registry.registrar, {"region_code": f"{prefix}0{n}"},
                                "protected_area_share", *YEAR, "12.5", "%")  # fmt: skip
    preview = await settle(district, created["id"], *YEAR, preview=True)
    assert [p["amount"] for p in preview["payments"]] == ["33.34", "33.33", "33.33"]
    assert preview["payments"][0]["to_party_id"] == towns[0].id
    assert set(preview["payments"][0]["basis"]["indicators"]) == {"protected_area_share"}
    settled = await settle(district, created["id"], *YEAR, preview=False)
    assert paid(settled) == paid(preview) and settled["total"] == "100.00"
    assert (await district.get(f"/v1/compensation/schemes/{created['id']}")).json()[
        "balance"
    ] == "0.00"


async def test_payments_are_seen_by_recipient_payer_and_regulator(
    registry: Registry, market: Market
) -> None:
    prefix = fresh_prefix()
    district = await registry.make_party("government", region=f"{prefix}00")
    village = await registry.make_party("collective", region=f"{prefix}01")
    await market.deposit(district, "50.00")
    await registry.confirmed_asset(village, region_code=f"{prefix}01", area_ha="2")
    created = await scheme(district, "分类", "classified", {
        "region_prefix": prefix, "resource_type": "forest", "service": "air_purification",
        "rate_per_ha": "5.00"})  # fmt: skip
    await fund(district, created["id"], "50.00")
    settled = await settle(district, created["id"], *YEAR, preview=False)
    payment_id = settled["payments"][0]["id"]
    for reader, query in (
        (village, ""),
        (district, ""),
        (registry.regulator, f"?party_id={village.id}"),
    ):
        items = (await reader.get(f"/v1/compensation/payments{query}")).json()["items"]
        assert [p["id"] for p in items] == [payment_id], reader.kind
        assert items[0]["amount"] == "10.00" and items[0]["basis"]["area_ha"] == "2"
    stranger = await registry.trader()
    assert (await stranger.get("/v1/compensation/payments")).json()["items"] == []
    expect(await stranger.get(f"/v1/compensation/payments?party_id={village.id}"), 404, "not_found")
    listed = (await stranger.get("/v1/compensation/schemes?limit=500")).json()["items"]
    assert created["id"] in {s["id"] for s in listed}
