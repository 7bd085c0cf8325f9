"""All SQL for idempotency records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.db.locking import lock_key
from market.db.raw import raw_connection
from market.http.idempotency import IdempotencyClaim, StoredResponse

_FETCH = """
SELECT scope, request_hash, status_code, body FROM idempotency_records WHERE scope = ANY($1::text[])
"""

# Stores what is not there yet; returns the scopes it stored.
_STORE = """
INSERT INTO idempotency_records (scope, request_hash, status_code, body, created_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[], $5::timestamptz[])
ON CONFLICT (scope) DO NOTHING
RETURNING scope
"""


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def try_lock(self, scope: str) -> bool:
        """Claim the key for this transaction; False while another transaction holds it."""
        connection = await raw_connection(self.session)
        locked = await connection.fetchval(
            "SELECT pg_try_advisory_xact_lock($1)", lock_key("idempotency", scope)
        )
        return bool(locked)

    async def fetch(self, scopes: list[str]) -> dict[str, tuple[str, StoredResponse]]:
        """scope → (request hash, stored response), for the scopes that have a record."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_FETCH, scopes)
        return {r[0]: (r[1], StoredResponse(int(r[2]), bytes(r[3]))) for r in rows}

    async def store(
        self, records: list[tuple[IdempotencyClaim, StoredResponse]], at: datetime
    ) -> set[str]:
        """Store first responses (a scope already stored is left alone): the scopes stored."""
        connection = await raw_connection(self.session)
        rows = await connection.fetch(
            _STORE,
            [c.scope for c, _ in records],
            [c.request_hash for c, _ in records],
            [r.status_code for _, r in records],
            [r.body for _, r in records],
            [at] * len(records),
        )
        return {r[0] for r in rows}
