"""All SQL for claims on assets' ecosystem services and the right holders compensation pays."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.raw import raw_connection
from market.registry.claims_sql import CLAIM_LOCK_CLASS, REFUSAL_PREFIX, claim_lock_key
from market.registry.errors import DoubleClaim
from market.registry.models import AssetClaim

# Lock every (asset, service) in key order (no deadlocks between claimants), then read the
# earliest overlapping claim of each: the trigger would refuse those.
_LOCK_AND_FIND = f"""
WITH wanted AS (
  SELECT DISTINCT w.asset_id, w.service FROM unnest($1::text[], $2::text[]) AS w(asset_id, service)
), locked AS (
  SELECT count(*) AS n FROM (
    SELECT pg_advisory_xact_lock({CLAIM_LOCK_CLASS}, k.key)
    FROM (SELECT DISTINCT {claim_lock_key("asset_id", "service")} AS key FROM wanted ORDER BY 1) k
  ) l
)
SELECT DISTINCT ON (c.asset_id, c.service)
       c.asset_id, c.service, c.period_start, c.period_end, c.source, c.source_id
FROM locked, wanted w
JOIN asset_claims c ON c.asset_id = w.asset_id AND c.service = w.service
WHERE locked.n >= 0 AND c.period_start <= $4 AND c.period_end >= $3
ORDER BY c.asset_id, c.service, c.id
"""

_INSERT = """
INSERT INTO asset_claims
  (asset_id, service, period_start, period_end, source, source_id, created_at)
SELECT a, s, $3, $4, $5, $6, $7 FROM unnest($1::text[], $2::text[]) AS c(a, s)
"""

_COMPENSABLE = """
SELECT a.id, a.area_ha, a.region_code, r.kind, r.holder_id, r.share
FROM assets a JOIN asset_rights r ON r.asset_id = a.id
WHERE a.status = 'confirmed' AND a.resource_type = $1 AND a.region_code LIKE $2
  AND r.valid_from <= $3 AND (r.valid_to IS NULL OR r.valid_to >= $3)
ORDER BY a.id, r.id
"""


def claim_json(row: Any) -> dict[str, Any]:
    return {
        "asset_id": row["asset_id"],
        "service": row["service"],
        "period_start": _day(row["period_start"]),
        "period_end": _day(row["period_end"]),
        "source": row["source"],
        "source_id": row["source_id"],
    }


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


class ClaimRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_and_find_overlaps(
        self, pairs: list[tuple[str, str]], start: date, end: date
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Lock (asset, service) for every pair until commit; the earlier overlapping claims."""
        if not pairs:
            return {}
        connection = await raw_connection(self.session)
        rows = await connection.fetch(
            _LOCK_AND_FIND, [p[0] for p in pairs], [p[1] for p in pairs], start, end
        )
        return {(r["asset_id"], r["service"]): claim_json(r) for r in rows}

    async def insert(
        self,
        pairs: list[tuple[str, str]],
        start: date,
        end: date,
        source: str,
        source_id: str,
        at: Any,
    ) -> None:
        """Record the claims; the database refuses an overlap (raised as `DoubleClaim`)."""
        if not pairs:
            return
        connection = await raw_connection(self.session)
        try:
            await connection.execute(
                _INSERT,
                [p[0] for p in pairs],
                [p[1] for p in pairs],
                start,
                end,
                source,
                source_id,
                at,
            )
        except IntegrityError as error:
            cause = error.orig
            message = str(cause) if cause is not None else ""
            if isinstance(cause, asyncpg.ExclusionViolationError) and message.startswith(
                REFUSAL_PREFIX
            ):
                earlier = json.loads(message[len(REFUSAL_PREFIX) :])
                raise DoubleClaim(
                    f"asset {earlier['asset_id']} already has a {earlier['source']} claim on "
                    f"{earlier['service']} for {earlier['period_start']}..{earlier['period_end']}",
                    claim=earlier,
                ) from error
            raise

    async def claims_of(self, asset_id: str) -> list[AssetClaim]:
        table = AssetClaim.__table__  # type: ignore[attr-defined]
        rows = await self.session.execute(
            select(AssetClaim).where(table.c.asset_id == asset_id).order_by(table.c.id)
        )
        return list(rows.scalars())

    async def compensable_rights(
        self, resource_type: str, region_prefix: str, on: date
    ) -> list[tuple[str, Decimal, str, str, str, Decimal]]:
        """(asset, area, region, right kind, holder, share) of confirmed assets of a type in a
        region, for rights in force on `on`, by asset."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_COMPENSABLE, resource_type, f"{region_prefix}%", on)
        return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
