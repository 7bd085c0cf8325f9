"""SQL for invariant 11 (claims exclusive; compensation payments balanced, certified and within
their scheme's funds) and the GEP accounts' consistency: each query returns the violations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CLAIMS_EXCLUSIVE = """
SELECT a.id AS claim, b.id AS overlapping, a.asset_id, a.service
FROM asset_claims a JOIN asset_claims b
  ON b.asset_id = a.asset_id AND b.service = a.service AND b.id > a.id
 AND b.period_start <= a.period_end AND b.period_end >= a.period_start
LIMIT 20
"""

CLAIM_GUARD = """
SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relname = 'asset_claims' AND t.tgname = 'asset_claims_exclusive' AND t.tgenabled <> 'D'
"""

# `':' || 'available'`, not `':available'`: text() would read the latter as a bind parameter.
PAYMENTS_BALANCED = """
SELECT p.id, p.amount, p.journal_entry_id
FROM compensation_payments p
LEFT JOIN journal_entries e
  ON e.id = p.journal_entry_id AND e.ref_id = p.id AND e.kind = 'compensation_payment'
LEFT JOIN postings credit
  ON credit.entry_id = p.journal_entry_id AND credit.amount = p.amount
 AND credit.account = 'party:' || p.to_party_id || ':' || 'available'
LEFT JOIN postings debit
  ON debit.entry_id = p.journal_entry_id AND debit.amount = -p.amount
 AND debit.account = CASE WHEN p.from_account LIKE 'party:%'
                          THEN p.from_account || ':' || 'available' ELSE p.from_account END
WHERE e.id IS NULL OR credit.id IS NULL OR debit.id IS NULL
LIMIT 20
"""

PAYMENTS_CERTIFIED = """
SELECT p.id, p.certificate_id
FROM compensation_payments p
LEFT JOIN certificates c
  ON c.id = p.certificate_id AND c.kind = 'compensation_payment' AND c.subject_id = p.id
WHERE c.id IS NULL
LIMIT 20
"""

PERIODS_MATCH_PAYMENTS = """
SELECT r.id, r.total, COALESCE(SUM(p.amount), 0) AS paid
FROM compensation_periods r LEFT JOIN compensation_payments p ON p.period_id = r.id
GROUP BY r.id, r.total
HAVING r.total <> COALESCE(SUM(p.amount), 0)
LIMIT 20
"""

# What a scheme paid never exceeds what it was funded with (its balance is the difference).
WITHIN_FUNDS = """
WITH funded AS (
  SELECT account, SUM(amount) FILTER (WHERE amount > 0) AS funded,
         -SUM(amount) FILTER (WHERE amount < 0) AS paid
  FROM postings WHERE account LIKE 'scheme:%' GROUP BY account
)
SELECT s.scheme_id, s.balance, f.funded, f.paid
FROM scheme_accounts s LEFT JOIN funded f ON f.account = 'scheme:' || s.scheme_id
WHERE s.balance < 0 OR COALESCE(f.paid, 0) > COALESCE(f.funded, 0)
   OR s.balance <> COALESCE(f.funded, 0) - COALESCE(f.paid, 0)
LIMIT 20
"""

ONE_PUBLISHED_ACCOUNT = """
SELECT a.id, a.status, a.supersedes, a.superseded_by
FROM gep_accounts a
LEFT JOIN gep_accounts n ON n.id = a.superseded_by
WHERE (a.status = 'published' AND a.certificate_id IS NULL)
   OR (a.status = 'superseded' AND (n.id IS NULL OR n.supersedes <> a.id OR n.status = 'draft'))
LIMIT 20
"""

ACCOUNT_TOTALS = """
SELECT a.id, a.total, COALESCE(SUM(l.value), 0) AS lines
FROM gep_accounts a LEFT JOIN gep_account_lines l ON l.account_id = a.id
GROUP BY a.id, a.total
HAVING a.total <> COALESCE(SUM(l.value), 0)
LIMIT 20
"""


class CompensationInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        result = await self.session.execute(text(sql))
        return [dict(row._mapping) for row in result]
