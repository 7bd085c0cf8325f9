"""The session's asyncpg connection, inside the session's transaction, for hot paths.

SQLAlchemy's statement building and result processing cost more Python time than the
PostgreSQL round trip for the small statements of an order batch; hot repositories talk to
asyncpg directly through this, in the same transaction as everything else the session does.

- Pending ORM changes are flushed first (what SQLAlchemy's autoflush would have done).
- PostgreSQL errors are raised as SQLAlchemy's `DBAPIError` (`IntegrityError` for constraint
  violations), as the session would have raised them: callers and the sequencer's retry test
  know those, not asyncpg's.
- On these connections (SQLAlchemy's asyncpg dialect sets the codecs) `json`/`jsonb`
  parameters are passed as JSON *text* and come back decoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, cast

import asyncpg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator, TypeEngine

# Most specific first: BigInteger is an Integer.
_SQL_TYPES: tuple[tuple[type[TypeEngine[Any]], str], ...] = (
    (JSONB, "jsonb"),
    (String, "text"),
    (BigInteger, "bigint"),
    (Integer, "integer"),
    (Numeric, "numeric"),
    (Boolean, "boolean"),
    (DateTime, "timestamptz"),
    (Date, "date"),
    (LargeBinary, "bytea"),
)


def columns(rows: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> list[list[Any]]:
    """Rows as one list per key: the arrays a statement `unnest`s."""
    return [[row[key] for row in rows] for key in keys]


def attribute_columns(rows: Sequence[object], names: Sequence[str]) -> list[list[Any]]:
    """Objects as one list per attribute: the arrays a statement `unnest`s."""
    if not rows:
        return [[] for _ in names]
    if len(names) == 1:
        return [list(map(attrgetter(names[0]), rows))]
    return [list(values) for values in zip(*map(attrgetter(*names), rows), strict=True)]


def typed_columns(table: Table, names: Iterable[str]) -> list[tuple[str, str]]:
    """(column, PostgreSQL type) of `table`'s columns `names`, in the order given."""
    typed: list[tuple[str, str]] = []
    for name in names:
        column_type = table.columns[name].type
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        sql_type = next((t for kind, t in _SQL_TYPES if isinstance(column_type, kind)), None)
        if sql_type is None:
            raise TypeError(f"no array type for {table.name}.{name} ({column_type!r})")
        if sql_type == "timestamptz" and not getattr(column_type, "timezone", False):
            sql_type = "timestamp"
        typed.append((name, sql_type))
    return typed


def parameters(first: int, count: int) -> list[str]:
    """`count` numbered parameters from `first`: `["$1", "$2"]`."""
    return [f"${first + n}" for n in range(count)]


def unnest(columns: Sequence[tuple[str, str]], first: int) -> tuple[str, int]:
    """`unnest($first::type[], ...)`, one array parameter per (column, type), numbered from
    `first`; and the next free parameter number. JSON columns travel as text (as every JSON
    parameter on these connections) and are cast on the server."""
    arrays = [
        f"${first + n}::text[]::{sql_type}[]"
        if sql_type in ("json", "jsonb")
        else f"${first + n}::{sql_type}[]"
        for n, (_, sql_type) in enumerate(columns)
    ]
    return f"unnest({', '.join(arrays)})", first + len(columns)


def database_error(statement: str, error: asyncpg.PostgresError) -> DBAPIError:
    if isinstance(error, asyncpg.IntegrityConstraintViolationError):
        return IntegrityError(statement, None, error)
    return DBAPIError(statement, None, error)


class RawConnection:
    """asyncpg's fetch/fetchrow/fetchval/execute, with errors raised as SQLAlchemy's."""

    __slots__ = ("connection",)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def fetch(self, statement: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return cast(list[asyncpg.Record], await self.connection.fetch(statement, *args))
        except asyncpg.PostgresError as error:
            raise database_error(statement, error) from error

    async def fetchrow(self, statement: str, *args: Any) -> asyncpg.Record | None:
        try:
            return await self.connection.fetchrow(statement, *args)
        except asyncpg.PostgresError as error:
            raise database_error(statement, error) from error

    async def fetchval(self, statement: str, *args: Any) -> Any:
        try:
            return await self.connection.fetchval(statement, *args)
        except asyncpg.PostgresError as error:
            raise database_error(statement, error) from error

    async def execute(self, statement: str, *args: Any) -> str:
        try:
            return cast(str, await self.connection.execute(statement, *args))
        except asyncpg.PostgresError as error:
            raise database_error(statement, error) from error


async def raw_connection(session: AsyncSession) -> RawConnection:
    """The asyncpg connection of `session`, with the session's transaction begun on it and
    the session's pending changes flushed."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    if getattr(adapted, "_transaction", None) is None:
        # SQLAlchemy's adapter sends BEGIN lazily, before the first statement it runs itself:
        # send it now, through the adapter (which then knows its transaction is open).
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
    return RawConnection(fairy.driver_connection)
