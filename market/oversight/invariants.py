"""Every invariant of DOMAIN.md that the code implements, run together."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.kit.invariants import InvariantReport, report
from market.registry.invariants import registry_checks


async def run_invariants(engine: AsyncEngine) -> InvariantReport:
    """Run in one REPEATABLE READ snapshot, so concurrent writes cannot fake a violation."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    async with AsyncSession(snapshot) as session:
        checks = await registry_checks(session)
        await session.rollback()
    return report(checks)
