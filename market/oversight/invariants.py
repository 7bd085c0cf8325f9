"""Every invariant of DOMAIN.md, run together (the tests, `market invariants`, the API and the
background watch all call `run_invariants`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.cash.invariants import cash_checks
from market.certification.invariants import certification_checks
from market.compensation.invariants import compensation_checks
from market.kit.invariants import Check, InvariantReport, check_from_rows, report
from market.oversight import invariant_repository as sql
from market.oversight.invariant_repository import OversightInvariantRepository
from market.oversight.models import APPEND_ONLY_TABLES
from market.payments.invariants import payment_checks
from market.registry.invariants import append_only_tables, registry_checks
from market.trading.invariants import trading_checks


async def oversight_checks(session: AsyncSession, with_trigger: set[str]) -> list[Check]:
    """DOMAIN.md 9 (idempotent) and 10 (durable) as far as the data can show them, 11 (claims
    exclusive) as far as batches go (no two batches of a product type on one asset's period;
    the claims ledger itself is checked by the compensation context), and alerts' history
    append-only (8)."""
    repo = OversightInvariantRepository(session)
    missing = sorted(set(APPEND_ONLY_TABLES) - with_trigger)
    return [
        check_from_rows(
            "one_order_per_client_order_id", await repo.rows(sql.ONE_ORDER_PER_CLIENT_ORDER_ID)
        ),
        check_from_rows("one_entry_per_deposit", await repo.rows(sql.ONE_ENTRY_PER_DEPOSIT)),
        check_from_rows(
            "one_outcome_per_withdrawal", await repo.rows(sql.ONE_ENTRY_PER_WITHDRAWAL)
        ),
        check_from_rows("order_rows_complete", await repo.rows(sql.ORDER_ROWS_COMPLETE)),
        check_from_rows("book_commands_belong", await repo.rows(sql.BOOK_COMMANDS_BELONG)),
        check_from_rows("transfer_rows_complete", await repo.rows(sql.TRANSFER_ROWS_COMPLETE)),
        check_from_rows("no_double_issuance", await repo.rows(sql.OVERLAPPING_CLAIMS)),
        Check(
            name="alerts_append_only",
            ok=not missing,
            detail="alerts and their reviews refuse UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]


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
        checks += await oversight_checks(session, with_trigger)
        await session.rollback()
    return report(checks)
