"""The session's asyncpg connection, inside the session's transaction, for hot paths.

SQLAlchemy's statement building and result processing cost more Python time than the
PostgreSQL round trip for the small statements of an order batch; hot repositories talk to
asyncpg directly through this, in the same transaction as everything else the session does.

On these connections (SQLAlchemy's asyncpg dialect sets the codecs) `json`/`jsonb` parameters
are passed as JSON *text* and come back decoded.
"""

from __future__ import annotations

from typing import Any, cast

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession


async def raw_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection of `session`, with the session's transaction begun on it."""
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    if getattr(adapted, "_transaction", None) is None:
        # asyncpg's BEGIN is sent lazily with the first statement SQLAlchemy runs: run one.
        await connection.exec_driver_sql("SELECT 1")
    return cast(asyncpg.Connection, fairy.driver_connection)
