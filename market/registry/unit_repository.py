"""All SQL for holdings, serial ranges and unit movements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.registry.models import Holding, UnitMovement, UnitRange

HOLDINGS: Table = Holding.__table__  # type: ignore[attr-defined]
RANGES: Table = UnitRange.__table__  # type: ignore[attr-defined]
MOVEMENTS: Table = UnitMovement.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Owner:
    """Where units sit: a party's bucket of one batch, optionally held by a reference."""

    batch_id: str
    party_id: str
    bucket: str
    hold_ref: str | None = None


class UnitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_holdings(self, batch_id: str, party_ids: set[str]) -> dict[str, dict[str, int]]:
        """Create missing holding rows, then lock all of them in party order (no deadlocks)."""
        ordered = sorted(party_ids)
        await self.session.execute(
            pg_insert(HOLDINGS)
            .values([{"party_id": p, "batch_id": batch_id} for p in ordered])
            .on_conflict_do_nothing()
        )
        rows = await self.session.execute(
            select(HOLDINGS)
            .where(HOLDINGS.c.batch_id == batch_id, HOLDINGS.c.party_id.in_(ordered))
            .order_by(HOLDINGS.c.party_id)
            .with_for_update()
        )
        return {r.party_id: dict(r._mapping) for r in rows}

    async def ranges_of_pairs(self, pairs: list[tuple[str, str]]) -> list[Any]:
        """Every range the given (batch, party) pairs hold, in any bucket."""
        rows = await self.session.execute(
            select(
                RANGES.c.id, RANGES.c.batch_id, RANGES.c.party_id, RANGES.c.bucket,
                RANGES.c.hold_ref, RANGES.c.serial_start, RANGES.c.serial_end,
            ).where(tuple_(RANGES.c.batch_id, RANGES.c.party_id).in_(pairs))
        )  # fmt: skip
        return list(rows)

    async def replace_ranges(self, delete_ids: list[int], rows: list[dict[str, Any]]) -> None:
        if delete_ids:
            await self.session.execute(delete(RANGES).where(RANGES.c.id.in_(delete_ids)))
        if rows:
            await self.session.execute(insert(RANGES), rows)

    async def set_counters(self, rows: list[dict[str, Any]]) -> None:
        """Absolute bucket counters per (batch, party), one executemany."""
        if rows:
            await self.session.execute(
                update(HOLDINGS)
                .where(
                    HOLDINGS.c.batch_id == bindparam("b_batch"),
                    HOLDINGS.c.party_id == bindparam("b_party"),
                )
                .values(
                    available=bindparam("b_available"),
                    escrowed=bindparam("b_escrowed"),
                    pledged=bindparam("b_pledged"),
                    retired=bindparam("b_retired"),
                ),
                rows,
            )

    async def record_movements(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(MOVEMENTS), rows)

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
