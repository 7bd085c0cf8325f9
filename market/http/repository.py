"""All SQL for idempotency records."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.db.locking import advisory_xact_lock
from market.http.models import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_and_get(self, scope: str) -> IdempotencyRecord | None:
        """Serialize requests carrying the same key; then read what the first one stored."""
        await advisory_xact_lock(self.session, "idempotency", scope)
        return await self.session.get(IdempotencyRecord, scope)

    async def add(self, record: IdempotencyRecord) -> None:
        self.session.add(record)
        await self.session.flush()
