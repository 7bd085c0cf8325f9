"""One transaction per request, committed before the response leaves.

The middleware owns the session's end. Writes (POST/PUT/PATCH/DELETE) are buffered: a 2xx/3xx
is committed — together with the stored `Idempotency-Key` response — after the response is
rendered and before its first byte is sent, so a 2xx is never sent for work that did not commit;
any 4xx/5xx rolls back. Reads stream as usual and their session is closed (rolled back) after.
"""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
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
from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.service import append_pending_certificates
from market.http.models import IdempotencyRecord
from market.http.repository import IdempotencyRepository
from market.kit.errors import Conflict
from market.kit.time import utcnow

log = structlog.get_logger()
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class IdempotentReplay(Exception):
    """The request repeats an earlier one: answer with the stored response."""

    def __init__(self, status_code: int, body: bytes) -> None:
        super().__init__("idempotent replay")
        self.status_code = status_code
        self.body = body


@dataclass
class PendingWrite:
    session: AsyncSession | None = None
    idempotency_scope: str | None = None
    request_hash: str | None = None


_pending: ContextVar[PendingWrite | None] = ContextVar("pending_write", default=None)


async def _begin_idempotency(
    request: Request[Any, Any, Any], session: AsyncSession, pending: PendingWrite
) -> None:
    key = request.headers.get("idempotency-key")
    if request.method in READ_METHODS or not key:
        return
    auth = request.headers.get("authorization", "")
    scope = hashlib.sha256(f"{auth}\n{key}".encode()).hexdigest()
    body = await request.body()
    request_hash = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    record = await IdempotencyRepository(session).lock_and_get(scope)
    if record is not None:
        if record.request_hash != request_hash:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        raise IdempotentReplay(record.status_code, record.body)
    pending.idempotency_scope = scope
    pending.request_hash = request_hash


async def provide_db_session(request: Request[Any, Any, Any], state: State) -> AsyncSession:
    """The request's session. `TransactionMiddleware` commits it (2xx/3xx) or rolls it back."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("TransactionMiddleware is not installed")
    session: AsyncSession = state.session_factory()
    pending.session = session
    await _begin_idempotency(request, session, pending)
    return session


_FAILED_COMMIT = json.dumps(
    {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "the transaction could not be committed; nothing was changed, retry",
        "code": "commit_failed",
    }
).encode()


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
                    await pending.session.close()
            return
        messages: list[Message] = []

        async def capture(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            if pending.session is not None:
                await pending.session.close()
            raise
        finally:
            _pending.reset(token)
        if pending.session is not None:
            messages = await self._finish(pending, messages)
        for message in messages:
            await send(message)

    @staticmethod
    async def _finish(pending: PendingWrite, messages: list[Message]) -> list[Message]:
        """Commit a successful write (with its idempotency record); roll back anything else."""
        session = pending.session
        assert session is not None
        start = next(m for m in messages if m["type"] == "http.response.start")
        status = int(start["status"])
        try:
            if status >= 400:
                await session.rollback()
                return messages
            untouched = not (session.in_transaction() or session.new or session.dirty)
            if pending.idempotency_scope is None and untouched:
                return messages  # nothing to commit (an order: the sequencer committed it)
            await append_pending_certificates(session)
            if pending.idempotency_scope and pending.request_hash:
                body = b"".join(
                    m.get("body", b"") for m in messages if m["type"] == "http.response.body"
                )
                await IdempotencyRepository(session).add(
                    IdempotencyRecord(
                        scope=pending.idempotency_scope,
                        request_hash=pending.request_hash,
                        status_code=status,
                        body=body,
                        created_at=utcnow(),
                    )
                )
            await session.commit()
            return messages
        except Exception:
            log.exception("commit_failed")
            await session.rollback()
            failed_start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/problem+json")],
            }
            failed_body: HTTPResponseBodyEvent = {
                "type": "http.response.body",
                "body": _FAILED_COMMIT,
                "more_body": False,
            }
            return [failed_start, failed_body]
        finally:
            await session.close()
