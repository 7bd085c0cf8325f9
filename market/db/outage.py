"""Telling "the database is away" from every other error, and dropping stale connections.

While PostgreSQL is down or restarting, requests must get 503 `database_unavailable` at once
(API.md Conventions), and the pools must not keep handing out connections that died with the
old server: `forget_connections` replaces a pool, so the next checkout connects afresh.
"""

from __future__ import annotations

import time

import asyncpg
import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

RETRY_AFTER_SECONDS = 1
# SQLSTATE classes of a connection lost or refused: 08 connection exception, 57P operator
# intervention (admin/crash shutdown, cannot connect now), 53300 too many connections.
_SQLSTATE_PREFIXES = ("08", "57P", "53300")
_FORGET_EVERY_SECONDS = 0.5


def is_database_unavailable(error: BaseException) -> bool:
    """True when `error` (or what caused it) says the database cannot be reached now."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _unavailable(current):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.orig is not None:
            current = current.orig
        else:
            current = current.__cause__ or current.__context__
    return False


def _unavailable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, asyncpg.InterfaceError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, OSError) and not isinstance(error, FileExistsError):
        return True  # connect(): refused, no such socket file, unreachable
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATE_PREFIXES)


log = structlog.get_logger()
_forgotten_at: dict[int, float] = {}


def handled_as_unavailable(
    error: BaseException, engine: AsyncEngine | None, **context: str
) -> bool:
    """If `error` says the database is away: log it (no traceback), drop `engine`'s pool, and
    return True so the caller answers 503; else False (the caller handles the error)."""
    if not is_database_unavailable(error):
        return False
    log.warning("database_unavailable", error=repr(error), **context)
    if engine is not None:
        forget_connections(engine)
    return True


def forget_connections(engine: AsyncEngine) -> None:
    """Replace `engine`'s pool (at most twice a second): the connections it holds may belong to
    a server that is gone. No I/O: the old pool is dropped, not closed (its sockets are dead)."""
    now = time.monotonic()
    if now - _forgotten_at.get(id(engine), 0.0) < _FORGET_EVERY_SECONDS:
        return
    _forgotten_at[id(engine)] = now
    engine.sync_engine.dispose(close=False)
