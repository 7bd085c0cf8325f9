"""GTD expiry in the background: nudge the sequencer of every instrument with due orders.

Exactness does not depend on this timer: every batch first expires the orders whose
`expires_at` is at or before the batch's timestamp, and all of the batch's trades carry that
timestamp, so an order never trades after it expired.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db.outage import handled_as_unavailable
from market.kit import background
from market.kit.time import utcnow
from market.trading.repository import instruments_with_due_orders
from market.trading.sequencer import Sequencer

log = structlog.get_logger()
INTERVAL_S = 0.5


async def expire_forever(
    sequencer: Sequencer, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    while True:
        await asyncio.sleep(INTERVAL_S)
        try:
            async with session_factory() as session:
                symbols = await instruments_with_due_orders(session, utcnow())
            if symbols:
                await sequencer.expire_due(symbols)
        except Exception as error:  # the next tick tries again
            if not handled_as_unavailable(error, None, where="expiry"):
                log.exception("expiry_tick_failed")


async def expire_block_trades(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Release the units of block trade proposals past their `expires_at` (one transaction)."""
    from market.trading.block_trades import BlockTradeService

    async with session_factory() as session:
        expired = await BlockTradeService(session).expire_due(utcnow())
        if expired:
            await session.commit()
        return expired


async def expire_block_trades_forever(session_factory: async_sessionmaker[AsyncSession]) -> None:
    while True:
        await asyncio.sleep(INTERVAL_S)
        try:
            await expire_block_trades(session_factory)
        except Exception:  # the next tick tries again
            log.exception("block_trade_expiry_failed")


def running(
    sequencer: Sequencer, session_factory: async_sessionmaker[AsyncSession]
) -> contextlib.AbstractAsyncContextManager[None]:
    """GTD expiry and block trade expiry, each on its own timer, while the app runs."""
    return background.running(
        expire_forever(sequencer, session_factory), expire_block_trades_forever(session_factory)
    )
