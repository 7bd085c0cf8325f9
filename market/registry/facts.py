"""What each registry certificate certifies (the `facts` part of its payload)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from market.kit.money import format_decimal
from market.kit.time import isoformat
from market.registry.models import (
    Asset,
    AssetRight,
    Batch,
    EcoProduct,
    Pledge,
    Retirement,
    Transfer,
)


def boundary_sha256(boundary: dict[str, Any]) -> str:
    """The boundary's fingerprint (coordinates are floats, so not inside the RFC 8785 payload)."""
    text = json.dumps(boundary, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def rights_confirmation_facts(asset: Asset, rights: list[AssetRight]) -> dict[str, Any]:
    return {
        "asset_id": asset.id,
        "registration_number": asset.registration_number,
        "resource_type": asset.resource_type,
        "name": asset.name,
        "region_code": asset.region_code,
        "area_ha": format_decimal(asset.area_ha),
        "boundary_sha256": boundary_sha256(asset.boundary),
        "applicant_id": asset.applicant_id,
        "rights": [
            {
                "kind": r.kind,
                "holder_id": r.holder_id,
                "share": format_decimal(r.share),
                "valid_from": r.valid_from,
                "valid_to": r.valid_to,
            }
            for r in rights
        ],
    }


def certification_facts(product: EcoProduct, asset_ids: list[str]) -> dict[str, Any]:
    return {
        "eco_product_id": product.id,
        "product_type": product.product_type,
        "name": product.name,
        "applicant_id": product.applicant_id,
        "asset_ids": asset_ids,
        "brand": product.brand,
        "methodology": product.methodology,
        "standard": product.standard,
        "valid_until": product.valid_until,
    }


def batch_facts(batch: Batch, asset_ids: list[str]) -> dict[str, Any]:
    return {
        "batch_id": batch.id,
        "eco_product_id": batch.eco_product_id,
        "product_type": batch.product_type,
        "owner_id": batch.owner_id,
        "asset_ids": asset_ids,
        "quantity": batch.quantity,
        "vintage": batch.vintage,
        "period_start": batch.period_start,
        "period_end": batch.period_end,
        "serial_start": batch.serial_start,
        "serial_end": batch.serial_end,
        "serial": batch.serial,
    }


def transfer_facts(transfer: Transfer) -> dict[str, Any]:
    return {
        "transfer_id": transfer.id,
        "batch_id": transfer.batch_id,
        "from_party_id": transfer.from_party_id,
        "to_party_id": transfer.to_party_id,
        "quantity": transfer.quantity,
        "ranges": transfer.ranges,
        "reference": transfer.reference,
    }


def retirement_facts(retirement: Retirement) -> dict[str, Any]:
    return {
        "retirement_id": retirement.id,
        "batch_id": retirement.batch_id,
        "party_id": retirement.party_id,
        "quantity": retirement.quantity,
        "ranges": retirement.ranges,
        "beneficiary": retirement.beneficiary,
        "reason": retirement.reason,
        "period": retirement.period,
        "retired_at": isoformat(retirement.retired_at),
    }


def pledge_facts(pledge: Pledge) -> dict[str, Any]:
    return {
        "pledge_id": pledge.id,
        "batch_id": pledge.batch_id,
        "party_id": pledge.party_id,
        "pledgee_id": pledge.pledgee_id,
        "quantity": pledge.quantity,
        "ranges": pledge.ranges,
        "reference": pledge.reference,
        "status": pledge.status,
    }
