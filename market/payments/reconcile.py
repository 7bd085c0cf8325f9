"""Reconciliation: every difference between our card deposits and payouts and Stripe's
PaymentIntents and transfers (`market reconcile [--since DATE]`).

A difference is one of: `missing_at_stripe` (ours, Stripe does not know it), `missing_here`
(Stripe's, we have no record of it), `amount_mismatch`, `currency_mismatch`, `link_mismatch`
(metadata or destination disagree) and `status_mismatch` (e.g. Stripe says a PaymentIntent
succeeded and our deposit is still pending: its webhook was never applied).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.models import Deposit
from market.cash.service import CashService
from market.payments.gateway import CURRENCY, PaymentIntentView, StripeGateway, TransferView
from market.payments.models import Payout
from market.payments.repository import PaymentRepository


@dataclass(frozen=True, slots=True)
class Difference:
    subject: str  # "deposit" | "payout"
    ref: str  # our id, or Stripe's for `missing_here`
    problem: str
    detail: str

    def line(self) -> str:
        return f"{self.subject} {self.ref}: {self.problem}: {self.detail}"


class Reconciler:
    def __init__(self, session: AsyncSession, gateway: StripeGateway) -> None:
        self.cash = CashService(session)
        self.repo = PaymentRepository(session)
        self.gateway = gateway

    async def differences(
        self, since: datetime | None, *, deposits: bool = True, payouts: bool = True
    ) -> list[Difference]:
        """Everything that disagrees, for objects created at or after `since` (all if None)."""
        found = await self._deposits(since) if deposits else []
        return found + (await self._payouts(since) if payouts else [])

    async def _deposits(self, since: datetime | None) -> list[Difference]:
        found: list[Difference] = []
        intents = {i.id: i async for i in self.gateway.payment_intents_since(since)}
        for deposit in await self.cash.card_deposits_since(since):
            if deposit.payment_intent_id is None:
                found.append(_deposit(deposit, "missing_at_stripe", "no PaymentIntent"))
                continue
            intent = intents.pop(deposit.payment_intent_id, None)
            if intent is None:  # created just before `since`, or unknown to Stripe
                intent = await self.gateway.payment_intent(deposit.payment_intent_id)
            if intent is None:
                found.append(
                    _deposit(deposit, "missing_at_stripe", f"{deposit.payment_intent_id} unknown")
                )
                continue
            found += _compare_deposit(deposit, intent)
        for intent in intents.values():
            found.append(
                Difference(
                    "deposit",
                    intent.id,
                    "missing_here",
                    f"PaymentIntent {intent.status}, {intent.amount} {intent.currency}, "
                    f"deposit_id {intent.metadata.get('deposit_id')!r} not ours",
                )
            )
        return found

    async def _payouts(self, since: datetime | None) -> list[Difference]:
        found: list[Difference] = []
        transfers = {t.id: t async for t in self.gateway.transfers_since(since)}
        by_withdrawal = {t.metadata.get("withdrawal_id"): t for t in transfers.values()}
        for payout in await self.repo.payouts_since(since):
            if payout.status == "failed":
                sent = by_withdrawal.get(payout.withdrawal_id)
                if sent is not None:
                    transfers.pop(sent.id, None)
                    found.append(
                        _payout(payout, "status_mismatch", f"recorded failed, {sent.id} exists")
                    )
                continue
            transfer = transfers.pop(payout.transfer_id or "", None)
            if transfer is None:
                found.append(
                    _payout(payout, "missing_at_stripe", f"transfer {payout.transfer_id} unknown")
                )
                continue
            found += _compare_payout(payout, transfer)
        for transfer in transfers.values():
            found.append(
                Difference(
                    "payout",
                    transfer.id,
                    "missing_here",
                    f"transfer of {transfer.amount} {transfer.currency} to {transfer.destination}",
                )
            )
        return found


def _deposit(deposit: Deposit, problem: str, detail: str) -> Difference:
    return Difference("deposit", deposit.id, problem, detail)


def _payout(payout: Payout, problem: str, detail: str) -> Difference:
    return Difference("payout", payout.withdrawal_id, problem, detail)


def _compare_deposit(deposit: Deposit, intent: PaymentIntentView) -> list[Difference]:
    found: list[Difference] = []
    if intent.amount != deposit.amount:
        found.append(
            _deposit(
                deposit, "amount_mismatch", f"{deposit.amount} fen here, {intent.amount} at Stripe"
            )
        )
    if intent.currency != CURRENCY:
        found.append(_deposit(deposit, "currency_mismatch", f"{intent.currency} at Stripe"))
    if intent.metadata.get("deposit_id") != deposit.id:
        found.append(
            _deposit(deposit, "link_mismatch", f"metadata {intent.metadata.get('deposit_id')!r}")
        )
    stripe_paid = intent.status == "succeeded"
    if stripe_paid != (deposit.status == "succeeded"):
        found.append(
            _deposit(
                deposit, "status_mismatch", f"{deposit.status} here, {intent.status} at Stripe"
            )
        )
    return found


def _compare_payout(payout: Payout, transfer: TransferView) -> list[Difference]:
    found: list[Difference] = []
    if transfer.amount != payout.amount:
        found.append(
            _payout(
                payout, "amount_mismatch", f"{payout.amount} fen here, {transfer.amount} at Stripe"
            )
        )
    if transfer.currency != CURRENCY:
        found.append(_payout(payout, "currency_mismatch", f"{transfer.currency} at Stripe"))
    if transfer.destination != payout.account_id:
        found.append(
            _payout(
                payout, "link_mismatch", f"paid to {transfer.destination}, not {payout.account_id}"
            )
        )
    if transfer.reversed:
        found.append(_payout(payout, "status_mismatch", f"{transfer.id} was reversed at Stripe"))
    return found
