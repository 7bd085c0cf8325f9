"""Moving serial ranges between owners and buckets: the one place ranges are split.

Callers lock the holdings involved first (`UnitRepository.lock_holdings`), which serializes
every change to one party's units of one batch across all server processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.time import utcnow
from market.registry.errors import InsufficientUnits
from market.registry.unit_repository import Owner, UnitRepository, movement_row


@dataclass(frozen=True, slots=True)
class SerialRange:
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    def as_dict(self) -> dict[str, int]:
        return {"start": self.start, "end": self.end}


class UnitLedger:
    """Issue and move units; every move is recorded as a unit movement."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = UnitRepository(session)

    async def lock(self, batch_id: str, *party_ids: str) -> dict[str, dict[str, int]]:
        return await self.repo.lock_holdings(batch_id, set(party_ids))

    async def issue(self, batch_id: str, owner_id: str, start: int, end: int, ref_id: str) -> None:
        target = Owner(batch_id, owner_id, "available")
        await self.repo.create_holding(batch_id, owner_id, end - start + 1)
        await self.repo.put_range(target, start, end)
        await self.repo.record_movements(
            [movement_row(None, target, start, end, "issuance", ref_id, utcnow())]
        )

    async def move(
        self,
        source: Owner,
        target: Owner,
        quantity: int,
        *,
        reason: str,
        ref_id: str,
        holdings: dict[str, dict[str, int]],
    ) -> list[SerialRange]:
        """Move `quantity` units, oldest serials first, from `source` to `target`.

        `holdings` are the locked counter rows (from `lock`); the source bucket must cover it.
        """
        if holdings[source.party_id][source.bucket] < quantity:
            raise InsufficientUnits(
                f"{quantity} units requested, {holdings[source.party_id][source.bucket]} "
                f"{source.bucket}",
                requested=quantity,
                available=holdings[source.party_id][source.bucket],
            )
        remaining = quantity
        moved: list[SerialRange] = []
        for row in await self.repo.ranges_of(source):
            if remaining == 0:
                break
            take = min(remaining, row.size)
            piece = SerialRange(row.serial_start, row.serial_start + take - 1)
            if take == row.size:
                await self.repo.delete_range(row.id)
            else:
                await self.repo.shrink_range_start(row.id, piece.end + 1)
            moved.append(piece)
            remaining -= take
        if remaining:
            # Counters and ranges disagree: refuse rather than move a partial quantity.
            raise InsufficientUnits("the serial ranges do not cover the requested quantity")
        for piece in moved:
            await self.repo.put_range(target, piece.start, piece.end)
        now = utcnow()
        await self.repo.record_movements(
            [movement_row(source, target, p.start, p.end, reason, ref_id, now) for p in moved]
        )
        await self.repo.add_to_bucket(source.batch_id, source.party_id, source.bucket, -quantity)
        await self.repo.add_to_bucket(target.batch_id, target.party_id, target.bucket, quantity)
        holdings[source.party_id][source.bucket] -= quantity
        holdings.setdefault(target.party_id, {}).setdefault(target.bucket, 0)
        holdings[target.party_id][target.bucket] += quantity
        return moved
