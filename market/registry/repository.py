"""All SQL for assets, rights, eco-products, batches, transfers, retirements, pledges, approvals."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import exists, func, or_, select, text

from market.db.raw import raw_connection
from market.db.remembered import remembered
from market.kit.repository import Repository, table_of
from market.registry.models import (
    Approval,
    Asset,
    AssetEvent,
    AssetRight,
    Batch,
    BatchAssetPeriod,
    EcoProduct,
    EcoProductAsset,
    EcoProductEvent,
    ProductType,
    Retirement,
    RetirementRange,
)

_t = table_of


ASSETS, RIGHTS, EVENTS = _t(Asset), _t(AssetRight), _t(AssetEvent)
PRODUCTS, PRODUCT_ASSETS = _t(EcoProduct), _t(EcoProductAsset)
BATCHES, PERIODS = _t(Batch), _t(BatchAssetPeriod)
RETIREMENTS, RETIREMENT_RANGES = _t(Retirement), _t(RetirementRange)
APPROVALS = _t(Approval)


# A retirement and its serial ranges in one round trip (the ranges' foreign key sees the
# retirement: constraints are checked at the end of the statement).
_INSERT_RETIREMENT = """
WITH retirement AS (
  INSERT INTO retirements (id, batch_id, party_id, quantity, ranges, beneficiary, reason, period,
                           certificate_id, retired_at)
  VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)
)
INSERT INTO retirement_ranges (retirement_id, batch_id, serial_start, serial_end)
SELECT $1, $2, r.serial_start, r.serial_end
FROM unnest($11::bigint[], $12::bigint[]) AS r(serial_start, serial_end)
"""


class RegistryRepository(Repository):
    """All SQL of this context (`add` and `get` come from `Repository`)."""

    # assets ---------------------------------------------------------------------------------

    async def rights_of(self, asset_ids: list[str]) -> list[AssetRight]:
        if not asset_ids:
            return []
        rows = await self.session.execute(
            select(AssetRight).where(RIGHTS.c.asset_id.in_(asset_ids)).order_by(RIGHTS.c.id)
        )
        return list(rows.scalars())

    async def list_assets(
        self,
        *,
        limit: int,
        cursor: str | None,
        visible_to: str | None,
        status: str | None,
        resource_type: str | None,
        holder_id: str | None,
        region_code: str | None,
    ) -> list[Asset]:
        query = select(Asset).order_by(ASSETS.c.id).limit(limit + 1)
        if cursor:
            query = query.where(ASSETS.c.id > cursor)
        if status:
            query = query.where(ASSETS.c.status == status)
        if resource_type:
            query = query.where(ASSETS.c.resource_type == resource_type)
        if region_code:
            query = query.where(ASSETS.c.region_code.startswith(region_code.rstrip("0") or "0"))
        for party in (visible_to, holder_id):
            if party:
                held = exists().where(RIGHTS.c.asset_id == ASSETS.c.id, RIGHTS.c.holder_id == party)
                query = query.where(or_(ASSETS.c.applicant_id == party, held))
        rows = await self.session.execute(query)
        return list(rows.scalars())

    async def confirmed_in_bbox(
        self, resource_type: str, bbox: tuple[float, float, float, float], exclude: str
    ) -> list[Asset]:
        min_lon, min_lat, max_lon, max_lat = bbox
        rows = await self.session.execute(
            select(Asset).where(
                ASSETS.c.resource_type == resource_type,
                ASSETS.c.status == "confirmed",
                ASSETS.c.id != exclude,
                ASSETS.c.min_lon <= max_lon,
                ASSETS.c.max_lon >= min_lon,
                ASSETS.c.min_lat <= max_lat,
                ASSETS.c.max_lat >= min_lat,
            )
        )
        return list(rows.scalars())

    async def next_registration_seq(self) -> int:
        return int(
            (
                await self.session.execute(text("SELECT nextval('asset_registration_seq')"))
            ).scalar_one()
        )

    async def asset_events(self, asset_id: str) -> list[AssetEvent]:
        rows = await self.session.execute(
            select(AssetEvent).where(EVENTS.c.asset_id == asset_id).order_by(EVENTS.c.id)
        )
        return list(rows.scalars())

    async def add_asset_event(self, event: AssetEvent) -> None:
        await self.add(event)

    # retirements ----------------------------------------------------------------------------

    async def insert_retirement(
        self, retirement: Retirement, ranges: list[RetirementRange]
    ) -> None:
        """Store a retirement with its serial ranges (one statement)."""
        connection = await raw_connection(self.session)
        await connection.execute(
            _INSERT_RETIREMENT,
            retirement.id,
            retirement.batch_id,
            retirement.party_id,
            retirement.quantity,
            json.dumps(retirement.ranges),
            retirement.beneficiary,
            retirement.reason,
            retirement.period,
            retirement.certificate_id,
            retirement.retired_at,
            [r.serial_start for r in ranges],
            [r.serial_end for r in ranges],
        )

    # product types and eco-products ---------------------------------------------------------

    async def product_type(self, code: str) -> ProductType | None:
        """A catalog entry. The catalog is seeded by migrations and never changes while the
        server runs: each process reads an entry once (detached, so no rollback expires it)."""

        async def load() -> ProductType | None:
            found = await self.session.get(ProductType, code)
            if found is not None:
                self.session.expunge(found)
            return found

        return await remembered(self.session, ("product_type", code), load)

    async def product_types(self) -> list[ProductType]:
        rows = await self.session.execute(select(ProductType).order_by(_t(ProductType).c.code))
        return list(rows.scalars())

    async def assets_of_product(self, eco_product_id: str) -> list[str]:
        rows = await self.session.execute(
            select(PRODUCT_ASSETS.c.asset_id)
            .where(PRODUCT_ASSETS.c.eco_product_id == eco_product_id)
            .order_by(PRODUCT_ASSETS.c.asset_id)
        )
        return list(rows.scalars())

    async def get_assets(self, asset_ids: list[str]) -> dict[str, Asset]:
        rows = await self.session.execute(select(Asset).where(ASSETS.c.id.in_(asset_ids)))
        return {a.id: a for a in rows.scalars()}

    async def list_eco_products(
        self, *, limit: int, cursor: str | None, applicant_id: str | None, status: str | None
    ) -> list[EcoProduct]:
        query = select(EcoProduct).order_by(PRODUCTS.c.id).limit(limit + 1)
        if cursor:
            query = query.where(PRODUCTS.c.id > cursor)
        if applicant_id:
            query = query.where(PRODUCTS.c.applicant_id == applicant_id)
        if status:
            query = query.where(PRODUCTS.c.status == status)
        rows = await self.session.execute(query)
        return list(rows.scalars())

    async def add_product_event(self, event: EcoProductEvent) -> None:
        await self.add(event)

    # batches --------------------------------------------------------------------------------

    async def overlapping_issuance(
        self, asset_ids: list[str], product_type: str, start: date, end: date
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(
                PERIODS.c.batch_id, PERIODS.c.asset_id, PERIODS.c.period_start, PERIODS.c.period_end
            )
            .where(
                PERIODS.c.asset_id.in_(asset_ids),
                PERIODS.c.product_type == product_type,
                PERIODS.c.period_start <= end,
                PERIODS.c.period_end >= start,
            )
            .limit(5)
        )
        return [dict(r._mapping) for r in rows]

    async def last_serial_and_batch_no(self, product_type: str) -> tuple[int, int]:
        row = (
            await self.session.execute(
                select(
                    func.coalesce(func.max(BATCHES.c.serial_end), 0),
                    func.coalesce(func.max(BATCHES.c.batch_no), 0),
                ).where(BATCHES.c.product_type == product_type)
            )
        ).one()
        return int(row[0]), int(row[1])

    async def retirements_covering(self, batch_id: str, serial: int) -> list[Retirement]:
        rows = await self.session.execute(
            select(Retirement)
            .join(RETIREMENT_RANGES, RETIREMENT_RANGES.c.retirement_id == RETIREMENTS.c.id)
            .where(
                RETIREMENT_RANGES.c.batch_id == batch_id,
                RETIREMENT_RANGES.c.serial_start <= serial,
                RETIREMENT_RANGES.c.serial_end >= serial,
            )
        )
        return list(rows.scalars().unique())

    async def retirements_of_batch(self, batch_id: str, limit: int) -> list[Retirement]:
        rows = await self.session.execute(
            select(Retirement)
            .where(RETIREMENTS.c.batch_id == batch_id)
            .order_by(RETIREMENTS.c.id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def list_approvals(
        self, status: str | None, limit: int, cursor: str | None
    ) -> list[Approval]:
        query = select(Approval).order_by(APPROVALS.c.id).limit(limit + 1)
        if cursor:
            query = query.where(APPROVALS.c.id > cursor)
        if status:
            query = query.where(APPROVALS.c.status == status)
        rows = await self.session.execute(query)
        return list(rows.scalars())
