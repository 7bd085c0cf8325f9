"""All SQL for cash accounts, the journal, deposits and withdrawals."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import BigInteger, String, Table, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from market.cash.models import (
    CashAccount,
    ExternalAccount,
    JournalEntry,
    Posting,
)

M = TypeVar("M", bound=SQLModel)

ACCOUNTS: Table = CashAccount.__table__  # type: ignore[attr-defined]
EXTERNALS: Table = ExternalAccount.__table__  # type: ignore[attr-defined]
ENTRIES: Table = JournalEntry.__table__  # type: ignore[attr-defined]
POSTINGS: Table = Posting.__table__  # type: ignore[attr-defined]


class CashRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: SQLModel) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def get(self, model: type[M], key: str, *, lock: bool = False) -> M | None:
        return await self.session.get(model, key, with_for_update=lock)

    # accounts -------------------------------------------------------------------------------

    async def lock_accounts(self, party_ids: list[str]) -> list[tuple[str, int, int]]:
        """Create missing account rows, then lock all of them in party order (no deadlocks)."""
        ordered = sorted(set(party_ids))
        await self.session.execute(
            pg_insert(ACCOUNTS).values([{"party_id": p} for p in ordered]).on_conflict_do_nothing()
        )
        rows = await self.session.execute(
            select(ACCOUNTS.c.party_id, ACCOUNTS.c.available, ACCOUNTS.c.reserved)
            .where(ACCOUNTS.c.party_id.in_(ordered))
            .order_by(ACCOUNTS.c.party_id)
            .with_for_update()
        )
        return [(r.party_id, r.available, r.reserved) for r in rows]

    async def read_available(self, party_ids: list[str]) -> dict[str, int]:
        rows = await self.session.execute(
            select(ACCOUNTS.c.party_id, ACCOUNTS.c.available).where(
                ACCOUNTS.c.party_id.in_(party_ids)
            )
        )
        return {r.party_id: r.available for r in rows}

    async def read_account(self, party_id: str) -> tuple[int, int] | None:
        row = (
            await self.session.execute(
                select(ACCOUNTS.c.available, ACCOUNTS.c.reserved).where(
                    ACCOUNTS.c.party_id == party_id
                )
            )
        ).one_or_none()
        return (row.available, row.reserved) if row else None

    async def debit(self, party_id: str, available: int, reserved: int) -> tuple[int, int] | None:
        """Add the (signed) deltas only if neither bucket goes below zero; None if refused."""
        row = (
            await self.session.execute(
                update(ACCOUNTS)
                .where(
                    ACCOUNTS.c.party_id == party_id,
                    ACCOUNTS.c.available >= -available,
                    ACCOUNTS.c.reserved >= -reserved,
                )
                .values(
                    available=ACCOUNTS.c.available + available,
                    reserved=ACCOUNTS.c.reserved + reserved,
                )
                .returning(ACCOUNTS.c.available, ACCOUNTS.c.reserved)
            )
        ).one_or_none()
        return (row.available, row.reserved) if row else None

    async def credit(self, party_id: str, available: int, reserved: int) -> tuple[int, int]:
        """Add non-negative deltas, creating the account row if the party has none yet."""
        statement = pg_insert(ACCOUNTS).values(
            party_id=party_id, available=available, reserved=reserved
        )
        row = (
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[ACCOUNTS.c.party_id],
                    set_={
                        "available": ACCOUNTS.c.available + statement.excluded.available,
                        "reserved": ACCOUNTS.c.reserved + statement.excluded.reserved,
                    },
                ).returning(ACCOUNTS.c.available, ACCOUNTS.c.reserved)
            )
        ).one()
        return row.available, row.reserved

    async def add_to_external(self, name: str, delta: int) -> None:
        await self.session.execute(
            update(EXTERNALS)
            .where(EXTERNALS.c.name == name)
            .values(balance=EXTERNALS.c.balance + delta)
        )

    # journal --------------------------------------------------------------------------------

    async def apply_deltas(self, deltas: list[tuple[str, int, int]]) -> None:
        """Add (party, Δavailable, Δreserved) to existing accounts in one statement.

        The CHECK constraints refuse any bucket going below zero (the caller turns that into
        a retry); rows must exist (`lock_accounts` creates them).
        """
        if not deltas:
            return
        values = (
            select(
                func.unnest(literal([d[0] for d in deltas], ARRAY(String))).label("party_id"),
                func.unnest(literal([d[1] for d in deltas], ARRAY(BigInteger))).label("a"),
                func.unnest(literal([d[2] for d in deltas], ARRAY(BigInteger))).label("r"),
            )
        ).subquery("v")
        await self.session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.party_id == values.c.party_id)
            .values(
                available=ACCOUNTS.c.available + values.c.a,
                reserved=ACCOUNTS.c.reserved + values.c.r,
            )
        )

    async def add_entries(
        self, entries: list[dict[str, Any]], postings: list[dict[str, Any]]
    ) -> None:
        if entries:
            await self.session.execute(insert(ENTRIES), entries)
            await self.session.execute(insert(POSTINGS), postings)

    async def add_entry(
        self, entry_id: str, kind: str, ref_id: str, at: datetime, postings: list[dict[str, Any]]
    ) -> None:
        await self.session.execute(
            insert(ENTRIES).values(id=entry_id, kind=kind, ref_id=ref_id, created_at=at)
        )
        await self.session.execute(
            insert(POSTINGS).values([{"entry_id": entry_id, **p} for p in postings])
        )

    async def entries_of(
        self, party_id: str, *, limit: int, cursor: str | None
    ) -> list[dict[str, Any]]:
        """Entries with a posting for `party_id`, newest first (ids are time-ordered)."""
        touched = select(POSTINGS.c.entry_id).where(POSTINGS.c.party_id == party_id)
        query = (
            select(ENTRIES)
            .where(ENTRIES.c.id.in_(touched))
            .order_by(ENTRIES.c.id.desc())
            .limit(limit + 1)
        )
        if cursor:
            query = query.where(ENTRIES.c.id < cursor)
        rows = await self.session.execute(query)
        return [dict(r._mapping) for r in rows]

    async def postings_of(self, entry_ids: list[str]) -> list[dict[str, Any]]:
        if not entry_ids:
            return []
        rows = await self.session.execute(
            select(POSTINGS.c.entry_id, POSTINGS.c.account, POSTINGS.c.party_id, POSTINGS.c.amount)
            .where(POSTINGS.c.entry_id.in_(entry_ids))
            .order_by(POSTINGS.c.id)
        )
        return [dict(r._mapping) for r in rows]
