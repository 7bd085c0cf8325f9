"""All SQL for holdings, serial ranges and unit movements.

The statements `UnitLedger.move_many` runs (an order batch's hot path) are raw asyncpg on the
session's connection (`market.db.raw`, which also flushes pending ORM changes and says how
database errors are raised), in the session's transaction: one round trip locks the holdings
and reads their counters and the ranges of the owners involved, one writes everything back.

Lock order everywhere: holdings rows sorted by (batch_id, party_id), byte order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.raw import attribute_columns, columns, raw_connection
from market.registry.models import Holding, UnitRange

HOLDINGS: Table = Holding.__table__  # type: ignore[attr-defined]
RANGES: Table = UnitRange.__table__  # type: ignore[attr-defined]

# Creates the missing holdings rows and locks every wanted row in one sorted pass: the upsert
# takes its row locks in the order of its input, and, unlike INSERT … ON CONFLICT DO NOTHING
# followed by SELECT … FOR UPDATE, it also locks a row another transaction committed after
# this statement's snapshot. The no-op DO UPDATE only runs (and only returns the row) when the
# locked version is not the one the statement's snapshot saw ("stale": changed since, counters
# returned are the new ones, ranges read by this statement may be old). Every change to a
# pair's ranges updates (or creates) its holdings row in the same transaction, so for a pair
# that is not stale the snapshot's counters and ranges are the current ones, and stay so while
# the lock is held. Rows this statement inserts come back too, with zero counters, and so does
# a row another transaction created since the snapshot: re-read when its counters are not zero
# (counters are the sums of the ranges, so zero counters mean no ranges).
_LOCK_CTE = """
WITH wanted AS (
  SELECT w.batch_id, w.party_id, h.xmin AS seen,
         h.available, h.escrowed, h.pledged, h.retired
  FROM unnest($1::text[], $2::text[]) AS w(batch_id, party_id)
  LEFT JOIN holdings h ON h.batch_id = w.batch_id AND h.party_id = w.party_id
), locked AS (
  INSERT INTO holdings AS h (party_id, batch_id)
  SELECT party_id, batch_id FROM wanted ORDER BY batch_id COLLATE "C", party_id COLLATE "C"
  ON CONFLICT (party_id, batch_id) DO UPDATE SET available = h.available
  WHERE h.xmin IS DISTINCT FROM (
    SELECT w.seen FROM wanted w WHERE w.batch_id = h.batch_id AND w.party_id = h.party_id
  )
  RETURNING h.batch_id, h.party_id, h.available, h.escrowed, h.pledged, h.retired
), counted AS (
  SELECT w.batch_id, w.party_id,
         coalesce(l.available, w.available) AS available,
         coalesce(l.escrowed, w.escrowed) AS escrowed,
         coalesce(l.pledged, w.pledged) AS pledged,
         coalesce(l.retired, w.retired) AS retired,
         l.party_id IS NOT NULL AND (w.seen IS NOT NULL
           OR l.available + l.escrowed + l.pledged + l.retired > 0) AS stale,
         w.seen IS NOT NULL AND l.party_id IS NULL AS current
  FROM wanted w LEFT JOIN locked l ON l.batch_id = w.batch_id AND l.party_id = w.party_id
)
"""

_LOCK_AND_READ = (
    _LOCK_CTE
    + """SELECT c.batch_id, c.party_id, c.available, c.escrowed, c.pledged, c.retired, c.stale,
       r.ids, r.buckets, r.hold_refs, r.starts, r.ends
