"""SQL for compensation schemes' cash accounts (`scheme:{id}` in postings)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.db.raw import raw_connection

_OPEN = "INSERT INTO scheme_accounts (scheme_id, balance) VALUES ($1, 0)"
_ADD = """
UPDATE scheme_accounts SET balance = balance + $2::bigint
WHERE scheme_id = $1 AND balance + $2::bigint >= 0
RETURNING balance
"""
# Credits (summed per party, in party order: the lock order every cash writer uses), creating
# missing accounts, then the entries and their postings, in one statement.
_PAY = """
WITH credits AS (
  INSERT INTO cash_accounts AS a (party_id, available)
  SELECT c.party_id, c.amount FROM unnest($1::text[], $2::bigint[]) AS c(party_id, amount)
  ORDER BY c.party_id
  ON CONFLICT (party_id) DO UPDATE SET available = a.available + excluded.available
  RETURNING 1
), entries AS (
  INSERT INTO journal_entries (id, kind, ref_id, created_at)
  SELECT e.id, $3, e.ref_id, $4 FROM unnest($5::text[], $6::text[]) AS e(id, ref_id)
), postings AS (
  INSERT INTO postings (entry_id, account, party_id, amount)
  SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::bigint[])
)
SELECT count(*) FROM credits
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

    async def credit_parties(
        self,
        credits: list[tuple[str, int]],
        kind: str,
        at: datetime,
        entries: tuple[list[str], list[str]],
        postings: tuple[list[str], list[str], list[str | None], list[int]],
    ) -> None:
        """Credit (party, amount) available cash — one row per party — and record the entries
        (ids, ref ids) of `kind` with their postings (entry ids, accounts, parties, amounts)."""
        connection = await raw_connection(self.session)
        await connection.fetchval(
            _PAY, [c[0] for c in credits], [c[1] for c in credits], kind, at, *entries, *postings
        )

    async def balances(self, scheme_ids: list[str]) -> dict[str, int]:
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_BALANCES, scheme_ids)
        return {r[0]: int(r[1]) for r in rows}
