"""All SQL for parties and API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.parties.models import ApiKey, Party

PARTIES: Table = Party.__table__  # type: ignore[attr-defined]
KEYS: Table = ApiKey.__table__  # type: ignore[attr-defined]


class PartyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, party: Party) -> Party:
        self.session.add(party)
        await self.session.flush()
        return party

    async def get(self, party_id: str) -> Party | None:
        return await self.session.get(Party, party_id)

    async def get_many(self, party_ids: set[str]) -> dict[str, Party]:
        if not party_ids:
            return {}
        rows = await self.session.execute(select(Party).where(PARTIES.c.id.in_(party_ids)))
        return {p.id: p for p in rows.scalars()}

    async def by_credit_code(self, credit_code: str) -> Party | None:
        rows = await self.session.execute(select(Party).where(PARTIES.c.credit_code == credit_code))
        return rows.scalar_one_or_none()

    async def list(self, *, limit: int, cursor: str | None, kind: str | None) -> list[Party]:
        query = select(Party).order_by(PARTIES.c.id).limit(limit + 1)
        if cursor:
            query = query.where(PARTIES.c.id > cursor)
        if kind:
            query = query.where(PARTIES.c.kind == kind)
        rows = await self.session.execute(query)
        return list(rows.scalars())

    async def set_status(self, party_id: str, status: str) -> None:
        await self.session.execute(
            update(Party).where(PARTIES.c.id == party_id).values(status=status)
        )

    async def status(self, party_id: str) -> str | None:
        """The party's status as committed now (never the session's cached object)."""
        rows = await self.session.execute(select(PARTIES.c.status).where(PARTIES.c.id == party_id))
        return rows.scalar_one_or_none()

    async def lock(self, party_id: str) -> Party | None:
        rows = await self.session.execute(
            select(Party).where(PARTIES.c.id == party_id).with_for_update()
        )
        return rows.scalar_one_or_none()


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, key: ApiKey) -> ApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

    async def get(self, key_id: str) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def party_for_token_hash(self, token_hash: str) -> Party | None:
        rows = await self.session.execute(
            select(Party)
            .join(ApiKey, KEYS.c.party_id == PARTIES.c.id)
            .where(KEYS.c.token_hash == token_hash, KEYS.c.revoked_at.is_(None))
        )
        return rows.scalar_one_or_none()

    async def revoke(self, key_id: str, at: datetime) -> None:
        await self.session.execute(update(ApiKey).where(KEYS.c.id == key_id).values(revoked_at=at))
