"""DOMAIN.md invariant 11 (claims exclusive; every compensation payment balanced, certified
and within its scheme's funds), GEP accounts' consistency, and append-only history for the
valuation and compensation tables — as code the tests, CLI and API run."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.compensation import invariant_repository as sql
from market.compensation.invariant_repository import CompensationInvariantRepository
from market.compensation.models import APPEND_ONLY_TABLES as COMPENSATION_TABLES
from market.kit.invariants import Check, check_from_rows
from market.valuation.models import APPEND_ONLY_TABLES as VALUATION_TABLES


async def compensation_checks(session: AsyncSession, with_trigger: set[str]) -> list[Check]:
    repo = CompensationInvariantRepository(session)
    missing = sorted(set(COMPENSATION_TABLES + VALUATION_TABLES) - with_trigger)
    guarded = bool(await repo.rows(sql.CLAIM_GUARD))
    return [
        check_from_rows("claims_exclusive", await repo.rows(sql.CLAIMS_EXCLUSIVE)),
        Check(
            name="claims_guarded_by_database",
            ok=guarded,
            detail="a trigger refuses overlapping claims"
            if guarded
            else "no double-claim trigger on asset_claims",
        ),
        check_from_rows("compensation_payments_balanced", await repo.rows(sql.PAYMENTS_BALANCED)),
        check_from_rows("compensation_payments_certified", await repo.rows(sql.PAYMENTS_CERTIFIED)),
        check_from_rows(
            "compensation_periods_match_payments", await repo.rows(sql.PERIODS_MATCH_PAYMENTS)
        ),
        check_from_rows("compensation_within_scheme_funds", await repo.rows(sql.WITHIN_FUNDS)),
        check_from_rows("gep_account_totals_match_lines", await repo.rows(sql.ACCOUNT_TOTALS)),
        check_from_rows(
            "gep_account_versions_consistent", await repo.rows(sql.ONE_PUBLISHED_ACCOUNT)
        ),
        Check(
            name="valuation_compensation_append_only",
            ok=not missing,
            detail="methodologies, account lines, monitoring records, periods and payments "
            "refuse UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]
