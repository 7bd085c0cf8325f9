"""UTC timestamps with microseconds, the only clock the service uses."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(value: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. `2026-11-23T19:20:50.123456Z`."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"
