"""The Alembic migrations: reversible, in agreement with the models, and history is append-only."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from market.db.metadata import import_all_models, metadata
from market.db.migrate import alembic_config, head_revision, upgrade
from market.registry.models import APPEND_ONLY_TABLES
from tests.api import conftest as api
from tests.conftest import _admin_execute

# The HTTP fixtures, to make real history rows through the API.
client = api.client
operator = api.operator
make_party = api.make_party
registry = api.registry


@pytest.fixture
def scratch_database(database_url: str) -> Iterator[str]:
    """A separate, empty database on the same server, dropped afterwards."""
    server_url = os.environ.get("DATABASE_URL") or database_url
    name = f"market_migrations_{secrets.token_hex(4)}"
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tables(url: str) -> set[str]:
    import asyncio

    from market.db.engine import create_engine

    async def run() -> set[str]:
        engine = create_engine(url, 1)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_downgrade_upgrade(scratch_database: str) -> None:
    upgrade(scratch_database)
    created = _tables(scratch_database)
    assert {"alembic_version", "parties", "assets", *APPEND_ONLY_TABLES} <= created
    command.downgrade(alembic_config(scratch_database), "base")
    assert _tables(scratch_database) <= {"alembic_version"}
    upgrade(scratch_database)
    assert _tables(scratch_database) == created


def test_there_is_one_head() -> None:
    assert head_revision() is not None


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    import_all_models()

    def diff(sync_connection: Any) -> list[Any]:
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], differences


async def test_history_tables_refuse_update_and_delete(registry: Any, engine: AsyncEngine) -> None:
    holder = await registry.trader()
    batch = await registry.batch(holder, 10)
    retired = await holder.post(
        "/v1/retirements",
        json={"batch_id": batch["id"], "quantity": 3, "beneficiary": "甲", "reason": "抵销"},
    )
    assert retired.status_code == 201, retired.text

    for table in APPEND_ONLY_TABLES:
        count = f"SELECT count(*) FROM {table}"
        one_row = f"ctid = (SELECT ctid FROM {table} LIMIT 1)"
        async with engine.connect() as connection:
            assert (await connection.execute(text(count))).scalar_one() > 0, table
        for statement in (
            f"UPDATE {table} SET {_first_column(table)} = {_first_column(table)} WHERE {one_row}",
            f"DELETE FROM {table} WHERE {one_row}",
        ):
            async with engine.connect() as connection:
                transaction = await connection.begin()
                with pytest.raises(DBAPIError, match="append-only"):
                    await connection.execute(text(statement))
                await transaction.rollback()
    # TRUNCATE does not fire row triggers; the rows above must all still be there.
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT count(*) FROM retirements WHERE id = :id"), {"id": retired.json()["id"]}
        )
        assert found.scalar_one() == 1


def _first_column(table: str) -> str:
    import_all_models()
    return next(iter(metadata.tables[table].columns)).name
