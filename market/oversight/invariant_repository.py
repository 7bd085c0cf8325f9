"""SQL for the invariants that span contexts (DOMAIN.md 9, 10, 11) and oversight's own history:
each query returns the violations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# 9. One effect per client_order_id (the unique constraint, checked as data).
ONE_ORDER_PER_CLIENT_ORDER_ID = """
SELECT party_id, client_order_id, COUNT(*) AS orders FROM orders
GROUP BY party_id, client_order_id HAVING COUNT(*) > 1 LIMIT 20
"""

# 9. One effect per deposit (a repeated webhook or request): a succeeded deposit has exactly one
# `deposit` journal entry, any other deposit none.
ONE_ENTRY_PER_DEPOSIT = """
SELECT d.id, d.status, COUNT(e.id) AS entries FROM deposits d
LEFT JOIN journal_entries e ON e.ref_id = d.id AND e.kind = 'deposit'
GROUP BY d.id, d.status
HAVING COUNT(e.id) <> CASE WHEN d.status = 'succeeded' THEN 1 ELSE 0 END
LIMIT 20
"""

# 9. One effect per withdrawal request: a paid one has exactly one outcome entry, a failed or
# cancelled one at most one, a pending one none. Reserving and releasing are holds (no entries);
# a withdrawal from before holds has one reservation entry (`withdrawal`), never more.
ONE_ENTRY_PER_WITHDRAWAL = """
SELECT w.id, w.status,
       COUNT(*) FILTER (WHERE e.kind = 'withdrawal') AS reserved,
       COUNT(*) FILTER (WHERE e.kind <> 'withdrawal') AS outcomes
FROM withdrawals w LEFT JOIN journal_entries e ON e.ref_id = w.id
GROUP BY w.id, w.status
HAVING COUNT(*) FILTER (WHERE e.kind = 'withdrawal') > 1
    OR COUNT(*) FILTER (WHERE e.kind <> 'withdrawal')
       > CASE WHEN w.status = 'pending' THEN 0 ELSE 1 END
    OR (w.status = 'paid' AND COUNT(*) FILTER (WHERE e.kind <> 'withdrawal') <> 1)
LIMIT 20
"""

# 9 and 10. An order has exactly one `new` event; a final order has exactly one final event of
# its status; its fill events add up to its filled quantity. Nothing acknowledged is missing.
ORDER_ROWS_COMPLETE = """
SELECT o.id, o.status, o.filled_quantity, e.news, e.finals, e.filled
FROM orders o LEFT JOIN LATERAL (
    SELECT COUNT(*) FILTER (WHERE kind = 'new') AS news,
           COUNT(*) FILTER (WHERE kind = o.status) AS finals,
           COALESCE(SUM(quantity) FILTER (WHERE kind = 'fill'), 0) AS filled
    FROM order_events WHERE order_id = o.id
) e ON true
WHERE e.news <> 1
   OR e.filled <> o.filled_quantity
   OR (o.status IN ('filled', 'cancelled', 'expired', 'rejected') AND e.finals <> 1)
LIMIT 20
"""

# 10. Every order event, trade and book command belongs to a known order and instrument.
ORPHAN_ORDER_EVENTS = """
SELECT e.id, e.order_id FROM order_events e LEFT JOIN orders o ON o.id = e.order_id
WHERE o.id IS NULL OR o.instrument <> e.instrument LIMIT 20
"""

# 10. A completed transfer has its certificate; a held one waits for an approval.
TRANSFER_ROWS_COMPLETE = """
SELECT t.id, t.status FROM transfers t
LEFT JOIN certificates c ON c.id = t.certificate_id
LEFT JOIN approvals a ON a.subject_id = t.id AND a.kind = 'transfer'
WHERE (t.status = 'completed' AND c.id IS NULL)
   OR (t.status = 'pending_approval' AND a.id IS NULL)
LIMIT 20
"""

# 11 (and no double issuance): no two batches of one product type on the same asset for
# overlapping periods (the claims ledger's own check is `compensation`'s `claims_exclusive`).
OVERLAPPING_CLAIMS = """
SELECT a.asset_id, a.product_type, a.batch_id, b.batch_id AS other_batch_id
FROM batch_asset_periods a JOIN batch_asset_periods b
  ON a.asset_id = b.asset_id AND a.product_type = b.product_type AND a.batch_id < b.batch_id
 AND a.period_start <= b.period_end AND b.period_start <= a.period_end
LIMIT 20
"""


class OversightInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.session.execute(text(sql))]
