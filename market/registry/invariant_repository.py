"""SQL for the registry invariants (DOMAIN.md 1, 2, 4, 8): each query returns the violations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

UNITS_CONSERVED = """
SELECT b.id, b.quantity,
       COALESCE(h.total, 0) AS holdings_total,
       COALESCE(r.total, 0) AS ranges_total
FROM batches b
LEFT JOIN (SELECT batch_id, SUM(available + escrowed + pledged + retired) AS total
           FROM holdings GROUP BY batch_id) h ON h.batch_id = b.id
LEFT JOIN (SELECT batch_id, SUM(serial_end - serial_start + 1) AS total
           FROM unit_ranges GROUP BY batch_id) r ON r.batch_id = b.id
WHERE COALESCE(h.total, 0) <> b.quantity OR COALESCE(r.total, 0) <> b.quantity
LIMIT 20
"""

COUNTERS_MATCH_RANGES = """
WITH sums AS (
    SELECT batch_id, party_id,
           SUM(CASE WHEN bucket = 'available' THEN serial_end - serial_start + 1 ELSE 0 END) AS a,
           SUM(CASE WHEN bucket = 'escrowed' THEN serial_end - serial_start + 1 ELSE 0 END) AS e,
           SUM(CASE WHEN bucket = 'pledged' THEN serial_end - serial_start + 1 ELSE 0 END) AS p,
           SUM(CASE WHEN bucket = 'retired' THEN serial_end - serial_start + 1 ELSE 0 END) AS r
    FROM unit_ranges GROUP BY batch_id, party_id
)
SELECT h.batch_id, h.party_id
FROM holdings h
LEFT JOIN sums s ON s.batch_id = h.batch_id AND s.party_id = h.party_id
WHERE h.available <> COALESCE(s.a, 0) OR h.escrowed <> COALESCE(s.e, 0)
   OR h.pledged <> COALESCE(s.p, 0) OR h.retired <> COALESCE(s.r, 0)
LIMIT 20
"""

SERIALS_EXACT = """
WITH ordered AS (
    SELECT batch_id, serial_start, serial_end,
           LAG(serial_end) OVER (PARTITION BY batch_id ORDER BY serial_start) AS prev_end,
           ROW_NUMBER() OVER (PARTITION BY batch_id ORDER BY serial_start) AS n,
           COUNT(*) OVER (PARTITION BY batch_id) AS total
    FROM unit_ranges
)
SELECT o.batch_id, o.serial_start, o.serial_end, o.prev_end
FROM ordered o JOIN batches b ON b.id = o.batch_id
WHERE (o.n = 1 AND o.serial_start <> b.serial_start)
   OR (o.n > 1 AND o.serial_start <> o.prev_end + 1)
   OR (o.n = o.total AND o.serial_end <> b.serial_end)
LIMIT 20
"""

RETIRED_STAY_RETIRED = """
SELECT rr.retirement_id, rr.batch_id, rr.serial_start, rr.serial_end
FROM retirement_ranges rr
JOIN retirements r ON r.id = rr.retirement_id
WHERE NOT EXISTS (
    SELECT 1 FROM unit_ranges u
    WHERE u.batch_id = rr.batch_id AND u.bucket = 'retired' AND u.party_id = r.party_id
      AND u.serial_start <= rr.serial_start AND u.serial_end >= rr.serial_end
)
LIMIT 20
"""

NOTHING_NEGATIVE = """
SELECT 'holdings' AS what, batch_id AS id FROM holdings
WHERE available < 0 OR escrowed < 0 OR pledged < 0 OR retired < 0
UNION ALL
SELECT 'unit_ranges', batch_id FROM unit_ranges WHERE serial_end < serial_start
LIMIT 20
"""

APPEND_ONLY_TRIGGERS = """
SELECT c.relname
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND t.tgname = c.relname || '_append_only' AND t.tgenabled <> 'D'
"""


class RegistryInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, sql: str) -> list[dict[str, Any]]:
        result = await self.session.execute(text(sql))
        return [dict(row._mapping) for row in result]

    async def units_not_conserved(self) -> list[dict[str, Any]]:
        return await self._rows(UNITS_CONSERVED)

    async def counters_off_ranges(self) -> list[dict[str, Any]]:
        return await self._rows(COUNTERS_MATCH_RANGES)

    async def serial_gaps_or_overlaps(self) -> list[dict[str, Any]]:
        return await self._rows(SERIALS_EXACT)

    async def retired_serials_moved(self) -> list[dict[str, Any]]:
        return await self._rows(RETIRED_STAY_RETIRED)

    async def negative_buckets(self) -> list[dict[str, Any]]:
        return await self._rows(NOTHING_NEGATIVE)

    async def tables_with_append_only_trigger(self) -> set[str]:
        return {row["relname"] for row in await self._rows(APPEND_ONLY_TRIGGERS)}
