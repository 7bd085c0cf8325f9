"""The invariant watch: every `market_invariant_interval_s` one worker runs every invariant; on
a violation it halts every open instrument and raises an `invariant_violation` alert (one per
set of failing checks until a regulator reviews it).

Every worker runs the loop; the run takes an advisory lock and records when it last ran, so
the checks run once per interval whatever the number of workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.kit import background
from market.kit.ids import new_id
from market.kit.invariants import InvariantReport
from market.kit.time import isoformat, utcnow
from market.oversight.detectors import Finding
from market.oversight.invariants import run_invariants
from market.oversight.repository import OversightRepository
from market.trading.instrument_service import InstrumentService

log = structlog.get_logger()
WATCH = "invariants"
TICK_S = 5.0
CONFIRM_AFTER_S = 2.0
MAX_DETAIL = 4_000


async def invariant_watch_pass(
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    interval: timedelta | None = None,
    wait: bool = False,
    confirm_after_s: float = CONFIRM_AFTER_S,
) -> InvariantReport | None:
    """Run the invariants unless another worker is running them or they ran within
    `interval`; on a violation confirmed by a second run, halt trading and raise the alert.
    None when it did not run."""
    async with session_factory() as session:
        repo = OversightRepository(session)
        if not await repo.lock(WATCH, wait=wait):
            return None
        now = utcnow()
        last = await repo.last_run(WATCH)
        if interval is not None and last is not None and now - last < interval:
            return None
        result = await run_invariants(engine)
        if not result.ok and confirm_after_s > 0:
            # A violation must be seen twice, a moment apart, before trading stops: a state
            # caught between two commits of one logical write (should any exist) clears itself.
            await asyncio.sleep(confirm_after_s)
            result = await run_invariants(engine)
            if result.ok:
                log.warning("invariant_violation_not_confirmed")
        if not result.ok:
            failed = [c for c in result.checks if not c.ok]
            halted = await InstrumentService(session).halt_all()
            names = ",".join(sorted(c.name for c in failed))
            prefix = f"invariant_violation:{names}:"
            if await repo.open_alert_with_key_prefix("invariant_violation", prefix) is None:
                detail = "; ".join(f"{c.name}: {c.detail}" for c in failed)
                await repo.record(
                    Finding(
                        kind="invariant_violation",
                        severity="critical",
                        instrument=None,
                        parties=[],
                        trade_ids=[],
                        order_ids=[],
                        detail=(
                            f"{len(failed)} invariant check(s) failed; trading halted "
                            f"({len(halted)} instrument(s)): {detail}"
                        )[:MAX_DETAIL],
                        dedupe_key=prefix + isoformat(now),
                        observed_at=now,
                        facts={"failed": names, "halted": ",".join(halted)},
                    ),
                    new_id("alr"),
                    now,
                )
            log.error("invariant_violation", failed=names, halted=halted)
        await repo.mark_run(WATCH, now, result.ok)
        await session.commit()
    return result


async def watch_forever(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], interval_s: float
) -> None:
    interval = timedelta(seconds=interval_s)
    while True:
        await asyncio.sleep(min(TICK_S, interval_s))
        try:
            await invariant_watch_pass(engine, session_factory, interval=interval)
        except Exception:  # the next tick tries again
            log.exception("invariant_watch_failed")


def running(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], interval_s: float
) -> contextlib.AbstractAsyncContextManager[None]:
    """The loop while the app runs (nothing when `interval_s` is 0)."""
    return background.running(
        *([watch_forever(engine, session_factory, interval_s)] if interval_s > 0 else [])
    )
