"""Signing keys, certificates and the Merkle log's stored nodes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    text,
)
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, one_of, party_fk, timestamp

KEY_STATUSES = ("active", "rotated", "revoked")
APPEND_ONLY_TABLES = ("certificates", "log_nodes")


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint(one_of("status", KEY_STATUSES), name="status"),
        Index(
            "uq_signing_keys_one_active",
            "party_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    key_id: str = Field(primary_key=True)
    party_id: str = Field(sa_column=party_fk())
    alg: str = "Ed25519"
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    encrypted_private_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = "active"
    not_before: datetime = Field(sa_column=timestamp())
    rotated_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class Certificate(SQLModel, table=True):
    """A signed fact. `canonical` holds the exact RFC 8785 bytes that were signed."""

    __tablename__ = "certificates"
    __table_args__ = (
        # The pending certificates (stored, not yet in the log), in the order the log takes them.
        Index(
            "ix_certificates_pending", "issued_at", "id", postgresql_where=text("log_index IS NULL")
        ),
    )

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)
    subject_id: str = Field(index=True)
    issuer_id: str = Field(sa_column=party_fk(index=False))
    key_id: str = Field(foreign_key="signing_keys.key_id")
    canonical: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    payload_hash: str = Field(sa_column=Column(String(64), nullable=False))
    signature: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # NULL while pending: set once, when the log integrator appends it (the trigger allows that).
    log_index: int | None = Field(
        default=None, sa_column=Column(BigInteger, nullable=True, unique=True)
    )
    issued_at: datetime = Field(sa_column=timestamp())


@dataclass(slots=True)
class SignedCertificate:
    """A certificate signed in this transaction, stored (pending, `log_index` None) by the
    commit's pre-commit step and appended to the log by the log integrator after the commit (a
    plain object because building an ORM one costs more than signing it)."""

    id: str
    kind: str
    subject_id: str
    issuer_id: str
    key_id: str
    canonical: bytes
    payload_hash: str
    signature: bytes
    log_index: int | None
    issued_at: datetime


class LogNode(SQLModel, table=True):
    """A complete, aligned subtree hash: (level, index) covers leaves [index·2^level, …)."""

    __tablename__ = "log_nodes"

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogState(SQLModel, table=True):
    """One row: the log's size and root. Locking it serializes appends (gap-free indices)."""

    __tablename__ = "log_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: int = Field(default=1, primary_key=True)
    tree_size: int = Field(sa_column=bigint())
    root_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
