"""Party and API key tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, DateTime, String
from sqlmodel import Field, SQLModel

from market.db.columns import one_of

PARTY_KINDS = (
    "collective",
    "enterprise",
    "government",
    "registrar",
    "certifier",
    "regulator",
    "operator",
)
PARTY_STATUSES = ("active", "frozen")


class Party(SQLModel, table=True):
    __tablename__ = "parties"
    __table_args__ = (
        CheckConstraint(one_of("kind", PARTY_KINDS), name="kind"),
        CheckConstraint(one_of("status", PARTY_STATUSES), name="status"),
        CheckConstraint("region_code ~ '^[0-9]{6}$'", name="region_code"),
    )

    id: str = Field(primary_key=True)
    name: str
    kind: str = Field(index=True)
    credit_code: str = Field(sa_column=Column(String(18), nullable=False, unique=True))
    region_code: str
    status: str = "active"
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True)
    party_id: str = Field(foreign_key="parties.id", index=True)
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
