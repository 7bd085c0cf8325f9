"""Cash tables: per-party accounts in integer fen, external accounts, the double-entry journal,
deposits and withdrawals.

Journal entries and their postings are append-only: a trigger created by the migration refuses
UPDATE and DELETE on them (`APPEND_ONLY_TABLES`). Account rows (parties', external,
schemes', the per-instrument fee sub-accounts) are the running balances the postings sum to
(invariant `cash_balances_match_postings`); for a party, its total: a hold moves cash between
its two buckets without an entry (`market.cash.ledger`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Identity, String
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, counter, one_of, party_fk, timestamp

EXTERNAL_ACCOUNTS = ("bank", "stripe")
DEPOSIT_METHODS = ("bank_transfer", "stripe")
DEPOSIT_STATUSES = ("pending", "succeeded", "failed")
WITHDRAWAL_STATUSES = ("pending", "paid", "failed", "cancelled")

APPEND_ONLY_TABLES = ("journal_entries", "postings")


class CashAccount(SQLModel, table=True):
    """A party's cash: `available` to spend or withdraw, `reserved` held behind its open
    orders, bids, pending settlements and withdrawals."""

    __tablename__ = "cash_accounts"
    __table_args__ = (CheckConstraint("available >= 0 AND reserved >= 0", name="non_negative"),)

    party_id: str = Field(sa_column=Column(String, ForeignKey("parties.id"), primary_key=True))
    available: int = Field(default=0, sa_column=counter())
    reserved: int = Field(default=0, sa_column=counter())


class ExternalAccount(SQLModel, table=True):
    """Money outside the system (a bank, Stripe): negative once deposits have come in."""

    __tablename__ = "external_accounts"

    name: str = Field(primary_key=True)
    balance: int = Field(default=0, sa_column=counter())


class SchemeAccount(SQLModel, table=True):
    """A compensation scheme's funds (`scheme:{id}` in postings): filled from its payer's
    cash, paid out to recipients, never below zero."""

    __tablename__ = "scheme_accounts"
    __table_args__ = (CheckConstraint("balance >= 0", name="non_negative"),)

    scheme_id: str = Field(primary_key=True)
    balance: int = Field(default=0, sa_column=counter())


class FeeAccount(SQLModel, table=True):
    """One instrument's part of the platform operator's fee account (`fee:{symbol}` in
    postings): credited by that instrument's settlements only, so instruments never wait for
    each other's fee row. The operator's fee account is the sum of these (and of the fees its
    own cash account received before they existed)."""

    __tablename__ = "fee_accounts"
    __table_args__ = (
        CheckConstraint("available >= 0", name="non_negative"),
        # Room on each page for the next version of a row: credits stay HOT updates.
        {"postgresql_with": {"fillfactor": "50"}},
    )

    instrument: str = Field(
        sa_column=Column(String, ForeignKey("instruments.symbol"), primary_key=True)
    )
    available: int = Field(default=0, sa_column=counter())


class JournalEntry(SQLModel, table=True):
    __tablename__ = "journal_entries"

    id: str = Field(primary_key=True)
    kind: str
    ref_id: str = Field(index=True)
    created_at: datetime = Field(sa_column=timestamp())


class Posting(SQLModel, table=True):
    """One signed leg of a journal entry; an entry's postings sum to zero. `party_id` is the
    party whose money the account is: the party of `party:{id}:…`, the platform operator for a
    `fee:{symbol}` sub-account, none for external and scheme accounts."""

    __tablename__ = "postings"
    __table_args__ = (CheckConstraint("amount <> 0", name="non_zero"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    entry_id: str = Field(foreign_key="journal_entries.id", index=True)
    account: str
    party_id: str | None = Field(default=None, sa_column=party_fk(nullable=True))
    amount: int = Field(sa_column=bigint())


class Deposit(SQLModel, table=True):
    __tablename__ = "deposits"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(one_of("method", DEPOSIT_METHODS), name="method"),
        CheckConstraint(one_of("status", DEPOSIT_STATUSES), name="status"),
    )

    id: str = Field(primary_key=True)
    party_id: str = Field(sa_column=party_fk())
    amount: int = Field(sa_column=bigint())
    method: str
    reference: str | None = None
    status: str = "pending"
    payment_intent_id: str | None = Field(default=None, unique=True)
    client_secret: str | None = None
    failure_reason: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    completed_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class Withdrawal(SQLModel, table=True):
    __tablename__ = "withdrawals"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(one_of("status", WITHDRAWAL_STATUSES), name="status"),
    )

    id: str = Field(primary_key=True)
    party_id: str = Field(sa_column=party_fk())
    amount: int = Field(sa_column=bigint())
    status: str = "pending"
    reference: str | None = None
    # The bank reference the operator gave, or the Stripe transfer id of a payout.
    payment_reference: str | None = None
    failure_reason: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    paid_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
