"""SQL for the trading invariants (DOMAIN.md 5, 6, 7): each query returns the violations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

BOOK_CROSSED = """
SELECT b.instrument, b.best_bid, a.best_ask
FROM (SELECT instrument, MAX(price_fen) AS best_bid FROM orders
      WHERE side = 'buy' AND status IN ('open', 'partially_filled') AND engine_seq IS NOT NULL
      GROUP BY instrument) b
JOIN (SELECT instrument, MIN(price_fen) AS best_ask FROM orders
      WHERE side = 'sell' AND status IN ('open', 'partially_filled') AND engine_seq IS NOT NULL
      GROUP BY instrument) a ON a.instrument = b.instrument
WHERE b.best_bid >= a.best_ask
"""

FILLS_MATCH_ORDERS = """
SELECT o.id, o.quantity, o.filled_quantity, COALESCE(f.filled, 0) AS trade_total
FROM orders o
LEFT JOIN (
    SELECT order_id, SUM(quantity) AS filled FROM (
        SELECT buy_order_id AS order_id, quantity FROM trades
        UNION ALL SELECT sell_order_id, quantity FROM trades) x GROUP BY order_id
) f ON f.order_id = o.id
WHERE o.filled_quantity <> COALESCE(f.filled, 0) OR o.filled_quantity > o.quantity
   OR (o.status IN ('open', 'partially_filled')
       AND o.remaining_quantity <> o.quantity - o.filled_quantity)
LIMIT 20
"""

TRADES_AT_MAKER_PRICE = """
SELECT t.id FROM trades t JOIN orders m ON m.id = t.maker_order_id
WHERE t.kind = 'continuous'
  AND (m.price_fen IS DISTINCT FROM t.price_fen OR t.buyer_id = t.seller_id)
LIMIT 20
"""

TRADE_SEQ_GAP_FREE = """
SELECT instrument, COUNT(*) AS n, MIN(seq) AS first, MAX(seq) AS last
FROM trades GROUP BY instrument
HAVING COUNT(*) <> MAX(seq) - MIN(seq) + 1 OR MIN(seq) <> 1
"""

SETTLED_AND_CERTIFIED = """
SELECT t.id FROM trades t
LEFT JOIN settlements s ON s.trade_id = t.id
LEFT JOIN certificates c ON c.id = t.certificate_id AND c.subject_id = t.id AND c.kind = 'trade'
WHERE s.id IS NULL OR c.id IS NULL
LIMIT 20
"""

RESERVED_CASH_MATCHES = """
WITH held AS (
    SELECT party_id, SUM(reserved_cash_fen) AS amount FROM orders
    WHERE status IN ('open', 'partially_filled') GROUP BY party_id
    UNION ALL
    SELECT t.buyer_id, SUM(s.cash_amount_fen + s.buyer_fee_fen) FROM settlements s
    JOIN trades t ON t.id = s.trade_id WHERE s.status = 'pending_approval' GROUP BY t.buyer_id
    UNION ALL
    SELECT party_id, SUM(amount) FROM withdrawals WHERE status = 'pending' GROUP BY party_id
), total AS (SELECT party_id, SUM(amount) AS amount FROM held GROUP BY party_id)
SELECT c.party_id, c.reserved, COALESCE(t.amount, 0) AS expected
FROM cash_accounts c FULL JOIN total t ON t.party_id = c.party_id
WHERE COALESCE(c.reserved, 0) <> COALESCE(t.amount, 0)
LIMIT 20
"""

ESCROWED_UNITS_MATCH = """
WITH held AS (
    SELECT party_id, SUM(escrowed_units) AS units FROM orders
    WHERE side = 'sell' AND status IN ('open', 'partially_filled') GROUP BY party_id
    UNION ALL
    SELECT from_party_id, SUM(quantity) FROM transfers WHERE status = 'pending_approval'
    GROUP BY from_party_id
    UNION ALL
    SELECT t.seller_id, SUM(t.quantity) FROM settlements s JOIN trades t ON t.id = s.trade_id
    WHERE s.status = 'pending_approval' GROUP BY t.seller_id
), total AS (SELECT party_id, SUM(units) AS units FROM held GROUP BY party_id),
escrowed AS (SELECT party_id, SUM(escrowed) AS units FROM holdings GROUP BY party_id)
SELECT e.party_id, e.units, COALESCE(t.units, 0) AS expected
FROM escrowed e FULL JOIN total t ON t.party_id = e.party_id
WHERE COALESCE(e.units, 0) <> COALESCE(t.units, 0)
LIMIT 20
"""

ORDER_ESCROW_MATCHES_RANGES = """
SELECT o.id, o.escrowed_units, COALESCE(r.units, 0) AS in_ranges
FROM orders o LEFT JOIN (
    SELECT hold_ref, SUM(serial_end - serial_start + 1) AS units FROM unit_ranges
    WHERE bucket = 'escrowed' AND hold_ref IS NOT NULL GROUP BY hold_ref
) r ON r.hold_ref = o.id
WHERE o.side = 'sell' AND o.escrowed_units <> COALESCE(r.units, 0)
LIMIT 20
"""


class TradingInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.session.execute(text(sql))]
