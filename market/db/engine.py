"""The async engine and session factory; one transaction per request."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from market.db.unit_of_work import UnitOfWorkSession

# While the database is away a request must fail within a few seconds, never hang: a new
# connection gets CONNECT_TIMEOUT seconds, a request waiting for a pooled one POOL_TIMEOUT.
CONNECT_TIMEOUT = 2
POOL_TIMEOUT = 3


def async_url(url: str) -> str:
    """Any `postgresql://` URL (including pgserver's socket form) as an asyncpg URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(
    url: str, pool_size: int = 10, server_settings: dict[str, str] | None = None
) -> AsyncEngine:
    """A pool that keeps its connections and opens no more than `pool_size`: an overflow
    connection is closed when it comes back to a full pool, and under a load that keeps more
    requests in flight than the pool holds that meant a new connection (TCP, authentication,
    type introspection: more than the request itself) for one request in five, where a short
    wait for a pooled one costs less. `server_settings` are PostgreSQL settings for every
    connection of the pool."""
    connect_args: dict[str, object] = {"timeout": CONNECT_TIMEOUT}
    if server_settings:
        connect_args["server_settings"] = server_settings
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=POOL_TIMEOUT,
        pool_pre_ping=False,
        connect_args=connect_args,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose `commit()` runs the registered pre-commit steps (`db.unit_of_work`)."""
    return async_sessionmaker(engine, class_=UnitOfWorkSession, expire_on_commit=False)
