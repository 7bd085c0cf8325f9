"""Advisory locks: serialize per key across every process on the database."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession


def lock_key(namespace: str, key: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_xact_lock`."""
    digest = hashlib.blake2b(f"{namespace}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def advisory_xact_lock(session: AsyncSession, namespace: str, *keys: str) -> None:
    """Take transaction-scoped locks on every key, in sorted order (no deadlocks between them).

    Sent as driver SQL: it is the first statement of every order batch, and SQLAlchemy's
    statement handling costs more than the round trip."""
    connection = await session.connection()
    for value in sorted({lock_key(namespace, k) for k in keys}):
        await connection.exec_driver_sql("SELECT pg_advisory_xact_lock($1)", (value,))
