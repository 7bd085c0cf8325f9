"""Every invariant of DOMAIN.md that the code implements, run together."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.invariants import InvariantReport, report
from market.registry.invariants import registry_checks


async def run_invariants(session: AsyncSession) -> InvariantReport:
    """Run in a REPEATABLE READ snapshot so the checks see one consistent state."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    checks = await registry_checks(session)
    return report(checks)
