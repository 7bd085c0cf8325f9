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
    UNION ALL
    SELECT party_id, SUM(reserved_cash_fen) FROM auction_bids WHERE status = 'open'
    GROUP BY party_id
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
    UNION ALL
    SELECT seller_id, SUM(quantity) FROM block_trades WHERE status = 'proposed'
    GROUP BY seller_id
    UNION ALL
    SELECT seller_id, SUM(quantity) FROM auctions WHERE status = 'open' GROUP BY seller_id
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


# Block trades and auctions hold the seller's units under their own id while open.
DEAL_ESCROW_MATCHES_RANGES = """
WITH deals AS (
    SELECT id, CASE WHEN status = 'proposed' THEN quantity ELSE 0 END AS expected
    FROM block_trades
    UNION ALL
    SELECT id, CASE WHEN status = 'open' THEN quantity ELSE 0 END FROM auctions
)
SELECT d.id, d.expected, COALESCE(r.units, 0) AS in_ranges
FROM deals d LEFT JOIN (
    SELECT hold_ref, SUM(serial_end - serial_start + 1) AS units FROM unit_ranges
    WHERE bucket = 'escrowed' AND hold_ref IS NOT NULL GROUP BY hold_ref
) r ON r.hold_ref = d.id
WHERE d.expected <> COALESCE(r.units, 0)
LIMIT 20
"""

# "Fills match orders" for block trades: an accepted proposal is exactly one trade of kind
# `block` with its price, quantity and parties (both order ids are the proposal's id), and
# every block trade belongs to an accepted proposal.
BLOCK_TRADES_MATCH = """
SELECT b.id AS block_trade_id, t.id AS trade_id
FROM block_trades b FULL JOIN (SELECT * FROM trades WHERE kind = 'block') t
     ON t.id = b.trade_id
WHERE (b.id IS NULL AND t.id IS NOT NULL)
   OR (b.status = 'accepted' AND (
       t.id IS NULL OR t.buy_order_id <> b.id OR t.sell_order_id <> b.id
       OR t.instrument <> b.instrument OR t.price_fen <> b.price_fen
       OR t.quantity <> b.quantity OR t.buyer_id <> b.buyer_id OR t.seller_id <> b.seller_id))
LIMIT 20
"""

# "Fills match orders" for auctions: every auction trade is one winning bid's allocation at
# the auction's clearing price (buy order id = the bid, sell order id = the auction); a bid
# has a trade exactly when it won units, holds its reservation (price × quantity + maximum
# buyer fee) only while the auction is open, is never below the reserve, and a winning bid is
# never below the clearing price; an auction sold what its bids were filled.
AUCTION_TRADES_MATCH = """
SELECT 'trade' AS what, t.id FROM trades t
LEFT JOIN auction_bids bd ON bd.trade_id = t.id
LEFT JOIN auctions a ON a.id = bd.auction_id
WHERE t.kind = 'auction' AND (
    bd.id IS NULL OR a.status <> 'closed' OR t.buy_order_id <> bd.id
    OR t.sell_order_id <> a.id OR t.instrument <> a.instrument
    OR t.price_fen IS DISTINCT FROM a.clearing_price_fen OR t.quantity <> bd.filled_quantity
    OR t.buyer_id <> bd.party_id OR t.seller_id <> a.seller_id)
UNION ALL
SELECT 'bid', bd.id FROM auction_bids bd
JOIN auctions a ON a.id = bd.auction_id JOIN instruments i ON i.symbol = a.instrument
WHERE (bd.filled_quantity > 0) <> (bd.trade_id IS NOT NULL)
   OR (bd.status = 'open') <> (a.status = 'open')
   OR (bd.status = 'open' AND bd.reserved_cash_fen <> bd.price_fen * bd.quantity
       + bd.price_fen * bd.quantity * i.buyer_fee_bps / 10000)
   OR (bd.status <> 'open' AND bd.reserved_cash_fen <> 0)
   OR bd.price_fen < a.reserve_price_fen
   OR (bd.filled_quantity > 0 AND bd.price_fen < a.clearing_price_fen)
UNION ALL
SELECT 'auction', a.id FROM auctions a
LEFT JOIN (SELECT auction_id, SUM(filled_quantity) AS sold FROM auction_bids
           GROUP BY auction_id) s ON s.auction_id = a.id
WHERE a.sold_quantity <> COALESCE(s.sold, 0)
LIMIT 20
"""


class TradingInvariantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def rows(self, sql: str) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await self.session.execute(text(sql))]
