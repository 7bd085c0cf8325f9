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


async def reservations_check(session: AsyncSession, *other_holds: dict[str, int]) -> Check:
    """`reserved_matches_withdrawals_and_orders`: each party's reserved cash equals its pending
    withdrawals plus every other hold passed in ({party_id: fen}, e.g. open buy orders and
    pending settlements)."""
    repo = CashInvariantRepository(session)
    expected = await repo.reserved_by_withdrawals()
    for holds in other_holds:
        for party_id, amount in holds.items():
            expected[party_id] = expected.get(party_id, 0) + amount
    actual = await repo.reserved_balances()
    violations = [
        {"party_id": p, "reserved": actual.get(p, 0), "held": expected.get(p, 0)}
        for p in sorted(set(actual) | set(expected))
        if actual.get(p, 0) != expected.get(p, 0)
    ]
    return check_from_rows("reserved_matches_withdrawals_and_orders", violations)
