"""Turn registry rows into response models."""

from __future__ import annotations

from market.kit.money import format_decimal
from market.registry.models import Asset, AssetRight, EcoProduct
from market.registry.schemas import AssetOut, EcoProductOut, RightOut


def asset_out(asset: Asset, rights: list[AssetRight]) -> AssetOut:
    return AssetOut(
        id=asset.id,
        applicant_id=asset.applicant_id,
        resource_type=asset.resource_type,
        name=asset.name,
        region_code=asset.region_code,
        area_ha=format_decimal(asset.area_ha),
        boundary=asset.boundary,
        rights=[
            RightOut(
                kind=r.kind,
                holder_id=r.holder_id,
                share=format_decimal(r.share, 0).rstrip("."),
                valid_from=r.valid_from,
                valid_to=r.valid_to,
            )
            for r in rights
        ],
        attributes=asset.attributes,
        status=asset.status,
        registration_number=asset.registration_number,
        registrar_id=asset.registrar_id,
        reject_reason=asset.reject_reason,
        certificate_id=asset.certificate_id,
        created_at=asset.created_at,
        decided_at=asset.decided_at,
    )


def eco_product_out(product: EcoProduct, asset_ids: list[str]) -> EcoProductOut:
    return EcoProductOut.model_validate({**product.model_dump(), "asset_ids": asset_ids})
