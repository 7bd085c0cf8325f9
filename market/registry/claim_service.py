"""Claims on assets' ecosystem services (DOMAIN.md "No double claims") and the right holders
compensation pays: what other contexts ask the registry about nature that is paid for.

Every paid claim — a batch issued from an asset (its product type's service) or a compensation
payment for an asset and service — is one `asset_claims` row. The database refuses an
overlapping claim on the same asset and service (`claims_sql`); this service takes the same
lock first, so the refusal names the earlier claim and races have exactly one winner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.time import utcnow
from market.parties.roles import Caller
from market.registry.asset_service import AssetService
from market.registry.claim_repository import ClaimRepository
from market.registry.errors import DoubleClaim
from market.registry.models import AssetClaim
from market.registry.repository import RegistryRepository

USE_KINDS = frozenset({"use", "operation"})
Pair = tuple[str, str]  # (asset id, service)


@dataclass(slots=True)
class CompensableAsset:
    """A confirmed asset and who is paid for it: (holder, share) of the rights that receive."""

    asset_id: str
    area_ha: Decimal
    region_code: str
    holders: list[tuple[str, Decimal]] = field(default_factory=list)


def receiving_rights(rights: list[tuple[str, str, Decimal]]) -> list[tuple[str, Decimal]]:
    """(kind, holder, share) in force → who receives: use/operation holders where such a
    right is granted, else the owners (the eco-product rule, DOMAIN.md)."""
    users = [(h, s) for k, h, s in rights if k in USE_KINDS]
    return users or [(h, s) for k, h, s in rights if k == "ownership"]


class ClaimService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = ClaimRepository(session)
        self.session = session

    async def claim_all(
        self, pairs: list[Pair], start: date, end: date, *, source: str, source_id: str
    ) -> None:
        """Record every claim or none: `DoubleClaim` naming the earlier claim on an overlap."""
        earlier = await self.repo.lock_and_find_overlaps(pairs, start, end)
        if earlier:
            first = earlier[min(earlier)]
            raise DoubleClaim(
                f"asset {first['asset_id']} already has a {first['source']} claim on "
                f"{first['service']} for {first['period_start']}..{first['period_end']}",
                claim=first,
            )
        await self.repo.insert(pairs, start, end, source, source_id, utcnow())

    async def overlapping(
        self, pairs: list[Pair], start: date, end: date
    ) -> dict[Pair, dict[str, Any]]:
        """The earlier claims that would refuse these pairs, locked until commit (so a claim
        made next in this transaction cannot lose a race)."""
        return await self.repo.lock_and_find_overlaps(pairs, start, end)

    async def record(
        self, pairs: list[Pair], start: date, end: date, *, source: str, source_id: str
    ) -> None:
        """Record claims checked with `overlapping` in this transaction."""
        await self.repo.insert(pairs, start, end, source, source_id, utcnow())

    async def claims_of(self, caller: Caller, asset_id: str) -> list[AssetClaim]:
        """Every claim on an asset, oldest first; for whoever may read the asset."""
        await AssetService(self.session).get(caller, asset_id)
        return await self.repo.claims_of(asset_id)

    async def compensable_assets(
        self, resource_type: str, region_prefix: str, on: date
    ) -> list[CompensableAsset]:
        """Confirmed assets of a type in a region, with the holders paid for them on `on`."""
        assets: dict[str, CompensableAsset] = {}
        rights: dict[str, list[tuple[str, str, Decimal]]] = {}
        rows = await self.repo.compensable_rights(resource_type, region_prefix, on)
        for asset_id, area, region, kind, holder, share in rows:
            if asset_id not in assets:
                assets[asset_id] = CompensableAsset(asset_id, area, region)
                rights[asset_id] = []
            rights[asset_id].append((kind, holder, share))
        for asset_id, asset in assets.items():
            asset.holders = receiving_rights(rights[asset_id])
        return [a for a in assets.values() if a.holders]

    async def regions_of(self, asset_ids: list[str]) -> dict[str, str]:
        """Region code of each existing asset among `asset_ids`."""
        assets = await RegistryRepository(self.session).get_assets(asset_ids)
        return {a.id: a.region_code for a in assets.values()}
