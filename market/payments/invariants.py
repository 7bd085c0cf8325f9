"""DOMAIN.md invariants 3 (cash conserved, here: each payment moved money once, exactly) and
9 (a Stripe event has one effect), and 8 for the payment history tables."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.invariants import Check, check_from_rows
from market.payments import invariant_repository as sql
from market.payments.invariant_repository import PaymentInvariantRepository
from market.payments.models import APPEND_ONLY_TABLES


async def payment_checks(session: AsyncSession, with_trigger: set[str]) -> list[Check]:
    repo = PaymentInvariantRepository(session)
    missing = sorted(set(APPEND_ONLY_TABLES) - with_trigger)
    return [
        check_from_rows(
            "card_deposits_credited_once", await repo.rows(sql.CARD_DEPOSITS_CREDITED_ONCE)
        ),
        check_from_rows(
            "payouts_match_withdrawals", await repo.rows(sql.PAYOUTS_MATCH_WITHDRAWALS)
        ),
        check_from_rows("withdrawals_settled_once", await repo.rows(sql.WITHDRAWALS_SETTLED_ONCE)),
        Check(
            name="payments_append_only",
            ok=not missing,
            detail="the Stripe event inbox and payouts refuse UPDATE/DELETE"
            if not missing
            else f"no append-only trigger on: {', '.join(missing)}",
        ),
    ]
