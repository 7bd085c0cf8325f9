"""GTD expiry in the background: nudge the sequencer of every instrument with due orders, and
expire the block trade proposals that are due.

Exactness does not depend on this timer: every batch first expires the orders whose
`expires_at` is at or before the batch's timestamp, and all of the batch's trades carry that
timestamp, so an order never trades after it expired.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.kit.time import utcnow
from market.trading.block_trades import BlockTradeService
from market.trading.repository import instruments_with_due_orders
from market.trading.sequencer import Sequencer

log = structlog.get_logger()
INTERVAL_S = 0.5


async def expire_block_trades(session_factory: async_sessionmaker[AsyncSession]) -> int:
    """Release the units of block trade proposals that expired (one transaction)."""
    async with session_factory() as session:
        expired = await BlockTradeService(session).expire_due(utcnow())
        if expired:
            await session.commit()
        return expired


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
            await expire_block_trades(session_factory)
        except Exception:  # the next tick tries again
            log.exception("expiry_tick_failed")


@contextlib.asynccontextmanager
async def running(sequencer: Sequencer, session_factory: async_sessionmaker[AsyncSession]):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(expire_forever(sequencer, session_factory))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