FROM counted c
LEFT JOIN LATERAL (
  SELECT array_agg(u.id ORDER BY u.serial_start) AS ids,
         array_agg(u.bucket ORDER BY u.serial_start) AS buckets,
         array_agg(u.hold_ref ORDER BY u.serial_start) AS hold_refs,
         array_agg(u.serial_start ORDER BY u.serial_start) AS starts,
         array_agg(u.serial_end ORDER BY u.serial_start) AS ends
  FROM unnest($3::text[], $4::text[], $5::text[], $6::text[])
       AS o(batch_id, party_id, bucket, hold_ref)
  JOIN unit_ranges u ON u.batch_id = o.batch_id AND u.party_id = o.party_id
       AND u.bucket = o.bucket AND u.hold_ref IS NOT DISTINCT FROM o.hold_ref
  WHERE o.batch_id = c.batch_id AND o.party_id = c.party_id
) r ON c.current
"""
)

# Only the owners a move touches are read: a seller with hundreds of resting orders holds
# hundreds of escrowed ranges in the same (batch, party) pair, none of which another order's
# move needs.
_RANGES_OF_OWNERS = """
SELECT u.id, u.batch_id, u.party_id, u.bucket, u.hold_ref, u.serial_start, u.serial_end
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     AS o(batch_id, party_id, bucket, hold_ref)
JOIN unit_ranges u ON u.batch_id = o.batch_id AND u.party_id = o.party_id
     AND u.bucket = o.bucket AND u.hold_ref IS NOT DISTINCT FROM o.hold_ref
ORDER BY u.serial_start
"""

_RANGE_COLUMNS = ("batch_id", "party_id", "bucket", "hold_ref", "serial_start", "serial_end")
_COUNTER_KEYS = ("b_batch", "b_party", "b_available", "b_escrowed", "b_pledged", "b_retired")
_MOVEMENT_COLUMNS = (
    "batch_id",
    "serial_start",
    "serial_end",
    "from_party_id",
    "to_party_id",
    "from_bucket",
    "to_bucket",
    "reason",
    "ref_id",
    "created_at",
)

_DELETE_RANGES = "gone AS (DELETE FROM unit_ranges WHERE id = ANY($1::bigint[]))"
_INSERT_RANGES = """added AS (
  INSERT INTO unit_ranges (batch_id, party_id, bucket, hold_ref, serial_start, serial_end)
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                       $7::bigint[])
)"""
_SET_COUNTERS = """set_counters AS (
  UPDATE holdings AS h
  SET available = c.available, escrowed = c.escrowed, pledged = c.pledged, retired = c.retired
  FROM unnest($8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::bigint[],
              $13::bigint[]) AS c(batch_id, party_id, available, escrowed, pledged, retired)
  WHERE h.batch_id = c.batch_id AND h.party_id = c.party_id
)"""
_INSERT_MOVEMENTS = """INSERT INTO unit_movements (batch_id, serial_start, serial_end,
  from_party_id, to_party_id, from_bucket, to_bucket, reason, ref_id, created_at)
SELECT * FROM unnest($14::text[], $15::bigint[], $16::bigint[], $17::text[], $18::text[],
                     $19::text[], $20::text[], $21::text[], $22::text[], $23::timestamptz[])"""

# Every write of a move in one statement: each CTE touches its own rows (ranges deleted by id,
# new ranges, the holdings rows already locked, history rows only inserted).
_WRITE = f"""WITH {_DELETE_RANGES}, {_INSERT_RANGES}, {_SET_COUNTERS}
{_INSERT_MOVEMENTS}"""


@dataclass(frozen=True, slots=True)
class Owner:
    """Where units sit: a party's bucket of one batch, optionally held by a reference."""

    batch_id: str
    party_id: str
    bucket: str
    hold_ref: str | None = None


class RangeRow(NamedTuple):
    id: int
    batch_id: str
    party_id: str
    bucket: str
    hold_ref: str | None
    serial_start: int
    serial_end: int


Pair = tuple[str, str]


def _owner_key(owner: Owner) -> tuple[str, str, str, str]:
    return (owner.batch_id, owner.party_id, owner.bucket, owner.hold_ref or "")


def _owner_columns(owners: list[Owner]) -> list[list[Any]]:
    return attribute_columns(owners, ("batch_id", "party_id", "bucket", "hold_ref"))


class UnitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_pairs(
        self, pairs: list[Pair], owners: list[Owner]
    ) -> tuple[dict[Pair, dict[str, int]], list[RangeRow]]:
        """Create missing holding rows and lock every (batch, party) pair, sorted (no
        deadlocks); their counters and the ranges `owners` (of those pairs) hold, in one round
        trip (two when another transaction changed a pair while this one waited for its
        lock)."""
        unique = sorted(set(pairs))
        owners = sorted(set(owners), key=_owner_key)
        connection = await raw_connection(self.session)
        rows = await connection.fetch(
            _LOCK_AND_READ,
            [p[0] for p in unique],
            [p[1] for p in unique],
            *_owner_columns(owners),
        )
        counters: dict[Pair, dict[str, int]] = {}
        ranges: list[RangeRow] = []
        stale: list[Pair] = []
        for row in rows:
            batch_id, party_id = row[0], row[1]
            counters[(batch_id, party_id)] = {
                "available": row[2],
                "escrowed": row[3],
                "pledged": row[4],
                "retired": row[5],
            }
            if row[6]:
                stale.append((batch_id, party_id))
            elif row[7] is not None:
                ranges.extend(
                    RangeRow(i, batch_id, party_id, bucket, hold_ref, start, end)
                    for i, bucket, hold_ref, start, end in zip(
                        row[7], row[8], row[9], row[10], row[11], strict=True
                    )
                )
        if stale:
            # The locks are held now: a new statement's snapshot sees their latest ranges.
            stale_pairs = set(stale)
            ranges.extend(
                await self.ranges_of_owners(
                    [o for o in owners if (o.batch_id, o.party_id) in stale_pairs]
                )
            )
        return counters, ranges

    async def ranges_of_owners(self, owners: list[Owner]) -> list[RangeRow]:
        """Every range the given owners hold, in serial order."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_RANGES_OF_OWNERS, *_owner_columns(owners))
        return [RangeRow(*r) for r in rows]

    async def write(
        self,
        delete_ids: list[int],
        ranges: list[dict[str, Any]],
        counters: list[dict[str, Any]],
        movements: list[dict[str, Any]],
    ) -> None:
        """Delete ranges by id, insert ranges, set absolute counters of (already locked)
        holdings and record movements, in one statement."""
        if not (delete_ids or ranges or counters or movements):
            return
        connection = await raw_connection(self.session)
        await connection.fetch(
            _WRITE,
            delete_ids,
            *columns(ranges, _RANGE_COLUMNS),
            *columns(counters, _COUNTER_KEYS),
            *columns(movements, _MOVEMENT_COLUMNS),
        )

    async def create_holding(self, batch_id: str, party_id: str, available: int) -> None:
        await self.session.execute(
            insert(HOLDINGS).values(party_id=party_id, batch_id=batch_id, available=available)
        )

    async def holdings_of(self, party_id: str) -> list[dict[str, Any]]:
        from market.registry.models import Batch

        batches: Table = Batch.__table__  # type: ignore[attr-defined]
        rows = await self.session.execute(
            select(HOLDINGS, batches.c.product_type, batches.c.vintage, batches.c.serial)
            .join(batches, batches.c.id == HOLDINGS.c.batch_id)
            .where(HOLDINGS.c.party_id == party_id)
            .where(
                (
                    HOLDINGS.c.available
                    + HOLDINGS.c.escrowed
                    + HOLDINGS.c.pledged
                    + HOLDINGS.c.retired
                )
                > 0
            )
            .order_by(HOLDINGS.c.batch_id)
        )
        return [dict(r._mapping) for r in rows]

    async def all_ranges_of(self, party_id: str, batch_ids: list[str]) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(RANGES.c.batch_id, RANGES.c.serial_start, RANGES.c.serial_end, RANGES.c.bucket)
            .where(RANGES.c.party_id == party_id, RANGES.c.batch_id.in_(batch_ids))
            .order_by(RANGES.c.batch_id, RANGES.c.serial_start)
        )
        return [dict(r._mapping) for r in rows]


def movement_row(
    source: Owner | None,
    target: Owner,
    start: int,
    end: int,
    reason: str,
    ref_id: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "batch_id": target.batch_id,
        "serial_start": start,
        "serial_end": end,
        "from_party_id": source.party_id if source else None,
        "to_party_id": target.party_id,
        "from_bucket": source.bucket if source else None,
        "to_bucket": target.bucket,
        "reason": reason,
        "ref_id": ref_id,
        "created_at": at,
    }
