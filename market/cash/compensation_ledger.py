"""Compensation money in the double-entry ledger: a scheme's account is funded from its payer's
available cash and pays recipients; horizontal compensation moves cash between two parties.

Every movement is one balanced journal entry per payment (`scheme:{id}` and
`party:{id}:available` postings), so invariant 3 (Σ all accounts = 0) covers scheme accounts
too, and a scheme can never pay more than it holds (guarded UPDATE, CHECK balance >= 0).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.errors import InsufficientFunds, InsufficientSchemeFunds
from market.cash.ledger import CashLedger
from market.cash.repository import CashRepository
from market.cash.scheme_repository import SchemeAccountRepository
from market.kit.ids import new_id
from market.kit.money import format_money
from market.kit.time import utcnow


def scheme_account(scheme_id: str) -> str:
    return f"scheme:{scheme_id}"


class CompensationLedger:
    def __init__(self, session: AsyncSession) -> None:
        self.cash = CashLedger(session)
        self.cash_repo = CashRepository(session)
        self.schemes = SchemeAccountRepository(session)

    async def open_scheme_account(self, scheme_id: str) -> None:
        await self.schemes.open(scheme_id)

    async def scheme_balances(self, scheme_ids: list[str]) -> dict[str, int]:
        return await self.schemes.balances(scheme_ids)

    async def fund_scheme(self, payer_id: str, scheme_id: str, amount: int, *, ref_id: str) -> str:
        """The payer's available cash → the scheme's account (`scheme_funding`)."""
        if amount <= 0:
            raise ValueError("funding must be positive")
        await self.cash.lock(payer_id)
        if await self.cash_repo.debit(payer_id, -amount, 0) is None:
            have = await self.cash.balance(payer_id)
            raise InsufficientFunds(
                f"{format_money(amount)} needed, {format_money(have.available)} available",
                requested=format_money(amount),
                available=format_money(have.available),
            )
        if await self.schemes.add(scheme_id, amount) is None:
            raise ValueError(f"scheme account {scheme_id} does not exist")
        entry_id = new_id("jrn")
        await self.cash_repo.add_entry(
            entry_id,
            "scheme_funding",
            ref_id,
            utcnow(),
            [
                {"account": f"party:{payer_id}:available", "party_id": payer_id, "amount": -amount},
                {"account": scheme_account(scheme_id), "party_id": None, "amount": amount},
            ],
        )
        return entry_id

    async def pay_from_scheme(
        self, scheme_id: str, payments: list[tuple[str, int, str]]
    ) -> list[str]:
        """Pay (party, amount, payment id) from the scheme's account, one entry per payment
        (`compensation_payment`), all or none: `InsufficientSchemeFunds` if the account does
        not cover their sum. Returns the entry ids in order."""
        if not payments:
            return []
        if any(amount <= 0 for _, amount, _ in payments):
            raise ValueError("payments must be positive")
        total = sum(amount for _, amount, _ in payments)
        if await self.schemes.add(scheme_id, -total) is None:
            have = (await self.schemes.balances([scheme_id])).get(scheme_id, 0)
            raise InsufficientSchemeFunds(
                f"the scheme holds {format_money(have)}, the period pays {format_money(total)}",
                requested=format_money(total),
                available=format_money(have),
            )
        net: dict[str, int] = {}
        ids = [new_id("jrn") for _ in payments]
        posting_entries: list[str] = []
        accounts: list[str] = []
        posting_parties: list[str | None] = []
        amounts: list[int] = []
        for entry_id, (party, amount, _) in zip(ids, payments, strict=True):
            net[party] = net.get(party, 0) + amount
            posting_entries += [entry_id, entry_id]
            accounts += [scheme_account(scheme_id), f"party:{party}:available"]
            posting_parties += [None, party]
            amounts += [-amount, amount]
        await self.schemes.credit_parties(
            sorted(net.items()),
            "compensation_payment",
            utcnow(),
            (ids, [ref for _, _, ref in payments]),
            (posting_entries, accounts, posting_parties, amounts),
        )
        return ids

    async def pay_between(self, payer_id: str, payee_id: str, amount: int, *, ref_id: str) -> str:
        """The payer's available cash → the payee's (`compensation_payment`); refused with
        `InsufficientFunds` before anything is written."""
        if amount <= 0:
            raise ValueError("payments must be positive")
        await self.cash.lock(payer_id, payee_id)
        if await self.cash_repo.debit(payer_id, -amount, 0) is None:
            have = await self.cash.balance(payer_id)
            raise InsufficientFunds(
                f"{format_money(amount)} needed, {format_money(have.available)} available",
                requested=format_money(amount),
                available=format_money(have.available),
            )
        await self.cash_repo.credit(payee_id, amount, 0)
        entry_id = new_id("jrn")
        await self.cash_repo.add_entry(
            entry_id,
            "compensation_payment",
            ref_id,
            utcnow(),
            [
                {"account": f"party:{payer_id}:available", "party_id": payer_id, "amount": -amount},
                {"account": f"party:{payee_id}:available", "party_id": payee_id, "amount": amount},
            ],
        )
        return entry_id
