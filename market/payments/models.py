"""Payment tables: the Stripe event inbox, parties' connected accounts, and payouts.

The inbox and payouts are history (append-only, enforced by triggers from the migration): an
event is stored once, by its Stripe id, in the transaction that applies it; a payout row is
written once, with the outcome Stripe gave.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, jsonb, one_of, party_fk, timestamp

PAYOUT_STATUSES = ("paid", "failed")
APPEND_ONLY_TABLES = ("stripe_events", "payouts")


class StripeEvent(SQLModel, table=True):
    """A verified webhook event, keyed by Stripe's event id (a repeat is not stored again)."""

    __tablename__ = "stripe_events"

    id: str = Field(primary_key=True)
    type: str
    object_id: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = Field(sa_column=jsonb())
    received_at: datetime = Field(sa_column=timestamp())


class ConnectedAccount(SQLModel, table=True):
    """The Stripe Connect account a party's payouts go to (set by the operator)."""

    __tablename__ = "connected_accounts"

    party_id: str = Field(sa_column=Column(String, ForeignKey("parties.id"), primary_key=True))
    account_id: str
    updated_at: datetime = Field(sa_column=timestamp())


class Payout(SQLModel, table=True):
    """A withdrawal paid through a Stripe Connect transfer: one per withdrawal, ever."""

    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(one_of("status", PAYOUT_STATUSES), name="status"),
    )

    withdrawal_id: str = Field(
        sa_column=Column(String, ForeignKey("withdrawals.id"), primary_key=True)
    )
    party_id: str = Field(sa_column=party_fk())
    account_id: str
    amount: int = Field(sa_column=bigint())
    idempotency_key: str = Field(unique=True)
    status: str
    transfer_id: str | None = Field(default=None, unique=True)
    failure_reason: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
