"""Natural-resource assets: application, registrar decision, overlap refusal, history."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.service import CertificateService
from market.db.locking import advisory_xact_lock
from market.kit.errors import NotFound
from market.kit.ids import new_id
from market.kit.time import utcnow
from market.parties.repository import PartyRepository
from market.parties.roles import Caller, require
from market.registry.errors import (
    BoundaryOverlap,
    InvalidRights,
    InvalidStatus,
    UnknownParty,
)
from market.registry.facts import rights_confirmation_facts
from market.registry.geometry import overlap_ratio, overlaps_too_much, parse_boundary
from market.registry.models import Asset, AssetEvent, AssetRight
from market.registry.repository import RegistryRepository
from market.registry.schemas import AssetCreate

ASSET_READERS = frozenset({"registrar", "regulator", "operator"})
RESOURCE_CODES = {
    "forest": "FO", "grassland": "GR", "wetland": "WE", "water": "WA", "farmland": "FA",
    "wasteland": "WS", "tidal_flat": "TF", "mountain": "MO",
}  # fmt: skip


class AssetService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = RegistryRepository(session)
        self.parties = PartyRepository(session)

    async def apply(self, caller: Caller, data: AssetCreate) -> tuple[Asset, list[AssetRight]]:
        """A collective (or enterprise) applies to register an asset it holds rights to."""
        require(caller, "collective", "enterprise")
        boundary = parse_boundary(data.boundary)
        self._check_rights(caller, data)
        holders = {r.holder_id for r in data.rights}
        known = await self.parties.get_many(holders)
        if missing := sorted(holders - set(known)):
            raise UnknownParty(f"unknown right holder(s): {', '.join(missing)}")
        now = utcnow()
        min_lon, min_lat, max_lon, max_lat = boundary.bbox
        asset = Asset(
            id=new_id("ast"),
            applicant_id=caller.party_id,
            resource_type=data.resource_type,
            name=data.name,
            region_code=data.region_code,
            area_ha=Decimal(data.area_ha),
            boundary=data.boundary,
            min_lon=min_lon,
            min_lat=min_lat,
            max_lon=max_lon,
            max_lat=max_lat,
            attributes=data.attributes,
            created_at=now,
        )
        rights = [
            AssetRight(
                id=new_id("rgt"),
                asset_id=asset.id,
                kind=r.kind,
                holder_id=r.holder_id,
                share=Decimal(r.share),
                valid_from=r.valid_from,
                valid_to=r.valid_to,
            )
            for r in data.rights
        ]
        await self.repo.add(asset)
        await self.repo.add(*rights)
        await self._event(asset.id, "applied", caller, {"rights": len(rights)})
        return asset, rights

    @staticmethod
    def _check_rights(caller: Caller, data: AssetCreate) -> None:
        if Decimal(data.area_ha) <= 0:
            raise InvalidRights("area_ha must be positive", field="area_ha")
        shares: dict[str, Decimal] = defaultdict(Decimal)
        for right in data.rights:
            share = Decimal(right.share)
            if share <= 0 or share > 100:
                raise InvalidRights("each share must be in (0, 100]")
            if right.valid_to is not None and right.valid_to < right.valid_from:
                raise InvalidRights("valid_to must not precede valid_from")
            shares[right.kind] += share
        if over := [k for k, total in shares.items() if total > 100]:
            raise InvalidRights(f"shares of {', '.join(over)} rights add up to more than 100")
        if all(r.holder_id != caller.party_id for r in data.rights):
            raise InvalidRights("the applicant must hold one of the rights it registers")

    async def get(self, caller: Caller, asset_id: str) -> tuple[Asset, list[AssetRight]]:
        asset = await self.repo.get(Asset, asset_id)
        if asset is None:
            raise NotFound("asset not found")
        rights = await self.repo.rights_of([asset_id])
        if not self._may_read(caller, asset, rights):
            raise NotFound("asset not found")
        return asset, rights

    @staticmethod
    def _may_read(caller: Caller, asset: Asset, rights: list[AssetRight]) -> bool:
        if caller.kind in ASSET_READERS or caller.party_id == asset.applicant_id:
            return True
        return any(r.holder_id == caller.party_id for r in rights)

    async def list_assets(
        self, caller: Caller, *, limit: int, cursor: str | None, **filters: str | None
    ) -> list[tuple[Asset, list[AssetRight]]]:
        visible_to = None if caller.kind in ASSET_READERS else caller.party_id
        assets = await self.repo.list_assets(
            limit=limit, cursor=cursor, visible_to=visible_to, **filters
        )
        rights = await self.repo.rights_of([a.id for a in assets])
        by_asset: dict[str, list[AssetRight]] = defaultdict(list)
        for right in rights:
            by_asset[right.asset_id].append(right)
        return [(a, by_asset[a.id]) for a in assets]

    async def confirm(self, caller: Caller, asset_id: str) -> tuple[Asset, list[AssetRight]]:
        """Registrar confirms: refuses an overlap with a confirmed asset of the same type."""
        require(caller, "registrar")
        asset = await self._locked(asset_id)
        # One confirmation per resource type at a time, so two overlapping applications
        # cannot both pass the overlap check concurrently.
        await advisory_xact_lock(self.repo.session, "asset-confirm", asset.resource_type)
        if asset.status != "applied":
            raise InvalidStatus(f"asset is {asset.status}, not applied")
        geometry = shape(asset.boundary)
        bbox = (asset.min_lon, asset.min_lat, asset.max_lon, asset.max_lat)
        for other in await self.repo.confirmed_in_bbox(asset.resource_type, bbox, asset.id):
            other_geometry = shape(other.boundary)
            if overlaps_too_much(geometry, other_geometry):
                ratio = overlap_ratio(geometry, other_geometry)
                raise BoundaryOverlap(
                    f"boundary overlaps confirmed asset {other.id} "
                    f"({other.registration_number}, {other.name}) by {ratio:.1%}",
                    other_asset_id=other.id,
                    other_registration_number=other.registration_number,
                )
        now = utcnow()
        seq = await self.repo.next_registration_seq()
        asset.status = "confirmed"
        asset.registrar_id = caller.party_id
        asset.registration_number = (
            f"{asset.region_code}-{RESOURCE_CODES[asset.resource_type]}-{now.year}-{seq:06d}"
        )
        asset.decided_at = now
        rights = await self.repo.rights_of([asset.id])
        certificate = await CertificateService(self.repo.session).issue(
            "rights_confirmation",
            asset.id,
            caller.party_id,
            rights_confirmation_facts(asset, rights),
        )
        asset.certificate_id = certificate.id
        await self.repo.add(asset)
        await self._event(
            asset.id,
            "confirmed",
            caller,
            {"registration_number": asset.registration_number, "certificate_id": certificate.id},
        )
        return asset, rights

    async def reject(
        self, caller: Caller, asset_id: str, reason: str
    ) -> tuple[Asset, list[AssetRight]]:
        require(caller, "registrar")
        asset = await self._locked(asset_id)
        if asset.status != "applied":
            raise InvalidStatus(f"asset is {asset.status}, not applied")
        asset.status = "rejected"
        asset.registrar_id = caller.party_id
        asset.reject_reason = reason
        asset.decided_at = utcnow()
        await self.repo.add(asset)
        await self._event(asset.id, "rejected", caller, {"reason": reason})
        return asset, await self.repo.rights_of([asset.id])

    async def cancel(
        self, caller: Caller, asset_id: str, reason: str
    ) -> tuple[Asset, list[AssetRight]]:
        require(caller, "registrar")
        asset = await self._locked(asset_id)
        if asset.status != "confirmed":
            raise InvalidStatus(f"asset is {asset.status}, not confirmed")
        asset.status = "cancelled"
        asset.decided_at = utcnow()
        await self.repo.add(asset)
        await self._event(asset.id, "cancelled", caller, {"reason": reason})
        return asset, await self.repo.rights_of([asset.id])

    async def events(self, caller: Caller, asset_id: str) -> list[AssetEvent]:
        await self.get(caller, asset_id)
        return await self.repo.asset_events(asset_id)

    async def _locked(self, asset_id: str) -> Asset:
        asset = await self.repo.get(Asset, asset_id, lock=True)
        if asset is None:
            raise NotFound("asset not found")
        return asset

    async def _event(
        self, asset_id: str, kind: str, caller: Caller, detail: dict[str, Any]
    ) -> None:
        await self.repo.add_asset_event(
            AssetEvent(
                asset_id=asset_id,
                kind=kind,
                actor_id=caller.party_id,
                detail=detail,
                created_at=utcnow(),
            )
        )
