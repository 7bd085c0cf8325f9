"""One transaction per request, committed before the response leaves.

The middleware owns the session's end. Writes (POST/PUT/PATCH/DELETE) are buffered: a 2xx/3xx
is committed — together with the stored `Idempotency-Key` response — after the response is
rendered and before its first byte is sent, so a 2xx is never sent for work that did not commit;
any 4xx/5xx rolls back. Reads stream as usual and their session is closed (rolled back) after.
"""

from __future__ import annotations

import contextlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.certification.log_integrator import LogIntegrator
from market.certification.service import stored_certificate_ids
from market.db.outage import RETRY_AFTER_SECONDS, handled_as_unavailable
from market.http.idempotency import (
    IdempotencyClaim,
    IdempotencyKeyInUse,
    IdempotentReplay,
    StoredResponse,
    claim_for,
    replay_or_refuse,
)
from market.http.repository import IdempotencyRepository
from market.kit.time import utcnow

log = structlog.get_logger()
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class PendingWrite:
    session: AsyncSession | None = None
    idempotency: IdempotencyClaim | None = None


_pending: ContextVar[PendingWrite | None] = ContextVar("pending_write", default=None)


async def _begin_idempotency(
    request: Request[Any, Any, Any], session: AsyncSession, pending: PendingWrite
) -> None:
    """Replay a stored first response, refuse a reused key, or claim the key for this
    transaction (409 `idempotency_key_in_use` while another request holds it)."""
    key = request.headers.get("idempotency-key")
    if request.method in READ_METHODS or not key:
        return
    claim = claim_for(
        request.headers.get("authorization", ""),
        key,
        request.method,
        request.url.path,
        await request.body(),
    )
    repository = IdempotencyRepository(session)
    if not await repository.try_lock(claim.scope):
        raise IdempotencyKeyInUse("a request with this Idempotency-Key is still running")
    stored = (await repository.fetch([claim.scope])).get(claim.scope)
    if stored is not None:
        raise IdempotentReplay(replay_or_refuse(claim, stored))
    pending.idempotency = claim


def take_idempotency() -> IdempotencyClaim | None:
    """Hand this request's `Idempotency-Key` to code that stores the response in the
    transaction of its own effect (the order sequencer): the middleware will not store it."""
    pending = _pending.get()
    if pending is None:
        return None
    claim, pending.idempotency = pending.idempotency, None
    return claim


async def provide_db_session(request: Request[Any, Any, Any], state: State) -> AsyncSession:
    """The request's session. `TransactionMiddleware` commits it (2xx/3xx) or rolls it back."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("TransactionMiddleware is not installed")
    session: AsyncSession = state.session_factory()
    pending.session = session
    await _begin_idempotency(request, session, pending)
    return session


def _problem_messages(
    status: int, code: str, detail: str, *, retry_after: bool = False
) -> list[Message]:
    """A problem-details answer as ASGI messages (sent after Litestar has finished: the commit
    is this middleware's)."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail, "code": code}  # fmt: skip
    headers = [(b"content-type", b"application/problem+json")]
    if retry_after:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": status,
                                     "headers": headers}  # fmt: skip
    end: HTTPResponseBodyEvent = {
        "type": "http.response.body", "body": json.dumps(body).encode(), "more_body": False
    }  # fmt: skip
    return [start, end]


class TransactionMiddleware:
    """Commit write requests after the response is rendered and before it is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        pending = PendingWrite()
        token = _pending.set(pending)
        if scope.get("method") in READ_METHODS:
            try:
                await self.app(scope, receive, send)
            finally:
                _pending.reset(token)
                if pending.session is not None:
                    await _close(pending.session)
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if pending.session is not None:
                await _close(pending.session)
            raise
        finally:
            _pending.reset(token)
        if pending.session is not None:
            state = scope["app"].state
            messages = await self._finish(pending, messages, state.engine, state.integrator)
        for message in messages:
            await send(message)

    @staticmethod
    async def _finish(
        pending: PendingWrite,
        messages: list[Message],
        engine: AsyncEngine,
        integrator: LogIntegrator,
    ) -> list[Message]:
        """Commit a successful write (with its idempotency record; the commit stores its
        certificates), then wait until the log appended them; roll back anything else."""
        session = pending.session
        assert session is not None
        start = next(m for m in messages if m["type"] == "http.response.start")
        status = int(start["status"])
        try:
            if status >= 400:
                await session.rollback()
                return messages
            untouched = not (session.in_transaction() or session.new or session.dirty)
            if pending.idempotency is None and untouched:
                return messages  # nothing to commit (an order: the sequencer committed it)
            if pending.idempotency is not None:
                body = b"".join(
                    m.get("body", b"") for m in messages if m["type"] == "http.response.body"
                )
                stored = await IdempotencyRepository(session).store(
                    [(pending.idempotency, StoredResponse(status, body))], utcnow()
                )
                if not stored:  # cannot happen while the key's lock is held; never a 5xx
                    await session.rollback()
                    return _problem_messages(
                        409,
                        "idempotency_key_in_use",
                        "a request with this Idempotency-Key is still running",
                    )
            await session.commit()
        except Exception as error:
            with contextlib.suppress(Exception):
                await session.rollback()
            if handled_as_unavailable(error, engine):
                return _problem_messages(
                    503,
                    "database_unavailable",
                    "the database cannot be reached; nothing was changed, retry",
                    retry_after=True,
                )
            log.exception("commit_failed")
            return _problem_messages(
                503,
                "commit_failed",
                "the transaction could not be committed; nothing was changed, retry",
            )
        finally:
            certificate_ids = stored_certificate_ids(session)
            await _close(session)
        try:
            await integrator.integrated(certificate_ids)
        except Exception as error:
            log.warning("certificates_not_yet_logged", error=repr(error))
            # The write committed, but its certificates could not be appended to the log at once:
            # the effect stands, the next integrator run appends them, and a retry with the same
            # Idempotency-Key gets the stored response.
            return _problem_messages(
                503,
                "database_unavailable",
                "the change was committed but its certificate is not in the log yet; "
                "retry with the same Idempotency-Key to get the stored response",
                retry_after=True,
            )
        return messages


async def _close(session: AsyncSession) -> None:
    """Close a session whatever became of its connection (a dead one is discarded)."""
    with contextlib.suppress(Exception):
        await session.close()
