"""Registry request and response models (API.md "Registry")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from market.kit.schema import (
    Attributes,
    Day,
    Id,
    Input,
    Name,
    Output,
    Quantity,
    RegionCode,
    Text,
    Timestamp,
    Vintage,
)

ResourceType = Literal[
    "forest", "grassland", "wetland", "water", "farmland", "wasteland", "tidal_flat", "mountain"
]
RightKind = Literal["ownership", "contract", "use", "operation"]
# A GeoJSON Polygon or MultiPolygon (WGS84 positions) as JSON Schema can say it; whether the
# rings close and the polygon is valid is checked on the geometry (`invalid_boundary`).
_POSITION: dict[str, Any] = {
    "type": "array",
    "minItems": 2,
    "maxItems": 3,
    "items": {"type": "number", "minimum": -180, "maximum": 180},
}
_RING: dict[str, Any] = {"type": "array", "minItems": 4, "items": _POSITION}
_POLYGON: dict[str, Any] = {"type": "array", "minItems": 1, "items": _RING}
GEOJSON_AREA: dict[str, Any] = {"oneOf": [
    {"type": "object", "required": ["type", "coordinates"],
     "properties": {"type": {"const": "Polygon"}, "coordinates": _POLYGON}},
    {"type": "object", "required": ["type", "coordinates"],
     "properties": {"type": {"const": "MultiPolygon"},
                    "coordinates": {"type": "array", "minItems": 1, "items": _POLYGON}}},
]}  # fmt: skip

# Above zero: hectares with up to 4 places; a share in (0, 100] with up to 2 places.
AreaHa = Annotated[
    str,
    StringConstraints(
        pattern=r"^([1-9][0-9]{0,11}(\.[0-9]{1,4})?|0\.([1-9][0-9]{0,3}|0[1-9][0-9]{0,2}|00[1-9][0-9]?|000[1-9]))$"
    ),
]
Share = Annotated[
    str,
    StringConstraints(
        pattern=r"^(100(\.0{1,2})?|[1-9][0-9]?(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))$"
    ),
]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class RightIn(Input):
    kind: RightKind
    holder_id: Id
    share: Share
    valid_from: Day
    valid_to: Day | None = None


class AssetCreate(Input):
    resource_type: ResourceType
    name: Name
    region_code: RegionCode
    area_ha: AreaHa
    boundary: Annotated[dict[str, Any], Field(json_schema_extra=GEOJSON_AREA)]
    rights: Annotated[list[RightIn], Field(min_length=1, max_length=50)]
    attributes: Attributes = Field(default_factory=dict)


class ReasonIn(Input):
    reason: Reason


class RightOut(Output):
    kind: str
    holder_id: str
    share: str
    valid_from: date
    valid_to: date | None


class AssetOut(Output):
    id: str
    applicant_id: str
    resource_type: str
    name: str
    region_code: str
    area_ha: str
    boundary: dict[str, Any]
    rights: list[RightOut]
    attributes: dict[str, Any]
    status: str
    registration_number: str | None
    registrar_id: str | None
    reject_reason: str | None
    certificate_id: str | None
    created_at: Timestamp
    decided_at: Timestamp | None


class AssetEventOut(Output):
    id: int
    asset_id: str
    kind: str
    actor_id: str
    detail: dict[str, Any]
    created_at: Timestamp


class ProductTypeOut(Output):
    code: str
    name: str
    unit: str
    gep_category: str
    retirable: bool
    transfer_requires_approval: bool
    expires: bool
    description: str
    service: str | None = Field(
        description="the ecosystem service (GEP indicator code) a batch of this type claims"
    )


class EcoProductCreate(Input):
    product_type: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    name: Name
    asset_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]
    brand: Annotated[str, StringConstraints(max_length=200)] | None = None
    methodology: Annotated[str, StringConstraints(max_length=500)] | None = None
    attributes: Attributes = Field(default_factory=dict)


class CertifyIn(Input):
    standard: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    valid_until: Day | None = None


class EcoProductOut(Output):
    id: str
    product_type: str
    name: str
    applicant_id: str
    asset_ids: list[str]
    brand: str | None
    methodology: str | None
    attributes: dict[str, Any]
    status: str
    standard: str | None
    valid_until: date | None
    certifier_id: str | None
    reason: str | None
    certificate_id: str | None
    created_at: Timestamp
    decided_at: Timestamp | None


class BatchCreate(Input):
    quantity: Quantity
    vintage: Vintage
    period_start: Day
    period_end: Day

    @model_validator(mode="after")
    def _period_in_order(self) -> BatchCreate:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not precede period_start")
        return self


class BatchOut(Output):
    id: str
    eco_product_id: str
    product_type: str
    owner_id: str
    issuer_id: str
    quantity: int
    vintage: int
    region_code: str
    period_start: date
    period_end: date
    serial_start: int
    serial_end: int
    serial: str
    certificate_id: str | None
    created_at: Timestamp


class RangeOut(Output):
    start: int
    end: int


class BucketRangeOut(RangeOut):
    bucket: str


class HoldingOut(Output):
    batch_id: str
    product_type: str
    vintage: int
    serial: str
    available: int
    escrowed: int
    pledged: int
    retired: int
    ranges: list[BucketRangeOut]


class HoldingsOut(Output):
    party_id: str
    items: list[HoldingOut]


class TransferCreate(Input):
    batch_id: Id
    quantity: Quantity
    to_party_id: Id
    reference: Text | None = None


class TransferOut(Output):
    id: str
    batch_id: str
    quantity: int
    from_party_id: str
    to_party_id: str
    reference: str | None
    status: str
    ranges: list[RangeOut]
    certificate_id: str | None
    created_at: Timestamp
    decided_at: Timestamp | None


class RetirementCreate(Input):
    batch_id: Id
    quantity: Quantity
    beneficiary: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    reason: Reason
    period: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class RetirementOut(Output):
    id: str
    batch_id: str
    party_id: str
    quantity: int
    ranges: list[RangeOut]
    beneficiary: str
    reason: str
    period: str | None
    retired_at: Timestamp
    certificate_id: str | None


class PledgeCreate(Input):
    batch_id: Id
    quantity: Quantity
    pledgee_id: Id
    reference: Annotated[str, StringConstraints(min_length=1, max_length=300)]


class PledgeOut(Output):
    id: str
    batch_id: str
    party_id: str
    pledgee_id: str
    quantity: int
    reference: str
    status: str
    ranges: list[RangeOut]
    certificate_id: str | None
    created_at: Timestamp
    released_at: Timestamp | None


class ClaimOut(Output):
    asset_id: str
    service: str
    period_start: date
    period_end: date
    source: str
    source_id: str
