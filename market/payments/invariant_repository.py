"""SQL for the payment invariants (DOMAIN.md 3 and 9): each query returns the violations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# A succeeded card deposit was credited exactly once, for its amount, from external:stripe;
# a pending or failed one not at all.
CARD_DEPOSITS_CREDITED_ONCE = """
SELECT d.id, d.status, d.amount, COUNT(DISTINCT e.id) AS entries,
       COALESCE(SUM(-p.amount), 0) AS credited
FROM deposits d
LEFT JOIN journal_entries e ON e.ref_id = d.id AND e.kind = 'deposit'
LEFT JOIN postings p ON p.entry_id = e.id AND p.account = 'external:stripe'
WHERE d.method = 'stripe'
GROUP BY d.id, d.status, d.amount
HAVING (d.status = 'succeeded'
        AND (COUNT(DISTINCT e.id) <> 1 OR COALESCE(SUM(-p.amount), 0) <> d.amount))
    OR (d.status <> 'succeeded' AND COUNT(DISTINCT e.id) <> 0)
LIMIT 20
"""

# A payout row agrees with its withdrawal: paid by that transfer, or failed.
PAYOUTS_MATCH_WITHDRAWALS = """
SELECT p.withdrawal_id, p.status, w.status AS withdrawal_status, p.transfer_id,
       w.payment_reference
FROM payouts p JOIN withdrawals w ON w.id = p.withdrawal_id
WHERE p.amount <> w.amount OR p.party_id <> w.party_id
   OR (p.status = 'paid' AND (w.status <> 'paid' OR p.transfer_id IS NULL
                              OR w.payment_reference IS DISTINCT FROM p.transfer_id))
   OR (p.status = 'failed' AND w.status <> 'failed')
LIMIT 20
"""

# A paid withdrawal's money left exactly once (one `withdrawal_paid` entry), any other's not at
# all. Its reservation and a failed or cancelled one's release are holds, no entries (that the
# hold is exact is invariant 5); a withdrawal from before holds may also carry its release as
# one entry of the kind its status says, never of another.
WITHDRAWALS_SETTLED_ONCE = """
SELECT w.id, w.status,
       COUNT(*) FILTER (WHERE e.kind = 'withdrawal_paid') AS paid,
       COUNT(*) FILTER (WHERE e.kind = 'withdrawal_failed') AS failed,
       COUNT(*) FILTER (WHERE e.kind = 'withdrawal_cancelled') AS cancelled
FROM withdrawals w
LEFT JOIN journal_entries e ON e.ref_id = w.id
GROUP BY w.id, w.status
HAVING COUNT(*) FILTER (WHERE e.kind = 'withdrawal_paid') <> (w.status = 'paid')::int
    OR COUNT(*) FILTER (WHERE e.kind = 'withdrawal_failed') > (w.status = 'failed')::int
    OR COUNT(*) FILTER (WHERE e.kind = 'withdrawal_cancelled') > (w.status = 'cancelled')::int
LIMIT 20
"""


class PaymentInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        result = await self.session.execute(text(sql))
        return [dict(row._mapping) for row in result]
