"""Group commit per instrument: one writer task per instrument in each process.

Commands that arrive while the previous batch is committing wait in the instrument's queue and
then run together in one transaction (under the instrument's advisory lock, so processes
take turns), so the cost per order falls as load rises. Nothing is acknowledged before its
batch committed and the log integrator appended its certificates (a 2xx means "in the log"):
a committed batch's answers wait for the integrator in a task of their own while the next batch
of the instrument already runs (the log orders pending certificates itself). A failed batch is
retried command by command; a stale optimistic read
(a refused move, a CHECK, a deadlock: a database error) is retried a few times.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.certification.log_integrator import IntegrationFailed, LogIntegrator
from market.certification.service import stored_certificate_ids
from market.db.outage import handled_as_unavailable, is_database_unavailable
from market.kit.errors import DatabaseUnavailable, DomainError
from market.registry.errors import InsufficientUnits
from market.trading.batch_commands import BatchCommand, ExpireDue
from market.trading.books import BookRegistry
from market.trading.order_batch import OrderBatch
from market.trading.order_responses import store_order_responses

log = structlog.get_logger()
MAX_BATCH = 256
RETRIES = 4


class Sequencer:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        integrator: LogIntegrator,
    ) -> None:
        self.session_factory = session_factory
        self.engine = engine
        self.integrator = integrator
        self.books = BookRegistry()
        self._queues: dict[str, asyncio.Queue[tuple[BatchCommand, asyncio.Future[object]]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._deliveries: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.commands = 0

    async def submit(self, symbol: str, command: BatchCommand) -> object:
        """Queue a command for its instrument and wait until its batch committed."""
        queue = self._queues.get(symbol)
        if queue is None:
            queue = self._queues[symbol] = asyncio.Queue()
            self._workers[symbol] = asyncio.create_task(self._work(symbol, queue))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        queue.put_nowait((command, future))
        return await future

    async def close(self) -> None:
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers.clear()
        self._queues.clear()
        for delivery in list(self._deliveries):  # committed: let them answer
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await delivery

    async def _work(
        self, symbol: str, queue: asyncio.Queue[tuple[BatchCommand, asyncio.Future[object]]]
    ) -> None:
        while True:
            batch = [await queue.get()]
            await asyncio.sleep(0)  # let requests already parsed join this batch
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            commands = [command for command, _ in batch]
            stored: list[str] = []  # the certificates the batch's commits stored
            try:
                results = await self._run(symbol, commands, stored)
            except Exception as error:  # keep the worker alive; every waiter learns of it
                log.exception("batch_failed", symbol=symbol)
                results = [error] * len(batch)
            if not stored:
                self._resolve(batch, results)
                continue
            delivery = asyncio.create_task(self._deliver(symbol, batch, results, stored))
            self._deliveries.add(delivery)
            delivery.add_done_callback(self._deliveries.discard)

    async def _deliver(
        self,
        symbol: str,
        batch: list[tuple[BatchCommand, asyncio.Future[object]]],
        results: list[object],
        stored: list[str],
    ) -> None:
        """Answer a committed batch once the log appended its certificates; if that fails, its
        effect stands and every answer is a 503 (a retry gets the stored response)."""
        try:
            await self.integrator.integrated(stored)
        except IntegrationFailed as error:
            log.warning("batch_not_yet_logged", symbol=symbol, error=repr(error))
            results = [DatabaseUnavailable(NOT_YET_LOGGED) for _ in batch]
        self._resolve(batch, results)

    @staticmethod
    def _resolve(
        batch: list[tuple[BatchCommand, asyncio.Future[object]]], results: list[object]
    ) -> None:
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException) and not isinstance(result, DomainError):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run(
        self, symbol: str, commands: list[BatchCommand], stored: list[str]
    ) -> list[object]:
        try:
            return await self._transaction(symbol, commands, stored)
        except Exception as error:
            self.books.invalidate(symbol)
            if handled_as_unavailable(error, self.engine, symbol=symbol):
                return [error] * len(commands)  # answer at once: 503, nothing was changed
            if len(commands) > 1:
                log.warning(
                    "batch_retried_singly", symbol=symbol, size=len(commands), error=repr(error)
                )
                results: list[object] = []
                for command in commands:
                    results.extend(await self._run(symbol, [command], stored))
                return results
            return [await self._retry_single(symbol, commands[0], error, stored)]

    async def _retry_single(
        self, symbol: str, command: BatchCommand, error: Exception, stored: list[str]
    ) -> object:
        for attempt in range(RETRIES):
            if not _retryable(error) or is_database_unavailable(error):
                break
            await asyncio.sleep(0.005 * (attempt + 1))
            try:
                return (await self._transaction(symbol, [command], stored))[0]
            except Exception as again:
                self.books.invalidate(symbol)
                error = again
        log.error(
            "command_failed", symbol=symbol, command=type(command).__name__, error=repr(error)
        )
        return error

    async def _transaction(
        self, symbol: str, commands: list[BatchCommand], stored: list[str]
    ) -> list[object]:
        async with self.session_factory() as session:
            batch = OrderBatch(session, self.books)
            try:
                results = await batch.run(symbol, commands)
                results = await store_order_responses(session, commands, results)
                await session.commit()  # stores the batch's certificates (pre-commit step)
            except BaseException:
                await session.rollback()
                raise
            stored.extend(stored_certificate_ids(session))
        if getattr(batch, "instrument", None) is not None:
            self.books.mark_applied(symbol, batch.instrument.command_seq)
        self.batches += 1
        self.commands += len(commands)
        return results

    async def expire_due(self, symbols: list[str]) -> None:
        await asyncio.gather(
            *(self.submit(s, ExpireDue()) for s in symbols), return_exceptions=True
        )


NOT_YET_LOGGED = (
    "the orders were committed but their certificates are not in the log yet; "
    "retry with the same Idempotency-Key or client_order_id to get the stored response"
)


def _retryable(error: Exception) -> bool:
    """A stale read: a move the units refused, or a database error (a CHECK, a deadlock)."""
    return isinstance(error, InsufficientUnits | DBAPIError)
