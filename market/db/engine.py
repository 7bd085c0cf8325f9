"""The async engine and session factory; one transaction per request."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session


def async_url(url: str) -> str:
    """Any `postgresql://` URL (including pgserver's socket form) as an asyncpg URL."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(
    url: str, pool_size: int = 10, server_settings: dict[str, str] | None = None
) -> AsyncEngine:
    """A pool that keeps its connections: a small overflow, since a connection opened and
    closed per request costs more than the request itself. `server_settings` are PostgreSQL
    settings for every connection of the pool."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max(2, pool_size // 4),
        pool_pre_ping=False,
        connect_args={"server_settings": server_settings} if server_settings else {},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def _refuse_unlogged_certificates(session: Session) -> None:
    from market.certification.service import has_pending_certificates

    if has_pending_certificates(session):
        raise RuntimeError("committing certificates that were never appended to the log")


event.listen(Session, "before_commit", _refuse_unlogged_certificates)
