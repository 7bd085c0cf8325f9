"""Run every invariant against the test database (after each state-changing test)."""

from __future__ import annotations

from market.db.engine import create_engine, session_factory
from market.oversight.invariants import run_invariants


async def assert_invariants(database_url: str) -> None:
    engine = create_engine(database_url, 1)
    try:
        async with session_factory(engine)() as session:
            result = await run_invariants(session)
    finally:
        await engine.dispose()
    failed = [c for c in result.checks if not c.ok]
    assert not failed, failed
