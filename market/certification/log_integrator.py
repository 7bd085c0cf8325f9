"""The log integrator: appends pending certificates to the Merkle log in groups.

Writers store their certificates pending (`log_index` NULL) in their own transaction, commit,
then `await integrator.integrated(ids)`. One asyncio task per process takes every waiter that
arrived meanwhile and runs one short transaction on its own connection: lock `log_state`, read
every pending certificate (any process's, by `issued_at`, `id`), compute the new nodes with the
pure `merkle` code, store them, index the certificates, move the state, commit. Waiters whose
certificates are indexed then (by this run, or by another process's integrator) are woken.

Several processes may integrate at once: the `log_state` row lock serializes them, and each
takes whatever is pending when it gets the lock. The task also sweeps every `SWEEP_S` seconds,
and `run_once` runs at start-up: a certificate left pending by a crash between a writer's commit
and its append (or whose writer's wait failed) is appended by the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.certification import merkle
from market.certification.repository import LogRepository
from market.certification.service import LogTip
from market.db.outage import handled_as_unavailable

log = structlog.get_logger()
MAX_GROUP = 20_000  # certificates per integrating transaction
SWEEP_S = 1.0  # look for leftovers (a crash, a failed wait) this often
WAIT_S = 10.0  # a writer waits at most this long for its append
ATTEMPTS = 3  # runs after which a waiter whose certificates are still pending fails


class IntegrationFailed(RuntimeError):
    """The certificates were committed but could not be appended now (the next run will)."""


@dataclass(eq=False)
class _Waiter:
    ids: set[str]
    future: asyncio.Future[None]
    attempts: int = field(default=0)


class _CachedTip:
    """The log as this process's integrator last left it: when the locked state still matches
    (size, root; the root pins the peaks), its peaks need not be read again."""

    tip: LogTip | None = None


async def integrate_once(session: AsyncSession, cache: _CachedTip | None = None) -> list[str]:
    """One integrating transaction's work (the caller commits): lock the log, append up to
    `MAX_GROUP` pending certificates. Returns the ids appended (none: nothing was pending)."""
    repository = LogRepository(session)
    size, root, peaks = await repository.lock_tip()
    pending = await repository.pending(MAX_GROUP)
    if not pending:
        return []
    cached = cache.tip if cache is not None else None
    if cached is not None and (cached.size, cached.root) == (size, root):
        tip = cached
    else:
        plan = merkle.root_plan(size)
        missing = [ref for ref in plan if ref not in peaks]
        if missing:  # committed while this transaction waited for the lock
            peaks.update(await repository.fetch(missing))
        if any(ref not in peaks for ref in plan):
            raise RuntimeError(f"the log of size {size} lacks some of its nodes")
        tip = LogTip(size, root, {ref: peaks[ref] for ref in plan})
    nodes, grown = tip.extend([merkle.leaf_hash(canonical) for _, canonical in pending])
    ids = [certificate_id for certificate_id, _ in pending]
    indexed = await repository.integrate((grown.size, grown.root), nodes, ids, size)
    if indexed != len(pending):  # cannot happen while integrators hold the lock to index
        raise RuntimeError(f"indexed {indexed} of {len(pending)} pending certificates")
    if cache is not None:
        cache.tip = grown
    return ids


class LogIntegrator:
    """One per process. `start()` runs it once (crash recovery) and starts its task."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], engine: AsyncEngine | None = None
    ) -> None:
        self.session_factory = session_factory
        self.engine = engine
        self._waiters: list[_Waiter] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cache = _CachedTip()
        self.runs = 0  # integrating transactions that appended something
        self.appended = 0  # certificates appended

    async def start(self) -> None:
        try:
            appended = len(await self.run_once())
            if appended:
                log.warning("log_integrator_recovered", certificates=appended)
        except Exception as error:  # the sweep tries again; serving must not wait for it
            log.warning("log_integrator_start_failed", error=repr(error))
        self._task = asyncio.create_task(self._work())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(IntegrationFailed("the server is stopping"))
        self._waiters.clear()

    async def integrated(self, certificate_ids: list[str]) -> None:
        """Return once every one of `certificate_ids` (committed) is in the log; raise
        `IntegrationFailed` if that cannot be done now."""
        if not certificate_ids:
            return
        if self._task is None:
            raise IntegrationFailed("the log integrator is not running")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(set(certificate_ids), future))
        self._wake.set()
        try:
            await asyncio.wait_for(future, WAIT_S)
        except TimeoutError as error:
            raise IntegrationFailed("the log did not append the certificates in time") from error

    async def run_once(self) -> set[str]:
        """Append everything pending now, in transactions of up to `MAX_GROUP`: the ids."""
        total: set[str] = set()
        while True:
            async with self.session_factory() as session:
                try:
                    appended = await integrate_once(session, self._cache)
                    if appended:
                        await session.commit()
                    else:
                        await session.rollback()
                except BaseException:
                    self._cache.tip = None
                    with contextlib.suppress(Exception):
                        await session.rollback()
                    raise
            if appended:
                self.runs += 1
                self.appended += len(appended)
            total.update(appended)
            if len(appended) < MAX_GROUP:
                return total

    async def _has_pending(self) -> bool:
        async with self.session_factory() as session:
            found = await LogRepository(session).has_pending()
            await session.rollback()
            return found

    async def _indexed(self, certificate_ids: set[str]) -> set[str]:
        async with self.session_factory() as session:
            found = await LogRepository(session).indexed(sorted(certificate_ids))
            await session.rollback()
            return found

    async def _work(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SWEEP_S)
            self._wake.clear()
            waiters, self._waiters = self._waiters, []
            waiters = [w for w in waiters if not w.future.done()]
            try:
                done: set[str] = set()
                if waiters or await self._has_pending():
                    done = await self.run_once()
                wanted = set().union(*(w.ids for w in waiters)) - done
                if wanted:  # appended by another process's integrator
                    done |= await self._indexed(wanted)
            except Exception as error:  # every waiter learns of it; the sweep tries again
                if not handled_as_unavailable(error, self.engine, where="log_integration"):
                    log.exception("log_integration_failed")
                failure = IntegrationFailed(f"the log could not append now: {error!r}")
                for waiter in waiters:
                    if not waiter.future.done():
                        waiter.future.set_exception(failure)
                continue
            for waiter in waiters:
                if waiter.ids <= done:
                    waiter.future.set_result(None)
                    continue
                waiter.attempts += 1
                if waiter.attempts >= ATTEMPTS:
                    missing = ", ".join(sorted(waiter.ids - done)[:3])
                    waiter.future.set_exception(
                        IntegrationFailed(f"certificates not found pending or logged: {missing}")
                    )
                else:  # not visible yet (cannot happen after the writer's commit): once more
                    self._waiters.append(waiter)
                    self._wake.set()
