"""Moving serial ranges between owners and buckets: the one place ranges are split.

Every move locks the holdings involved (sorted by batch, then party), which serializes every
change to one party's units of one batch across all server processes. `move_many` costs two
round trips however many moves and batches it applies: one locks the holdings and reads their
counters and ranges, one writes what changed (see `UnitRepository`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class UnitMove:
    source: Owner
    target: Owner
    quantity: int
    reason: str
    ref_id: str


def _merge_into(ranges: list[list[int]], start: int, end: int) -> None:
    """Insert [start, end] into sorted disjoint `ranges`, merging with adjacent neighbours."""
    i = bisect.bisect_left(ranges, [start, end])
    ranges.insert(i, [start, end])
    if i + 1 < len(ranges) and ranges[i][1] + 1 == ranges[i + 1][0]:
        ranges[i][1] = ranges.pop(i + 1)[1]
    if i > 0 and ranges[i - 1][1] + 1 == ranges[i][0]:
        ranges[i - 1][1] = ranges.pop(i)[1]


def _range_rows(owners: set[Owner], held: dict[Owner, list[list[int]]]) -> list[dict[str, Any]]:
    return [
        {
            "batch_id": owner.batch_id,
            "party_id": owner.party_id,
            "bucket": owner.bucket,
            "hold_ref": owner.hold_ref,
            "serial_start": start,
            "serial_end": end,
        }
        for owner in owners
        for start, end in held[owner]
    ]


def _counter_row(batch_id: str, party_id: str, counter: dict[str, int]) -> dict[str, Any]:
    return {
        "b_batch": batch_id,
        "b_party": party_id,
        "b_available": counter["available"],
        "b_escrowed": counter["escrowed"],
        "b_pledged": counter["pledged"],
        "b_retired": counter["retired"],
    }


class UnitLedger:
    """Issue and move units; every move is recorded as a unit movement."""

    def __init__(self, session: AsyncSession) -> None:
        self.repo = UnitRepository(session)

    async def issue(self, batch_id: str, owner_id: str, start: int, end: int, ref_id: str) -> None:
        target = Owner(batch_id, owner_id, "available")
        await self.repo.create_holding(batch_id, owner_id, end - start + 1)
        await self.repo.write(
            [],
            _range_rows({target}, {target: [[start, end]]}),
            [],
            [movement_row(None, target, start, end, "issuance", ref_id, utcnow())],
        )

    async def move_many(self, moves: list[UnitMove]) -> list[list[SerialRange]]:
        """Apply many moves in two statements: lock the holdings of every batch (sorted) and
        read their counters and the ranges of the owners the moves touch, split and merge in
        memory, write back what changed.

        Oldest serials first, exact splits, adjacent ranges of one owner merge; a source that
        cannot cover a move raises `InsufficientUnits` (nothing is written).
        """
        if not moves:
            return []
        pairs: set[tuple[str, str]] = set()
        for move in moves:
            pairs.add((move.source.batch_id, move.source.party_id))
            pairs.add((move.source.batch_id, move.target.party_id))
        owners = [owner for move in moves for owner in (move.source, move.target)]
        counters, rows = await self.repo.lock_pairs(sorted(pairs), owners)
        held: dict[Owner, list[list[int]]] = {}
        original: dict[Owner, list[int]] = {}
        for row in rows:
            owner = Owner(row.batch_id, row.party_id, row.bucket, row.hold_ref)
            held.setdefault(owner, []).append([row.serial_start, row.serial_end])
            original.setdefault(owner, []).append(row.id)
        for ranges in held.values():
            ranges.sort()
        changed: set[Owner] = set()
        now = utcnow()
        movements: list[dict[str, Any]] = []
        results: list[list[SerialRange]] = []
        for move in moves:
            source_count = counters[(move.source.batch_id, move.source.party_id)]
            if source_count[move.source.bucket] < move.quantity:
                raise InsufficientUnits(
                    f"{move.quantity} units requested, {source_count[move.source.bucket]} "
                    f"{move.source.bucket}",
                    requested=move.quantity,
                    available=source_count[move.source.bucket],
                )
            source = held.setdefault(move.source, [])
            target = held.setdefault(move.target, [])
            remaining, moved = move.quantity, []
            while remaining:
                if not source:
                    raise InsufficientUnits("the serial ranges do not cover the requested quantity")
                start, end = source[0]
                take = min(remaining, end - start + 1)
                moved.append(SerialRange(start, start + take - 1))
                if take == end - start + 1:
                    source.pop(0)
                else:
                    source[0][0] = start + take
                remaining -= take
            for piece in moved:
                _merge_into(target, piece.start, piece.end)
            changed.update((move.source, move.target))
            source_count[move.source.bucket] -= move.quantity
            counters[(move.target.batch_id, move.target.party_id)][move.target.bucket] += (
                move.quantity
            )
            movements.extend(
                movement_row(
                    move.source, move.target, p.start, p.end, move.reason, move.ref_id, now
                )
                for p in moved
            )
            results.append(moved)
        delete_ids = [i for owner in changed for i in original.get(owner, [])]
        touched = sorted({(o.batch_id, o.party_id) for o in changed})
        await self.repo.write(
            delete_ids,
            _range_rows(changed, held),
            [_counter_row(b, p, counters[(b, p)]) for b, p in touched],
            movements,
        )
        return results

    async def move(
        self, source: Owner, target: Owner, quantity: int, *, reason: str, ref_id: str
    ) -> list[SerialRange]:
        """Move `quantity` units, oldest serials first, from `source` to `target`."""
        return (await self.move_many([UnitMove(source, target, quantity, reason, ref_id)]))[0]
