"""Registry tables: assets and rights, the product catalog, eco-products, batches, holdings.

History tables (events, batches, movements, retirements) are append-only: a trigger created by
the migrations refuses UPDATE and DELETE on them (`APPEND_ONLY_TABLES`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Identity,
    Index,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, counter, day, decimal, jsonb, one_of, party_fk, timestamp

RESOURCE_TYPES = (
    "forest",
    "grassland",
    "wetland",
    "water",
    "farmland",
    "wasteland",
    "tidal_flat",
    "mountain",
)
ASSET_STATUSES = ("applied", "confirmed", "rejected", "cancelled")
RIGHT_KINDS = ("ownership", "contract", "use", "operation")
ECO_PRODUCT_STATUSES = ("pending", "certified", "rejected", "revoked")
BUCKETS = ("available", "escrowed", "pledged", "retired")
TRANSFER_STATUSES = ("completed", "pending_approval", "rejected")
APPROVAL_STATUSES = ("pending", "approved", "rejected")
PLEDGE_STATUSES = ("active", "released")

APPEND_ONLY_TABLES = (
    "asset_events",
    "eco_product_events",
    "batches",
    "batch_asset_periods",
    "unit_movements",
    "retirements",
    "retirement_ranges",
    "asset_claims",
)
CLAIM_SOURCES = ("batch", "compensation")


class Asset(SQLModel, table=True):
    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(one_of("resource_type", RESOURCE_TYPES), name="resource_type"),
        CheckConstraint(one_of("status", ASSET_STATUSES), name="status"),
        CheckConstraint("area_ha > 0", name="area_positive"),
        Index("ix_assets_type_status", "resource_type", "status"),
    )

    id: str = Field(primary_key=True)
    applicant_id: str = Field(sa_column=party_fk())
    resource_type: str
    name: str
    region_code: str
    area_ha: Decimal = Field(sa_column=decimal(16, 4))
    boundary: dict[str, Any] = Field(sa_column=jsonb())
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    attributes: dict[str, Any] = Field(sa_column=jsonb())
    status: str = "applied"
    registration_number: str | None = Field(default=None, unique=True)
    registrar_id: str | None = Field(default=None, sa_column=party_fk(nullable=True))
    reject_reason: str | None = None
    certificate_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class AssetRight(SQLModel, table=True):
    __tablename__ = "asset_rights"
    __table_args__ = (
        CheckConstraint(one_of("kind", RIGHT_KINDS), name="kind"),
        CheckConstraint("share > 0 AND share <= 100", name="share"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="term"),
    )

    id: str = Field(primary_key=True)
    asset_id: str = Field(foreign_key="assets.id", index=True)
    kind: str
    holder_id: str = Field(sa_column=party_fk())
    share: Decimal = Field(sa_column=decimal(5, 2))
    valid_from: date = Field(sa_column=day())
    valid_to: date | None = Field(default=None, sa_column=day(nullable=True))


class AssetEvent(SQLModel, table=True):
    __tablename__ = "asset_events"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    asset_id: str = Field(foreign_key="assets.id", index=True)
    kind: str
    actor_id: str = Field(sa_column=party_fk(index=False))
    detail: dict[str, Any] = Field(sa_column=jsonb())
    created_at: datetime = Field(sa_column=timestamp())


class ProductType(SQLModel, table=True):
    __tablename__ = "product_types"
    __table_args__ = (
        CheckConstraint(
            one_of("gep_category", ("provisioning", "regulating", "cultural")), name="gep"
        ),
    )

    code: str = Field(primary_key=True)
    name: str
    unit: str
    gep_category: str
    retirable: bool
    transfer_requires_approval: bool
    expires: bool
    description: str = ""
    # The ecosystem service a unit of this type claims on its source assets (an indicator code
    # of the seeded GEP methodology), or None where it claims none (energy quota, green power).
    service: str | None = None


class EcoProduct(SQLModel, table=True):
    __tablename__ = "eco_products"
    __table_args__ = (CheckConstraint(one_of("status", ECO_PRODUCT_STATUSES), name="status"),)

    id: str = Field(primary_key=True)
    product_type: str = Field(foreign_key="product_types.code")
    name: str
    applicant_id: str = Field(sa_column=party_fk())
    brand: str | None = None
    methodology: str | None = None
    attributes: dict[str, Any] = Field(sa_column=jsonb())
    status: str = "pending"
    standard: str | None = None
    valid_until: date | None = Field(default=None, sa_column=day(nullable=True))
    certifier_id: str | None = Field(default=None, sa_column=party_fk(nullable=True))
    reason: str | None = None
    certificate_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class EcoProductAsset(SQLModel, table=True):
    __tablename__ = "eco_product_assets"

    eco_product_id: str = Field(foreign_key="eco_products.id", primary_key=True)
    asset_id: str = Field(foreign_key="assets.id", primary_key=True, index=True)


class EcoProductEvent(SQLModel, table=True):
    __tablename__ = "eco_product_events"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    eco_product_id: str = Field(foreign_key="eco_products.id", index=True)
    kind: str
    actor_id: str = Field(sa_column=party_fk(index=False))
    detail: dict[str, Any] = Field(sa_column=jsonb())
    created_at: datetime = Field(sa_column=timestamp())


class Batch(SQLModel, table=True):
    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("serial_end - serial_start + 1 = quantity", name="serial_span"),
        CheckConstraint("period_end >= period_start", name="period"),
        UniqueConstraint("product_type", "batch_no", name="uq_batches_type_batch_no"),
    )

    id: str = Field(primary_key=True)
    eco_product_id: str = Field(foreign_key="eco_products.id", index=True)
    product_type: str = Field(foreign_key="product_types.code")
    owner_id: str = Field(sa_column=party_fk())
    issuer_id: str = Field(sa_column=party_fk(index=False))
    quantity: int = Field(sa_column=bigint())
    vintage: int
    region_code: str
    period_start: date = Field(sa_column=day())
    period_end: date = Field(sa_column=day())
    batch_no: int
    serial_start: int = Field(sa_column=bigint())
    serial_end: int = Field(sa_column=bigint())
    serial: str
    certificate_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())


class BatchAssetPeriod(SQLModel, table=True):
    """Which asset backs which issuance period: the double-issuance check reads this."""

    __tablename__ = "batch_asset_periods"

    batch_id: str = Field(foreign_key="batches.id", primary_key=True)
    asset_id: str = Field(foreign_key="assets.id", primary_key=True)
    product_type: str
    period_start: date = Field(sa_column=day())
    period_end: date = Field(sa_column=day())


class Holding(SQLModel, table=True):
    """Counters per (party, batch); the serial ranges below are the detail they sum."""

    __tablename__ = "holdings"
    __table_args__ = (
        CheckConstraint(
            "available >= 0 AND escrowed >= 0 AND pledged >= 0 AND retired >= 0",
            name="non_negative",
        ),
    )

    party_id: str = Field(sa_column=Column(String, primary_key=True))
    batch_id: str = Field(foreign_key="batches.id", primary_key=True, index=True)
    available: int = Field(default=0, sa_column=counter())
    escrowed: int = Field(default=0, sa_column=counter())
    pledged: int = Field(default=0, sa_column=counter())
    retired: int = Field(default=0, sa_column=counter())


class UnitRange(SQLModel, table=True):
    """A contiguous run of serials one party holds in one bucket (`hold_ref`: what holds it)."""

    __tablename__ = "unit_ranges"
    __table_args__ = (
        CheckConstraint(one_of("bucket", BUCKETS), name="bucket"),
        CheckConstraint("serial_end >= serial_start", name="non_empty"),
        Index("ix_unit_ranges_owner", "batch_id", "party_id", "bucket", "serial_start"),
        Index("ix_unit_ranges_hold_ref", "hold_ref"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    batch_id: str = Field(foreign_key="batches.id")
    party_id: str = Field(sa_column=party_fk(index=False))
    bucket: str
    serial_start: int = Field(sa_column=bigint())
    serial_end: int = Field(sa_column=bigint())
    hold_ref: str | None = None


class UnitMovement(SQLModel, table=True):
    """Every change of owner or bucket of a serial range, forever."""

    __tablename__ = "unit_movements"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    batch_id: str = Field(foreign_key="batches.id", index=True)
    serial_start: int = Field(sa_column=bigint())
    serial_end: int = Field(sa_column=bigint())
    from_party_id: str | None = None
    to_party_id: str
    from_bucket: str | None = None
    to_bucket: str
    reason: str
    ref_id: str
    created_at: datetime = Field(sa_column=timestamp())


class Transfer(SQLModel, table=True):
    __tablename__ = "transfers"
    __table_args__ = (
        CheckConstraint(one_of("status", TRANSFER_STATUSES), name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: str = Field(primary_key=True)
    batch_id: str = Field(foreign_key="batches.id", index=True)
    from_party_id: str = Field(sa_column=party_fk())
    to_party_id: str = Field(sa_column=party_fk())
    quantity: int = Field(sa_column=bigint())
    reference: str | None = None
    status: str
    ranges: list[dict[str, int]] = Field(sa_column=jsonb())
    certificate_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class Approval(SQLModel, table=True):
    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(one_of("status", APPROVAL_STATUSES), name="status"),
        CheckConstraint(one_of("kind", ("transfer", "trade")), name="kind"),
    )

    id: str = Field(primary_key=True)
    kind: str
    subject_id: str = Field(index=True)
    product_type: str
    quantity: int = Field(sa_column=bigint())
    from_party_id: str
    to_party_id: str
    status: str = Field(default="pending", index=True)
    reason: str | None = None
    decided_by: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class Retirement(SQLModel, table=True):
    __tablename__ = "retirements"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: str = Field(primary_key=True)
    batch_id: str = Field(foreign_key="batches.id", index=True)
    party_id: str = Field(sa_column=party_fk())
    quantity: int = Field(sa_column=bigint())
    ranges: list[dict[str, int]] = Field(sa_column=jsonb())
    beneficiary: str
    reason: str
    period: str | None = None
    certificate_id: str | None = None
    retired_at: datetime = Field(sa_column=timestamp())


class RetirementRange(SQLModel, table=True):
    __tablename__ = "retirement_ranges"
    __table_args__ = (Index("ix_retirement_ranges_lookup", "batch_id", "serial_start"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    retirement_id: str = Field(foreign_key="retirements.id", index=True)
    batch_id: str = Field(foreign_key="batches.id")
    serial_start: int = Field(sa_column=bigint())
    serial_end: int = Field(sa_column=bigint())


class Pledge(SQLModel, table=True):
    __tablename__ = "pledges"
    __table_args__ = (
        CheckConstraint(one_of("status", PLEDGE_STATUSES), name="status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: str = Field(primary_key=True)
    batch_id: str = Field(foreign_key="batches.id", index=True)
    party_id: str = Field(sa_column=party_fk())
    pledgee_id: str = Field(sa_column=party_fk())
    quantity: int = Field(sa_column=bigint())
    ranges: list[dict[str, int]] = Field(sa_column=jsonb())
    reference: str
    status: str = "active"
    certificate_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    released_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class AssetClaim(SQLModel, table=True):
    """A paid claim on an asset's ecosystem service for a period (DOMAIN.md "No double claims").

    A trigger created by the migration (`market.registry.claims_sql`) locks (asset, service) and
    refuses a row whose period overlaps an earlier claim on the same asset and service."""

    __tablename__ = "asset_claims"
    __table_args__ = (
        CheckConstraint(one_of("source", CLAIM_SOURCES), name="source"),
        CheckConstraint("period_end >= period_start", name="period"),
        Index("ix_asset_claims_lookup", "asset_id", "service", "period_start"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    asset_id: str = Field(foreign_key="assets.id")
    service: str
    period_start: date = Field(sa_column=day())
    period_end: date = Field(sa_column=day())
    source: str
    source_id: str = Field(index=True)
    created_at: datetime = Field(sa_column=timestamp())
