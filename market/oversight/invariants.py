"""Every invariant of DOMAIN.md that the code implements, run together."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.cash.invariants import cash_checks
from market.certification.invariants import certification_checks
from market.compensation.invariants import compensation_checks
from market.kit.invariants import InvariantReport, report
from market.payments.invariants import payment_checks
from market.registry.invariants import append_only_tables, registry_checks
from market.trading.invariants import trading_checks


async def run_invariants(
    engine: AsyncEngine, *, recent_certificates: int = 2_000
) -> InvariantReport:
    """Run in one REPEATABLE READ snapshot, so concurrent writes cannot fake a violation."""
    snapshot = engine.execution_options(isolation_level="REPEATABLE READ")
    async with AsyncSession(snapshot) as session:
        with_trigger = await append_only_tables(session)
        checks = await registry_checks(session, with_trigger)
        checks += await certification_checks(session, with_trigger, recent_certificates)
        checks += await cash_checks(session)
        checks += await trading_checks(session, with_trigger)
        checks += await payment_checks(session, with_trigger)
        checks += await compensation_checks(session, with_trigger)
        await session.rollback()
    return report(checks)
