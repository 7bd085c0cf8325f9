"""Turn compensation rows and plans into response models."""

from __future__ import annotations

from datetime import date
from typing import Any

from market.compensation.models import CompensationPayment, CompensationScheme
from market.compensation.plans import Plan
from market.compensation.schemas import (
    ExcludedOut,
    PaidOut,
    PaymentOut,
    PeriodOut,
    PlannedPaymentOut,
    PreviewOut,
    SchemeOut,
)
from market.compensation.service import Settled
from market.kit.money import format_money


def scheme_out(scheme: CompensationScheme, balance: int) -> SchemeOut:
    return SchemeOut(
        id=scheme.id,
        payer_id=scheme.payer_id,
        name=scheme.name,
        kind=scheme.kind,
        rules=scheme.rules,
        balance=format_money(balance),
        created_at=scheme.created_at,
    )


def _excluded(items: list[dict[str, Any]]) -> list[ExcludedOut]:
    return [ExcludedOut.model_validate(e) for e in items]


def preview_out(scheme_id: str, start: date, end: date, plan: Plan) -> PreviewOut:
    return PreviewOut(
        scheme_id=scheme_id,
        period_start=start,
        period_end=end,
        total=format_money(plan.total),
        payments=[
            PlannedPaymentOut(
                to_party_id=p.to_party_id,
                from_party_id=p.from_party_id,
                asset_id=p.asset_id,
                amount=format_money(p.amount),
                basis=p.basis,
            )
            for p in plan.payments
        ],
        excluded=_excluded(plan.excluded),
    )


def period_out(settled: Settled) -> PeriodOut:
    period = settled.period
    return PeriodOut(
        id=period.id,
        scheme_id=period.scheme_id,
        period_start=period.period_start,
        period_end=period.period_end,
        total=format_money(period.total),
        payments=[
            PaidOut(
                id=p.id,
                to_party_id=p.to_party_id,
                from_account=p.from_account,
                asset_id=p.asset_id,
                amount=format_money(p.amount),
                certificate_id=p.certificate_id,
            )
            for p in settled.payments
        ],
        excluded=_excluded(period.excluded),
        created_at=period.created_at,
    )


def payment_out(payment: CompensationPayment) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        period_id=payment.period_id,
        scheme_id=payment.scheme_id,
        from_account=payment.from_account,
        to_party_id=payment.to_party_id,
        asset_id=payment.asset_id,
        amount=format_money(payment.amount),
        basis=payment.basis,
        journal_entry_id=payment.journal_entry_id,
        certificate_id=payment.certificate_id,
        created_at=payment.created_at,
    )
