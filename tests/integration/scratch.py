"""A separate database on the test server, built by the migrations and dropped afterwards: for
tests that fill or corrupt tables the shared test database must never see."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from market.db.migrate import upgrade
from tests.conftest import _admin_execute


@pytest.fixture
def scratch_url(database_url: str) -> Iterator[str]:
    server_url = os.environ.get("DATABASE_URL") or database_url
    name = f"market_scratch_{secrets.token_hex(4)}"
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
