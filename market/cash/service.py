"""Cash use cases: balances, deposits, withdrawals and the journal, over `CashLedger`.

Other contexts move cash through `CashLedger` (re-exported here): lock the accounts, then
reserve, release or settle, all in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.errors import InsufficientFunds, InvalidStatus, StripeNotConfigured
from market.cash.ledger import CashBalance, CashLedger
from market.cash.models import Deposit, Withdrawal
from market.cash.repository import CashRepository
from market.cash.schemas import DepositCreate, WithdrawalCreate
from market.kit.errors import Forbidden, NotFound
from market.kit.ids import new_id
from market.kit.money import parse_money
from market.kit.time import utcnow
from market.parties.repository import PartyRepository
from market.parties.roles import TRADERS, Caller, require
from market.parties.service import PartyService
from market.registry.errors import UnknownParty

__all__ = ["CashBalance", "CashLedger", "CashService", "InsufficientFunds", "PartyCash"]

OFFLINE_BANK = "bank"
STRIPE = "stripe"


@dataclass(frozen=True, slots=True)
class PartyCash:
    """A party's cash as it reads it. For the platform operator, `balance.available` includes
    the fee sub-accounts, listed in `fees` (fen by instrument); None for every other party."""

    party_id: str
    balance: CashBalance
    fees: dict[str, int] | None = None


class CashService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = CashRepository(session)
        self.ledger = CashLedger(session)
        self.parties = PartyRepository(session)
        self.party_service = PartyService(session)

    def _visible_party(self, caller: Caller, party_id: str | None) -> str:
        party_id = party_id or caller.party_id
        if party_id != caller.party_id and not caller.oversees:
            raise NotFound("party not found")
        return party_id

    async def cash(self, caller: Caller, party_id: str | None) -> PartyCash:
        """A party's balance: its own, or any party's for the operator and regulators. The
        platform operator owns the fee account: its available cash is its own account plus
        every instrument's fee sub-account."""
        party_id = self._visible_party(caller, party_id)
        if party_id != caller.party_id and await self.parties.get(party_id) is None:
            raise NotFound("party not found")
        balance = await self.ledger.balance(party_id)
        if party_id != await self.party_service.platform_party_id():
            return PartyCash(party_id, balance)
        fees = await self.ledger.fee_balances()
        available = balance.available + sum(fees.values())
        return PartyCash(party_id, CashBalance(available, balance.reserved), fees)

    async def sweep_fees(self, caller: Caller) -> PartyCash:
        """An operator moves the fees held per instrument into the platform operator's own
        account (one `fee_sweep` entry) and reads its cash: the same balance, `fees` empty
        (unless a trade has settled since)."""
        require(caller, "operator")
        platform = await self.party_service.platform_party_id()
        if platform is None:
            raise NotFound("no platform operator")
        await self.ledger.sweep_fees(platform, ref_id=new_id("fsw"))
        return await self.cash(caller, platform)

    # deposits -------------------------------------------------------------------------------

    async def deposit(self, caller: Caller, data: DepositCreate) -> Deposit:
        """The operator records an offline bank transfer: the funds are available at once.
        Card deposits by traders go through `market.payments` (`open_card_deposit`)."""
        require(caller, "operator", *TRADERS)
        if caller.kind != "operator":
            raise StripeNotConfigured("card deposits need Stripe, which is not configured")
        if data.party_id is None:  # a card deposit's shape: the operator records bank transfers
            raise Forbidden("the operator records bank transfers (party_id, method)")
        party = await self.parties.get(data.party_id)
        if party is None:
            raise UnknownParty(f"unknown party {data.party_id}")
        if party.kind not in TRADERS:
            raise UnknownParty("deposits go to a collective, an enterprise or a government")
        now = utcnow()
        deposit = Deposit(
            id=new_id("dep"),
            party_id=data.party_id,
            amount=parse_money(data.amount),
            method="bank_transfer",
            reference=data.reference,
            status="succeeded",
            created_at=now,
            completed_at=now,
        )
        await self.repo.add(deposit)
        await self.ledger.fund(
            deposit.party_id, deposit.amount, source=OFFLINE_BANK, ref_id=deposit.id
        )
        return deposit

    async def open_card_deposit(self, caller: Caller, amount: int) -> Deposit:
        """A trader's card deposit, pending until its payment succeeds (`credit_card_deposit`).
        A frozen party may still pay money in (only withdrawals are refused)."""
        require(caller, *TRADERS)
        deposit = Deposit(
            id=new_id("dep"),
            party_id=caller.party_id,
            amount=amount,
            method=STRIPE,
            status="pending",
            created_at=utcnow(),
        )
        await self.repo.add(deposit)
        return deposit

    async def attach_payment_intent(
        self, deposit: Deposit, intent_id: str, client_secret: str | None
    ) -> Deposit:
        deposit.payment_intent_id = intent_id
        deposit.client_secret = client_secret
        await self.repo.add(deposit)
        return deposit

    async def card_deposit_for_intent(self, intent_id: str) -> Deposit | None:
        """The card deposit paid by this PaymentIntent, locked for this transaction."""
        return await self.repo.deposit_for_intent(intent_id, lock=True)

    async def credit_card_deposit(self, deposit: Deposit) -> Deposit:
        """The payment succeeded: the amount becomes available (from `external:stripe`).
        Only a locked card deposit that is not yet credited; a failed one may still succeed
        (the customer paid with another card on the same PaymentIntent)."""
        if deposit.method != STRIPE or deposit.status == "succeeded":
            raise InvalidStatus(f"deposit is {deposit.status}")
        await self.ledger.lock(deposit.party_id)
        await self.ledger.fund(deposit.party_id, deposit.amount, source=STRIPE, ref_id=deposit.id)
        deposit.status = "succeeded"
        deposit.failure_reason = None
        deposit.completed_at = utcnow()
        await self.repo.add(deposit)
        return deposit

    async def fail_card_deposit(self, deposit: Deposit, reason: str) -> Deposit:
        """The payment failed: nothing is credited."""
        if deposit.method != STRIPE or deposit.status != "pending":
            raise InvalidStatus(f"deposit is {deposit.status}")
        deposit.status = "failed"
        deposit.failure_reason = reason[:300]
        deposit.completed_at = utcnow()
        await self.repo.add(deposit)
        return deposit

    async def card_deposits_since(self, since: datetime | None) -> list[Deposit]:
        """Card deposits created at or after `since` (all when None), for reconciliation."""
        return await self.repo.card_deposits_since(since)

    async def list_deposits(
        self,
        caller: Caller,
        party_id: str | None,
        *,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> list[Deposit]:
        """A party's deposits, newest first; the operator and regulators see every party's."""
        scope = party_id if caller.oversees else self._visible_party(caller, party_id)
        return await self.repo.list_of(Deposit, scope, status=status, limit=limit, cursor=cursor)

    async def get_deposit(self, caller: Caller, deposit_id: str) -> Deposit:
        deposit = await self.repo.get(Deposit, deposit_id)
        if deposit is None or not (caller.oversees or caller.party_id == deposit.party_id):
            raise NotFound("deposit not found")
        return deposit

    # withdrawals ----------------------------------------------------------------------------

    async def withdraw(self, caller: Caller, data: WithdrawalCreate) -> Withdrawal:
        """Reserve the amount (a hold: no journal entry) until the operator marks it paid
        (one `withdrawal_paid` entry) or failed, or the owner cancels (the hold is released)."""
        require(caller, *TRADERS)
        await self.party_service.require_active(caller)
        withdrawal = Withdrawal(
            id=new_id("wdr"),
            party_id=caller.party_id,
            amount=parse_money(data.amount),
            reference=data.reference,
            created_at=utcnow(),
        )
        await self.ledger.lock(caller.party_id)
        await self.ledger.reserve(caller.party_id, withdrawal.amount)
        await self.repo.add(withdrawal)
        return withdrawal

    async def get_withdrawal(self, caller: Caller, withdrawal_id: str) -> Withdrawal:
        withdrawal = await self.repo.get(Withdrawal, withdrawal_id)
        if withdrawal is None or not (caller.oversees or caller.party_id == withdrawal.party_id):
            raise NotFound("withdrawal not found")
        return withdrawal

    async def list_withdrawals(
        self,
        caller: Caller,
        party_id: str | None,
        *,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> list[Withdrawal]:
        """A party's withdrawals, newest first; the operator and regulators see every party's."""
        scope = party_id if caller.oversees else self._visible_party(caller, party_id)
        return await self.repo.list_of(Withdrawal, scope, status=status, limit=limit, cursor=cursor)

    async def mark_paid(
        self, caller: Caller, withdrawal_id: str, reference: str | None = None
    ) -> Withdrawal:
        """The operator paid it by bank: the reserved cash leaves to `external:bank`."""
        withdrawal = await self.pending_withdrawal(caller, withdrawal_id)
        return await self.complete_withdrawal(
            withdrawal, destination=OFFLINE_BANK, reference=reference
        )

    async def mark_failed(
        self, caller: Caller, withdrawal_id: str, reason: str | None = None
    ) -> Withdrawal:
        """The operator's payment did not go through: the amount is available again."""
        withdrawal = await self.pending_withdrawal(caller, withdrawal_id)
        return await self.fail_withdrawal(withdrawal, reason or "marked failed by the operator")

    async def pending_withdrawal(self, caller: Caller, withdrawal_id: str) -> Withdrawal:
        """For the operator: a pending withdrawal, locked until the transaction ends (so two
        requests never both pay it)."""
        require(caller, "operator")
        withdrawal = await self._locked(withdrawal_id)
        _must_be_pending(withdrawal)
        return withdrawal

    async def complete_withdrawal(
        self, withdrawal: Withdrawal, *, destination: str, reference: str | None
    ) -> Withdrawal:
        """A locked pending withdrawal was paid: the reservation leaves to an external account."""
        _must_be_pending(withdrawal)
        await self.ledger.lock(withdrawal.party_id)
        await self.ledger.pay_out(
            withdrawal.party_id, withdrawal.amount, destination=destination, ref_id=withdrawal.id
        )
        withdrawal.status = "paid"
        withdrawal.payment_reference = reference
        withdrawal.paid_at = utcnow()
        await self.repo.add(withdrawal)
        return withdrawal

    async def fail_withdrawal(self, withdrawal: Withdrawal, reason: str) -> Withdrawal:
        """A locked pending withdrawal could not be paid: its reservation is released."""
        _must_be_pending(withdrawal)
        await self.ledger.lock(withdrawal.party_id)
        await self.ledger.release(withdrawal.party_id, withdrawal.amount)
        withdrawal.status = "failed"
        withdrawal.failure_reason = reason[:300]
        withdrawal.failed_at = utcnow()
        await self.repo.add(withdrawal)
        return withdrawal

    async def cancel_withdrawal(self, caller: Caller, withdrawal_id: str) -> Withdrawal:
        """The owner takes back a pending withdrawal: the amount is available again."""
        withdrawal = await self._locked(withdrawal_id)
        if withdrawal.party_id != caller.party_id:
            if caller.oversees:
                raise Forbidden("only the owner may cancel a withdrawal")
            raise NotFound("withdrawal not found")
        _must_be_pending(withdrawal)
        await self.ledger.lock(withdrawal.party_id)
        await self.ledger.release(withdrawal.party_id, withdrawal.amount)
        withdrawal.status = "cancelled"
        await self.repo.add(withdrawal)
        return withdrawal

    async def _locked(self, withdrawal_id: str) -> Withdrawal:
        withdrawal = await self.repo.get(Withdrawal, withdrawal_id, lock=True)
        if withdrawal is None:
            raise NotFound("withdrawal not found")
        return withdrawal

    # journal --------------------------------------------------------------------------------

    async def entries(
        self, caller: Caller, party_id: str | None, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """Journal entries touching a party, newest first, with all their postings.

        A party reads its own; regulators read any party's; the operator reads its own and the
        fee account's (the platform's). A trader sees its counterparties' accounts as
        `party:counterparty:…` (trades are anonymous); the operator and regulators see every
        account.
        """
        party_id = party_id or caller.party_id
        readable = party_id == caller.party_id or caller.kind == "regulator"
        if not readable and caller.kind == "operator":
            readable = party_id == await self.party_service.platform_party_id()
        if not readable:
            raise NotFound("party not found")
        entries = await self.repo.entries_of(party_id, limit=limit, cursor=cursor)
        postings: dict[str, list[dict[str, Any]]] = {e["id"]: [] for e in entries}
        for posting in await self.repo.postings_of(list(postings)):
            other = posting["party_id"]
            if other not in (None, party_id) and not caller.oversees:
                posting["account"] = posting["account"].replace(other, "counterparty", 1)
            postings[posting["entry_id"]].append(posting)
        return entries, postings


def _must_be_pending(withdrawal: Withdrawal) -> None:
    if withdrawal.status != "pending":
        raise InvalidStatus(f"withdrawal is {withdrawal.status}")
