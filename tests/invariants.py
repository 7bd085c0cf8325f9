"""Run every invariant against the test database (after each state-changing test)."""

from __future__ import annotations

from market.db.engine import create_engine
from market.oversight.invariants import run_invariants


async def assert_invariants(database_url: str) -> None:
    engine = create_engine(database_url, 1)
    try:
        # The newest certificates are the ones this test made; the full re-verification of
        # every certificate is what `market invariants` and the API do.
        result = await run_invariants(engine, recent_certificates=200)
    finally:
        await engine.dispose()
    failed = [c for c in result.checks if not c.ok]
    assert not failed, failed
