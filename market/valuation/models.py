"""Value accounting tables: GEP methodologies and their indicators, GEP accounts and their lines,
monitoring records.

Methodologies, indicators, account lines and monitoring records are append-only (a trigger
refuses UPDATE and DELETE): a methodology is immutable from the start, and an account's lines
never change — a correction is a new account that supersedes the old one. An account row itself
only moves forward (`draft` → `published` → `superseded`), and at most one account per region
and year is `published` (a partial unique index).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Identity, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, day, decimal, jsonb, one_of, party_fk, timestamp

CATEGORIES = ("provisioning", "regulating", "cultural")
ACCOUNT_STATUSES = ("draft", "published", "superseded")
SUBJECT_KINDS = ("asset", "region", "section")

APPEND_ONLY_TABLES = (
    "gep_methodologies",
    "gep_indicators",
    "gep_account_lines",
    "monitoring_records",
)


class GepMethodology(SQLModel, table=True):
    __tablename__ = "gep_methodologies"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_gep_methodologies_code"),)

    id: str = Field(primary_key=True)
    code: str
    version: str
    name: str
    created_by: str | None = Field(default=None, sa_column=party_fk(nullable=True, index=False))
    created_at: datetime = Field(sa_column=timestamp())


class GepIndicator(SQLModel, table=True):
    """One indicator: valued at a fixed `price` (fen per unit) or at the market (`price` null:
    the VWAP of `market_instrument`'s trades in the account's year, else `default_price`)."""

    __tablename__ = "gep_indicators"
    __table_args__ = (
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint(
            "(price IS NOT NULL AND price >= 0 AND market_instrument IS NULL)"
            " OR (price IS NULL AND market_instrument IS NOT NULL AND default_price >= 0)",
            name="valuation",
        ),
    )

    methodology_id: str = Field(foreign_key="gep_methodologies.id", primary_key=True)
    code: str = Field(primary_key=True)
    position: int
    name: str
    category: str
    unit: str
    price: int | None = Field(default=None, sa_column=bigint(nullable=True))
    price_source: str | None = None
    market_instrument: str | None = None
    default_price: int | None = Field(default=None, sa_column=bigint(nullable=True))


class GepAccount(SQLModel, table=True):
    __tablename__ = "gep_accounts"
    __table_args__ = (
        CheckConstraint(one_of("status", ACCOUNT_STATUSES), name="status"),
        CheckConstraint("total >= 0", name="total_non_negative"),
        CheckConstraint("supersedes IS NULL OR reason IS NOT NULL", name="correction_reason"),
        Index("ix_gep_accounts_region_year", "region_code", "year"),
        Index(
            "uq_gep_accounts_published",
            "region_code",
            "year",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: str = Field(primary_key=True)
    region_code: str
    year: int
    methodology_id: str = Field(foreign_key="gep_methodologies.id")
    status: str = "draft"
    drafter_id: str = Field(sa_column=party_fk())
    supersedes: str | None = None
    superseded_by: str | None = None
    reason: str | None = None
    by_category: dict[str, Any] = Field(sa_column=jsonb())
    total: int = Field(sa_column=bigint())
    certificate_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    published_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class GepAccountLine(SQLModel, table=True):
    __tablename__ = "gep_account_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 0 AND unit_price >= 0 AND value >= 0", name="non_negative"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    account_id: str = Field(foreign_key="gep_accounts.id", index=True)
    indicator: str
    category: str
    unit: str
    quantity: Decimal = Field(sa_column=decimal(24, 4))
    unit_price: int = Field(sa_column=bigint())
    value: int = Field(sa_column=bigint())
    asset_id: str | None = None


class MonitoringRecord(SQLModel, table=True):
    __tablename__ = "monitoring_records"
    __table_args__ = (
        CheckConstraint(one_of("subject_kind", SUBJECT_KINDS), name="subject_kind"),
        CheckConstraint("period_end >= period_start", name="period"),
        Index("ix_monitoring_records_subject", "subject_kind", "subject", "indicator"),
    )

    id: str = Field(primary_key=True)
    subject_kind: str
    subject: str
    indicator: str
    period_start: date = Field(sa_column=day())
    period_end: date = Field(sa_column=day())
    value: Decimal = Field(sa_column=decimal(24, 4))
    unit: str
    recorder_id: str = Field(sa_column=party_fk())
    certificate_id: str
    created_at: datetime = Field(sa_column=timestamp())
