"""No double claims: the product catalog's services, the claims ledger, the database's guard,
and a batch issuance racing a compensation period (exactly one wins)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.compensation.invariants import compensation_checks
from market.registry.invariants import append_only_tables
from tests.api.compensation_helpers import fresh_prefix, fund, scheme
from tests.api.registry_helpers import Registry
from tests.api.test_registry_races import statuses
from tests.api.trading_helpers import Market

INSERT_CLAIM = text(
    "INSERT INTO asset_claims (asset_id, service, period_start, period_end, source, source_id,"
    " created_at) VALUES (:asset, :service, :start, :end, 'batch', :source, now())"
)


async def test_product_types_name_the_service_they_claim(registry: Registry) -> None:
    items = (await registry.operator.get("/v1/product-types")).json()["items"]
    services = {t["code"]: t["service"] for t in items}
    assert services["CARBON_SINK"] == "carbon_fixation"
    assert services["WATER_RIGHT"] == "water_supply"
    assert services["GREEN_CERT"] is None


async def test_claims_are_listed_for_holders_and_regulators(registry: Registry) -> None:
    holder = await registry.trader()
    batch = await registry.batch(holder, 10)
    product = (await registry.certifier.get(f"/v1/eco-products/{batch['eco_product_id']}")).json()
    asset_id = product["asset_ids"][0]
    for reader in (holder, registry.regulator):
        items = (await reader.get(f"/v1/claims?asset_id={asset_id}")).json()["items"]
        assert [(c["source"], c["source_id"], c["service"]) for c in items] == [
            ("batch", batch["id"], "carbon_fixation")
        ]
    stranger = await registry.trader()
    assert (await stranger.get(f"/v1/claims?asset_id={asset_id}")).status_code == 404
    assert (await holder.get("/v1/claims")).status_code == 400


async def test_the_database_refuses_an_overlap_whoever_writes(
    registry: Registry, engine: AsyncEngine
) -> None:
    holder = await registry.trader()
    asset = await registry.confirmed_asset(holder)
    claim = {"asset": asset["id"], "service": "water_conservation", "source": "x"}
    async with AsyncSession(engine) as session:
        await session.execute(
            INSERT_CLAIM, {**claim, "start": date(2025, 1, 1), "end": date(2025, 6, 30)}
        )
        # adjacent periods and other services are fine
        await session.execute(
            INSERT_CLAIM, {**claim, "start": date(2025, 7, 1), "end": date(2025, 12, 31)}
        )
        await session.execute(INSERT_CLAIM, {**claim, "service": "recreation",
                                             "start": date(2025, 3, 1), "end": date(2025, 3, 31)})  # fmt: skip
        with pytest.raises(IntegrityError, match="double_claim"):
            await session.execute(
                INSERT_CLAIM, {**claim, "start": date(2025, 6, 30), "end": date(2025, 7, 1)}
            )
        await session.rollback()


async def test_the_invariant_sees_an_overlap_smuggled_past_the_trigger(
    registry: Registry, engine: AsyncEngine
) -> None:
    holder = await registry.trader()
    asset = await registry.confirmed_asset(holder)
    claim = {"asset": asset["id"], "service": "soil_retention", "source": "x",
             "start": date(2025, 1, 1), "end": date(2025, 12, 31)}  # fmt: skip
    async with AsyncSession(engine) as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(INSERT_CLAIM, claim)
        await session.execute(INSERT_CLAIM, claim)
        checks = {
            c.name: c for c in await compensation_checks(session, await append_only_tables(session))
        }
        assert (
            not checks["claims_exclusive"].ok and asset["id"] in checks["claims_exclusive"].detail
        )
        await session.rollback()


async def test_batch_and_compensation_race_with_exactly_one_winner(
    registry: Registry, market: Market
) -> None:
    prefix = fresh_prefix()
    district = await registry.make_party("government", region=f"{prefix}00")
    await market.deposit(district, "100000.00")
    carbon = await scheme(district, "固碳补偿", "classified", {
        "region_prefix": prefix, "resource_type": "forest", "service": "carbon_fixation",
        "rate_per_ha": "10.00"})  # fmt: skip
    await fund(district, carbon["id"], "100000.00")
    village = await registry.make_party("collective", region=f"{prefix}01")
    assets, products = [], []
    for _ in range(6):
        asset = await registry.confirmed_asset(village, region_code=f"{prefix}01", area_ha="1")
        assets.append(asset["id"])
        products.append(await registry.product_on(village, [asset["id"]]))
    year = {"period_start": "2025-01-01", "period_end": "2025-12-31"}
    batch_body = {"quantity": 10, "vintage": 2025, **year}
    responses: list[Any] = await asyncio.gather(
        district.post(f"/v1/compensation/schemes/{carbon['id']}/periods", json=year),
        *(registry.certifier.post(f"/v1/eco-products/{p['id']}/batches", json=batch_body)
          for p in products),
    )  # fmt: skip
    period, batches = responses[0], responses[1:]
    assert period.status_code == 201, period.text
    paid = {p["asset_id"] for p in period.json()["payments"]}
    excluded = {e["asset_id"] for e in period.json()["excluded"]}
    issued = {a for a, r in zip(assets, batches, strict=True) if r.status_code == 201}
    refused = {a for a, r in zip(assets, batches, strict=True) if r.status_code == 409}
    assert statuses(batches)[(409, "double_claim")] == len(refused)
    # every asset's carbon is claimed exactly once: by its batch or by the compensation
    assert paid | issued == set(assets) and not paid & issued
    assert excluded == issued and refused == paid
    for asset_id in assets:
        claims = (await registry.regulator.get(f"/v1/claims?asset_id={asset_id}")).json()["items"]
        assert len(claims) == 1
