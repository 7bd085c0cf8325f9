"""SQL for compensation schemes' cash accounts (`scheme:{id}` in postings)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.db.raw import raw_connection

_OPEN = "INSERT INTO scheme_accounts (scheme_id, balance) VALUES ($1, 0)"
_ADD = """
UPDATE scheme_accounts SET balance = balance + $2::bigint
WHERE scheme_id = $1 AND balance + $2::bigint >= 0
RETURNING balance
"""
_BALANCES = "SELECT scheme_id, balance FROM scheme_accounts WHERE scheme_id = ANY($1::text[])"


class SchemeAccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(self, scheme_id: str) -> None:
        connection = await raw_connection(self.session)
        await connection.execute(_OPEN, scheme_id)

    async def add(self, scheme_id: str, delta: int) -> int | None:
        """Add the signed delta unless the balance would go below zero (then None); the row
        stays locked until commit."""
        connection = await raw_connection(self.session)
        value = await connection.fetchval(_ADD, scheme_id, delta)
        return None if value is None else int(value)

    async def balances(self, scheme_ids: list[str]) -> dict[str, int]:
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_BALANCES, scheme_ids)
        return {r[0]: int(r[1]) for r in rows}
