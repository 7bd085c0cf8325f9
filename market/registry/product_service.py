"""Eco-products (apply, certify, reject, revoke) and batch issuance with serial numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.service import CertificateService
from market.db.locking import advisory_xact_lock
from market.kit.errors import NotFound
from market.kit.ids import new_id
from market.kit.time import utcnow
from market.parties.roles import Caller, require
from market.registry.claim_service import ClaimService
from market.registry.errors import (
    AssetNotConfirmed,
    DoubleIssuance,
    EcoProductNotCertified,
    InvalidStatus,
    NotRightHolder,
    UnknownProductType,
)
from market.registry.facts import batch_facts, certification_facts
from market.registry.models import (
    AssetRight,
    Batch,
    BatchAssetPeriod,
    EcoProduct,
    EcoProductAsset,
    EcoProductEvent,
    ProductType,
)
from market.registry.repository import RegistryRepository
from market.registry.schemas import BatchCreate, CertifyIn, EcoProductCreate
from market.registry.units import UnitLedger

PRODUCT_READERS = frozenset({"certifier", "regulator", "operator"})
USE_KINDS = frozenset({"use", "operation"})


def is_current(right: AssetRight, today: date) -> bool:
    return right.valid_from <= today and (right.valid_to is None or right.valid_to >= today)


def may_apply(party_id: str, rights: list[AssetRight], today: date) -> bool:
    """A holder of a current use/operation right, or of ownership where none is granted."""
    current = [r for r in rights if is_current(r, today)]
    users = [r for r in current if r.kind in USE_KINDS]
    eligible = users or [r for r in current if r.kind == "ownership"]
    return any(r.holder_id == party_id for r in eligible)


def human_serial(batch: Batch) -> str:
    return (
        f"{batch.product_type}-{batch.region_code}-{batch.vintage}-{batch.batch_no:06d}"
        f"-{batch.serial_start}-{batch.serial_end}"
    )


class ProductService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = RegistryRepository(session)
        self.units = UnitLedger(session)

    async def product_types(self) -> list[ProductType]:
        return await self.repo.product_types()

    async def product_type(self, code: str) -> ProductType:
        product_type = await self.repo.product_type(code)
        if product_type is None:
            raise UnknownProductType(f"unknown product type {code!r}")
        return product_type

    async def apply(self, caller: Caller, data: EcoProductCreate) -> tuple[EcoProduct, list[str]]:
        """A right holder on every source asset applies for certification."""
        require(caller, "collective", "enterprise")
        await self.product_type(data.product_type)
        asset_ids = sorted(set(data.asset_ids))
        assets = await self.repo.get_assets(asset_ids)
        if missing := [a for a in asset_ids if a not in assets]:
            raise NotFound(f"asset not found: {', '.join(missing)}")
        rights = await self.repo.rights_of(asset_ids)
        today = utcnow().date()
        for asset_id in asset_ids:
            of_asset = [r for r in rights if r.asset_id == asset_id]
            if not may_apply(caller.party_id, of_asset, today):
                raise NotRightHolder(
                    f"the caller holds no current use/operation (or ownership) right on {asset_id}",
                    asset_id=asset_id,
                )
        if unconfirmed := [a for a in asset_ids if assets[a].status != "confirmed"]:
            raise AssetNotConfirmed(
                f"asset(s) not confirmed: {', '.join(unconfirmed)}", asset_ids=unconfirmed
            )
        product = EcoProduct(
            id=new_id("eco"),
            product_type=data.product_type,
            name=data.name,
            applicant_id=caller.party_id,
            brand=data.brand,
            methodology=data.methodology,
            attributes=data.attributes,
            created_at=utcnow(),
        )
        await self.repo.add(product)
        await self.repo.add(
            *(EcoProductAsset(eco_product_id=product.id, asset_id=a) for a in asset_ids)
        )
        await self._event(product.id, "applied", caller, {"asset_ids": asset_ids})
        return product, asset_ids

    async def get(self, caller: Caller, product_id: str) -> tuple[EcoProduct, list[str]]:
        product = await self.repo.get(EcoProduct, product_id)
        if product is None or not (
            caller.kind in PRODUCT_READERS or caller.party_id == product.applicant_id
        ):
            raise NotFound("eco-product not found")
        return product, await self.repo.assets_of_product(product_id)

    async def list_products(
        self, caller: Caller, *, limit: int, cursor: str | None, status: str | None
    ) -> list[tuple[EcoProduct, list[str]]]:
        applicant = None if caller.kind in PRODUCT_READERS else caller.party_id
        products = await self.repo.list_eco_products(
            limit=limit, cursor=cursor, applicant_id=applicant, status=status
        )
        return [(p, await self.repo.assets_of_product(p.id)) for p in products]

    async def certify(
        self, caller: Caller, product_id: str, data: CertifyIn
    ) -> tuple[EcoProduct, list[str]]:
        require(caller, "certifier")
        product = await self._locked(product_id, "pending")
        product.status = "certified"
        product.standard = data.standard
        product.valid_until = data.valid_until
        product.certifier_id = caller.party_id
        product.decided_at = utcnow()
        asset_ids = await self.repo.assets_of_product(product_id)
        certificate = await CertificateService(self.repo.session).issue(
            "eco_product_certification",
            product.id,
            caller.party_id,
            certification_facts(product, asset_ids),
        )
        product.certificate_id = certificate.id
        await self.repo.add(product)
        await self._event(
            product.id,
            "certified",
            caller,
            {"standard": data.standard, "certificate_id": certificate.id},
        )
        return product, asset_ids

    async def decide_against(
        self, caller: Caller, product_id: str, reason: str, *, revoke: bool
    ) -> tuple[EcoProduct, list[str]]:
        """Reject a pending application, or revoke a certified product (no new batches)."""
        require(caller, "certifier")
        product = await self._locked(product_id, "certified" if revoke else "pending")
        product.status = "revoked" if revoke else "rejected"
        product.reason = reason
        product.certifier_id = product.certifier_id or caller.party_id
        product.decided_at = utcnow()
        await self.repo.add(product)
        await self._event(product.id, product.status, caller, {"reason": reason})
        return product, await self.repo.assets_of_product(product_id)

    async def issue_batch(self, caller: Caller, product_id: str, data: BatchCreate) -> Batch:
        """Issue whole units with a contiguous serial range, credited to the applicant."""
        require(caller, "certifier")
        product = await self._locked(product_id, None)
        if product.status != "certified":
            raise EcoProductNotCertified(f"eco-product is {product.status}, not certified")
        today = utcnow().date()
        if product.valid_until is not None and product.valid_until < today:
            raise EcoProductNotCertified("the eco-product's certification has expired")
        asset_ids = await self.repo.assets_of_product(product_id)
        session = self.repo.session
        await advisory_xact_lock(
            session, "issuance", *(f"{a}:{product.product_type}" for a in asset_ids)
        )
        clashes = await self.repo.overlapping_issuance(
            asset_ids, product.product_type, data.period_start, data.period_end
        )
        if clashes:
            first = clashes[0]
            raise DoubleIssuance(
                f"asset {first['asset_id']} already backs batch {first['batch_id']} of "
                f"{product.product_type} for {first['period_start']}..{first['period_end']}",
                batch_id=first["batch_id"],
                asset_id=first["asset_id"],
            )
        batch_id = new_id("bat")
        service = (await self.product_type(product.product_type)).service
        if service is not None:
            await ClaimService(session).claim_all(
                [(a, service) for a in asset_ids],
                data.period_start,
                data.period_end,
                source="batch",
                source_id=batch_id,
            )
        await advisory_xact_lock(session, "serials", product.product_type)
        last_serial, last_batch_no = await self.repo.last_serial_and_batch_no(product.product_type)
        assets = await self.repo.get_assets(asset_ids)
        batch = Batch(
            id=batch_id,
            eco_product_id=product.id,
            product_type=product.product_type,
            owner_id=product.applicant_id,
            issuer_id=caller.party_id,
            quantity=data.quantity,
            vintage=data.vintage,
            region_code=assets[asset_ids[0]].region_code,
            period_start=data.period_start,
            period_end=data.period_end,
            batch_no=last_batch_no + 1,
            serial_start=last_serial + 1,
            serial_end=last_serial + data.quantity,
            serial="",
            created_at=utcnow(),
        )
        batch.serial = human_serial(batch)
        certificate = await CertificateService(session).issue(
            "batch_issuance", batch.id, caller.party_id, batch_facts(batch, asset_ids)
        )
        batch.certificate_id = certificate.id
        await self.repo.add(batch)
        await self.repo.add(
            *(
                BatchAssetPeriod(
                    batch_id=batch.id,
                    asset_id=a,
                    product_type=product.product_type,
                    period_start=data.period_start,
                    period_end=data.period_end,
                )
                for a in asset_ids
            )
        )
        await self.units.issue(
            batch.id, batch.owner_id, batch.serial_start, batch.serial_end, batch.id
        )
        await self._event(
            product.id, "batch_issued", caller, {"batch_id": batch.id, "quantity": data.quantity}
        )
        return batch

    async def batch(self, batch_id: str) -> Batch:
        batch = await self.repo.get(Batch, batch_id)
        if batch is None:
            raise NotFound("batch not found")
        return batch

    async def _locked(self, product_id: str, expected: str | None) -> EcoProduct:
        product = await self.repo.get(EcoProduct, product_id, lock=True)
        if product is None:
            raise NotFound("eco-product not found")
        if expected is not None and product.status != expected:
            raise InvalidStatus(f"eco-product is {product.status}, not {expected}")
        return product

    async def _event(
        self, product_id: str, kind: str, caller: Caller, detail: dict[str, Any]
    ) -> None:
        await self.repo.add_product_event(
            EcoProductEvent(
                eco_product_id=product_id,
                kind=kind,
                actor_id=caller.party_id,
                detail=detail,
                created_at=utcnow(),
            )
        )
