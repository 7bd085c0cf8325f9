"""DOMAIN.md invariants 3, 4 and 8 for cash (and the withdrawal part of 5), as code the tests,
CLI and API run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.invariant_repository import CashInvariantRepository
from market.cash.models import APPEND_ONLY_TABLES
from market.kit.invariants import Check, check_from_rows


async def cash_checks(session: AsyncSession) -> list[Check]:
    repo = CashInvariantRepository(session)
    missing = sorted(set(APPEND_ONLY_TABLES) - await repo.tables_with_append_only_trigger())
    return [
        check_from_rows("journal_balanced", await repo.unbalanced_entries()),
        check_from_rows("cash_conserved", await repo.cash_not_conserved()),
        check_from_rows("cash_balances_match_postings", await repo.balances_off_postings()),
        check_from_rows("cash_nothing_negative", await repo.negative_accounts()),
        Check(
            name="cash_append_only",
            ok=not missing,
            detail="journal entries and postings refuse UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]
