"""What a process may remember per database: values that never change once they exist (the
product-type catalog, the platform party), read once per engine instead of once per request —
or that change rarely and are checked where they are used (the active signing keys: a
certificate's INSERT refuses one signed by a key no longer active, see `certification`).

Keyed by the session's engine, so apps (and tests) on different databases never share them.
A loader that returns ORM objects must detach them (`session.expunge`): a later rollback of the
session that loaded them would otherwise expire their attributes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, cast
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

_values: WeakKeyDictionary[Engine, dict[Hashable, object]] = WeakKeyDictionary()


def _engine(session: AsyncSession) -> Engine:
    bind = session.sync_session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def recall(session: AsyncSession, key: Hashable) -> object | None:
    """What is remembered for `key` on the session's database, if anything."""
    return _values.get(_engine(session), {}).get(key)


def remember(session: AsyncSession, key: Hashable, value: object) -> None:
    _values.setdefault(_engine(session), {})[key] = value


def forget(session: AsyncSession, key: Hashable) -> None:
    """Drop a remembered value that turned out stale (read it again next time)."""
    _values.get(_engine(session), {}).pop(key, None)


async def remembered(
    session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T | None]]
) -> T | None:
    """The value remembered for `key`, or what `load` returns (remembered unless None)."""
    values = _values.setdefault(_engine(session), {})
    if key in values:
        return cast(T, values[key])
    value = await load()
    if value is not None:
        values[key] = value
    return value
