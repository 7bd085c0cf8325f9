"""Oversight tables: surveillance alerts and their reviews (append-only facts), the detectors'
per-instrument watermarks and the invariant watch's last run (the only mutable rows here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, String
from sqlmodel import Field, SQLModel

from market.db.columns import jsonb, one_of, party_fk, timestamp

ALERT_KINDS = (
    "circular_trading",
    "price_spike",
    "concentration",
    "layering",
    "invariant_violation",
)
SEVERITIES = ("low", "medium", "high", "critical")
APPEND_ONLY_TABLES = ("alerts", "alert_reviews")


class Alert(SQLModel, table=True):
    """One surveillance finding. Never updated: its review is a row of `alert_reviews`."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(one_of("kind", ALERT_KINDS), name="kind"),
        CheckConstraint(one_of("severity", SEVERITIES), name="severity"),
    )

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)
    severity: str
    instrument: str | None = None
    parties: list[str] = Field(sa_column=jsonb())
    trade_ids: list[str] = Field(sa_column=jsonb())
    order_ids: list[str] = Field(sa_column=jsonb())
    detail: str
    # What makes a finding the same finding: a detector raises each key once.
    dedupe_key: str = Field(sa_column=Column(String, nullable=False, unique=True))
    facts: dict[str, Any] = Field(sa_column=jsonb())
    observed_at: datetime = Field(sa_column=timestamp())
    created_at: datetime = Field(sa_column=timestamp())


class AlertReview(SQLModel, table=True):
    """A regulator's review of one alert (at most one: `alert_id` is unique)."""

    __tablename__ = "alert_reviews"

    id: str = Field(primary_key=True)
    alert_id: str = Field(
        sa_column=Column(String, ForeignKey("alerts.id"), nullable=False, unique=True)
    )
    note: str
    reviewed_by: str = Field(sa_column=party_fk(index=False))
    created_at: datetime = Field(sa_column=timestamp())


class SurveillanceWatermark(SQLModel, table=True):
    """How far the detectors have read an instrument's trades (`trades.seq`) and its command
    log (`book_commands.seq`: owner cancels)."""

    __tablename__ = "surveillance_watermarks"

    instrument: str = Field(
        sa_column=Column(String, ForeignKey("instruments.symbol"), primary_key=True)
    )
    trade_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    command_seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=timestamp())


class WatchRun(SQLModel, table=True):
    """When a periodic oversight job last ran, so one run per interval happens across workers."""

    __tablename__ = "watch_runs"

    name: str = Field(primary_key=True)
    last_run_at: datetime = Field(sa_column=timestamp())
    last_ok: bool
