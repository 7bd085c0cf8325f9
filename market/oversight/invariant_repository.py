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

# 9 and 10. Every order's life is in its instrument's command log (`trail.py`): an order that
# reached the book was entered by a submit of its own, and a finished one ended at a logged
# command after it — a command of its own (its submit, cancel or expiry), unless another order's
# submit filled it or cancelled it to prevent a self-trade; an expiry is an expire command and an
# order is open exactly while it has no end. An order that never reached the book is a rejection
# with its reason, placed after a logged command (or before the first). Nothing acknowledged is
# missing. (Its fills are its trades: `fills_match_orders`, DOMAIN.md 6.)
ORDER_ROWS_COMPLETE = """
SELECT o.id, o.status, o.entered_seq, o.ended_seq,
       entry.command->>'op' AS entered_by, ending.command->>'op' AS ended_by,
       ending.command->>'order_id' AS ended_by_order
FROM orders o
JOIN instruments i ON i.symbol = o.instrument
LEFT JOIN book_commands entry ON entry.instrument = o.instrument AND entry.seq = o.entered_seq
LEFT JOIN book_commands ending ON ending.instrument = o.instrument AND ending.seq = o.ended_seq
WHERE (o.status IN ('open', 'partially_filled')) <> (o.ended_seq IS NULL)
   OR (o.entered_seq IS NULL AND (o.status <> 'rejected' OR o.reject_reason IS NULL
       OR o.filled_quantity <> 0 OR NOT o.ended_seq BETWEEN 0 AND i.command_seq))
   OR (o.entered_seq IS NOT NULL
       AND (entry.command->>'op' IS DISTINCT FROM 'submit'
            OR entry.command->>'order_id' IS DISTINCT FROM o.id))
   OR (o.entered_seq IS NOT NULL AND o.ended_seq IS NOT NULL
       AND (ending.seq IS NULL OR o.ended_seq < o.entered_seq
            OR (ending.command->>'order_id' IS DISTINCT FROM o.id
                AND o.status <> 'filled'
                AND o.reject_reason IS DISTINCT FROM 'self_trade_prevented')))
   OR (o.status = 'expired' AND ending.command->>'op' IS DISTINCT FROM 'expire')
   OR (ending.command->>'op' = 'expire' AND o.status NOT IN ('expired', 'rejected'))
LIMIT 20
"""

# 10. Every book command names a known order of its instrument, and a submit is its order's
# entry.
BOOK_COMMANDS_BELONG = """
SELECT c.instrument, c.seq, c.command->>'order_id' AS order_id FROM book_commands c
LEFT JOIN orders o ON o.id = c.command->>'order_id'
WHERE o.id IS NULL OR o.instrument <> c.instrument
   OR (c.command->>'op' = 'submit' AND o.entered_seq IS DISTINCT FROM c.seq)
LIMIT 20
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
