"""SQL for the cash invariants (DOMAIN.md 3, 4, 5, 8): each query returns the violations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

JOURNAL_BALANCED = """
SELECT e.id, COALESCE(SUM(p.amount), 0) AS total, COUNT(p.id) AS postings
FROM journal_entries e LEFT JOIN postings p ON p.entry_id = e.id
GROUP BY e.id
HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) = 0
LIMIT 20
"""

CASH_CONSERVED = """
SELECT accounts, fees, externals, schemes, accounts + fees + externals + schemes AS total
FROM (SELECT COALESCE(SUM(available + reserved), 0) AS accounts FROM cash_accounts) a,
     (SELECT COALESCE(SUM(available), 0) AS fees FROM fee_accounts) f,
     (SELECT COALESCE(SUM(balance), 0) AS externals FROM external_accounts) x,
     (SELECT COALESCE(SUM(balance), 0) AS schemes FROM scheme_accounts) s
WHERE accounts + fees + externals + schemes <> 0
"""

# A party's account is one account in this check: its total (available + reserved) against
# the postings to `party:{id}:available` and `party:{id}:reserved` together. Holds move cash
# between the two buckets without an entry (`market.cash.ledger`); entries from before that
# (`order_reserve`, `withdrawal`, … ) net to zero across them. What `reserved` must be is
# invariant 5 (`reserved_cash_matches_orders`).
BALANCES_MATCH_POSTINGS = """
WITH balances AS (
    SELECT 'party:' || party_id AS account, available + reserved AS balance
    FROM cash_accounts
    UNION ALL
    SELECT 'external:' || name, balance FROM external_accounts
    UNION ALL
    SELECT 'scheme:' || scheme_id, balance FROM scheme_accounts
    UNION ALL
    SELECT 'fee:' || instrument, available FROM fee_accounts
),
sums AS (
    SELECT regexp_replace(account, '^(party:.*):(available|reserved)$', '\\1') AS account,
           SUM(amount) AS total
    FROM postings GROUP BY 1
)
SELECT COALESCE(b.account, s.account) AS account, b.balance, s.total AS postings_total
FROM balances b FULL JOIN sums s ON s.account = b.account
WHERE COALESCE(b.balance, 0) <> COALESCE(s.total, 0)
LIMIT 20
"""

NOTHING_NEGATIVE = """
SELECT party_id, available, reserved FROM cash_accounts
WHERE available < 0 OR reserved < 0
UNION ALL
SELECT 'scheme:' || scheme_id, balance, 0 FROM scheme_accounts WHERE balance < 0
UNION ALL
SELECT 'fee:' || instrument, available, 0 FROM fee_accounts WHERE available < 0
LIMIT 20
"""

APPEND_ONLY_TRIGGERS = """
SELECT c.relname
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE NOT t.tgisinternal AND t.tgname = c.relname || '_append_only' AND t.tgenabled <> 'D'
  AND c.relname IN ('journal_entries', 'postings')
"""

RESERVED_BY_WITHDRAWALS = """
SELECT party_id, SUM(amount) AS amount FROM withdrawals WHERE status = 'pending' GROUP BY party_id
"""

RESERVED_BALANCES = "SELECT party_id, reserved FROM cash_accounts WHERE reserved <> 0"


class CashInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _rows(self, sql: str) -> list[dict[str, Any]]:
        result = await self.session.execute(text(sql))
        return [dict(row._mapping) for row in result]

    async def unbalanced_entries(self) -> list[dict[str, Any]]:
        return await self._rows(JOURNAL_BALANCED)

    async def cash_not_conserved(self) -> list[dict[str, Any]]:
        return await self._rows(CASH_CONSERVED)

    async def balances_off_postings(self) -> list[dict[str, Any]]:
        return await self._rows(BALANCES_MATCH_POSTINGS)

    async def negative_accounts(self) -> list[dict[str, Any]]:
        return await self._rows(NOTHING_NEGATIVE)

    async def tables_with_append_only_trigger(self) -> set[str]:
        return {row["relname"] for row in await self._rows(APPEND_ONLY_TRIGGERS)}

    async def reserved_by_withdrawals(self) -> dict[str, int]:
        """Cash each party holds behind its pending withdrawals (part of invariant 5)."""
        return {r["party_id"]: int(r["amount"]) for r in await self._rows(RESERVED_BY_WITHDRAWALS)}
