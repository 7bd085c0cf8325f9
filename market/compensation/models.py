"""Compensation tables: schemes, settled periods and their payments.

Periods and payments are append-only (a trigger refuses UPDATE and DELETE); a period is settled
once (unique per scheme and start date, and overlapping periods are refused under the scheme's
row lock). A scheme's money is its `scheme_accounts` row in the cash ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, day, jsonb, one_of, party_fk, timestamp

SCHEME_KINDS = ("classified", "comprehensive", "horizontal")

APPEND_ONLY_TABLES = ("compensation_periods", "compensation_payments")


class CompensationScheme(SQLModel, table=True):
    __tablename__ = "compensation_schemes"
    __table_args__ = (CheckConstraint(one_of("kind", SCHEME_KINDS), name="kind"),)

    id: str = Field(primary_key=True)
    payer_id: str = Field(sa_column=party_fk())
    name: str
    kind: str
    rules: dict[str, Any] = Field(sa_column=jsonb())
    created_at: datetime = Field(sa_column=timestamp())


class CompensationPeriod(SQLModel, table=True):
    __tablename__ = "compensation_periods"
    __table_args__ = (
        UniqueConstraint("scheme_id", "period_start", name="uq_compensation_periods_scheme"),
        CheckConstraint("period_end >= period_start", name="period"),
        CheckConstraint("total >= 0", name="total_non_negative"),
    )

    id: str = Field(primary_key=True)
    scheme_id: str = Field(foreign_key="compensation_schemes.id")
    period_start: date = Field(sa_column=day())
    period_end: date = Field(sa_column=day())
    settled_by: str = Field(sa_column=party_fk(index=False))
    total: int = Field(sa_column=bigint())
    excluded: list[dict[str, Any]] = Field(sa_column=jsonb())
    created_at: datetime = Field(sa_column=timestamp())


class CompensationPayment(SQLModel, table=True):
    __tablename__ = "compensation_payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: str = Field(primary_key=True)
    period_id: str = Field(foreign_key="compensation_periods.id", index=True)
    scheme_id: str = Field(foreign_key="compensation_schemes.id", index=True)
    from_account: str
    to_party_id: str = Field(sa_column=party_fk())
    asset_id: str | None = None
    amount: int = Field(sa_column=bigint())
    basis: dict[str, Any] = Field(sa_column=jsonb())
    journal_entry_id: str
    certificate_id: str
    created_at: datetime = Field(sa_column=timestamp())
