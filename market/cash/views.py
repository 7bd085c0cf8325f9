"""Turn cash rows into response models (integer fen → money strings)."""

from __future__ import annotations

from typing import Any

from market.cash.models import Deposit, Withdrawal
from market.cash.schemas import (
    CashOut,
    DepositOut,
    EntryOut,
    FeeAccountOut,
    FeesOut,
    PostingOut,
    WithdrawalOut,
)
from market.cash.service import PartyCash
from market.kit.money import format_money


def cash_out(cash: PartyCash) -> CashOut:
    fees = None
    if cash.fees is not None:
        fees = FeesOut(
            total=format_money(sum(cash.fees.values())),
            by_instrument=[
                FeeAccountOut(instrument=instrument, amount=format_money(amount))
                for instrument, amount in sorted(cash.fees.items())
            ],
        )
    return CashOut(
        party_id=cash.party_id,
        available=format_money(cash.balance.available),
        reserved=format_money(cash.balance.reserved),
        total=format_money(cash.balance.total),
        fees=fees,
    )


def deposit_out(deposit: Deposit) -> DepositOut:
    return DepositOut(
        id=deposit.id,
        party_id=deposit.party_id,
        amount=format_money(deposit.amount),
        method=deposit.method,
        reference=deposit.reference,
        status=deposit.status,
        provider="stripe" if deposit.method == "stripe" else None,
        payment_intent_id=deposit.payment_intent_id,
        client_secret=deposit.client_secret,
        failure_reason=deposit.failure_reason,
        created_at=deposit.created_at,
        completed_at=deposit.completed_at,
    )


def withdrawal_out(withdrawal: Withdrawal) -> WithdrawalOut:
    return WithdrawalOut(
        id=withdrawal.id,
        party_id=withdrawal.party_id,
        amount=format_money(withdrawal.amount),
        status=withdrawal.status,
        reference=withdrawal.reference,
        payment_reference=withdrawal.payment_reference,
        failure_reason=withdrawal.failure_reason,
        created_at=withdrawal.created_at,
        paid_at=withdrawal.paid_at,
        failed_at=withdrawal.failed_at,
    )


def entry_out(entry: dict[str, Any], postings: list[dict[str, Any]]) -> EntryOut:
    return EntryOut(
        id=entry["id"],
        kind=entry["kind"],
        ref_id=entry["ref_id"],
        created_at=entry["created_at"],
        postings=[
            PostingOut(account=p["account"], amount=format_money(p["amount"])) for p in postings
        ],
    )
