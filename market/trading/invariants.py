"""DOMAIN.md invariants 5 (reservations match), 6 (book sane) and 7 (settled and certified)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.invariants import Check, check_from_rows
from market.trading import invariant_repository as sql
from market.trading.invariant_repository import TradingInvariantRepository
from market.trading.models import APPEND_ONLY_TABLES


async def trading_checks(session: AsyncSession, with_trigger: set[str]) -> list[Check]:
    repo = TradingInvariantRepository(session)
    missing = sorted(set(APPEND_ONLY_TABLES) - with_trigger)
    return [
        check_from_rows("reserved_cash_matches_orders", await repo.rows(sql.RESERVED_CASH_MATCHES)),
        check_from_rows("escrowed_units_match_orders", await repo.rows(sql.ESCROWED_UNITS_MATCH)),
        check_from_rows(
            "order_escrow_matches_ranges", await repo.rows(sql.ORDER_ESCROW_MATCHES_RANGES)
        ),
        check_from_rows(
            "deal_escrow_matches_ranges", await repo.rows(sql.DEAL_ESCROW_MATCHES_RANGES)
        ),
        check_from_rows("book_not_crossed", await repo.rows(sql.BOOK_CROSSED)),
        check_from_rows("fills_match_orders", await repo.rows(sql.FILLS_MATCH_ORDERS)),
        check_from_rows("block_trades_match_trades", await repo.rows(sql.BLOCK_TRADES_MATCH)),
        check_from_rows("auction_trades_match_bids", await repo.rows(sql.AUCTION_TRADES_MATCH)),
        check_from_rows(
            "trades_at_maker_price_no_self_trade", await repo.rows(sql.TRADES_AT_MAKER_PRICE)
        ),
        check_from_rows("trade_seq_gap_free", await repo.rows(sql.TRADE_SEQ_GAP_FREE)),
        check_from_rows("trades_settled_and_certified", await repo.rows(sql.SETTLED_AND_CERTIFIED)),
        Check(
            name="trading_append_only",
            ok=not missing,
            detail="order events, book commands and trades refuse UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]
