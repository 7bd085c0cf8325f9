"""Column shapes every context uses, so tables read alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Date, DateTime, ForeignKey, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB


def timestamp(nullable: bool = False, index: bool = False) -> Any:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


def day(nullable: bool = False) -> Any:
    return Column(Date, nullable=nullable)


def jsonb(nullable: bool = False) -> Any:
    return Column(JSONB, nullable=nullable)


def bigint(nullable: bool = False, index: bool = False) -> Any:
    return Column(BigInteger, nullable=nullable, index=index)


def counter() -> Any:
    """A non-null integer counter that starts at zero in the database too."""
    return Column(BigInteger, nullable=False, server_default="0")


def decimal(precision: int, scale: int, nullable: bool = False) -> Any:
    return Column(Numeric(precision, scale), nullable=nullable)


def party_fk(nullable: bool = False, index: bool = True) -> Any:
    return Column(String, ForeignKey("parties.id"), nullable=nullable, index=index)


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK expression `column IN (...)` (text columns, not native enums)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
