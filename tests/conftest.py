"""Test fixtures: a real PostgreSQL database built by the Alembic migrations.

`DATABASE_URL` set → a fresh database is created on that server for this run; unset → the
embedded pgserver under a temporary folder. Tests do not truncate: every test makes its own
parties, so the global invariants must hold across everything the whole run did.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from market.db.engine import async_url, create_engine
from market.db.migrate import upgrade
from market.settings import Settings


def _admin_execute(server_url: str, *statements: str) -> None:
    async def run() -> None:
        engine = create_async_engine(async_url(server_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    server_url = os.environ.get("DATABASE_URL")
    data_dir: Path | None = None
    if not server_url:
        from market.db.embedded import start_embedded

        data_dir = Path(tempfile.mkdtemp(prefix="market-test-"))
        server_url = start_embedded(data_dir)
    name = f"market_test_{os.getpid()}_{secrets.token_hex(3)}"
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    os.environ["MARKET_TEST_DATABASE_URL"] = url
    try:
        yield url
    finally:
        _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if data_dir is not None:
            from market.db.embedded import stop_embedded

            stop_embedded(data_dir)


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        market_data_dir=tmp_path_factory.mktemp("data"),
        market_operator_token="operator-test-token",  # type: ignore[arg-type]
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, 5)
    yield engine
    await engine.dispose()
