"""The double-entry cash ledger: the one place account balances change.

Every movement of value (a deposit, a payout, a trade's settlement, a fee sweep) is one
balanced journal entry (its postings sum to zero) plus one guarded UPDATE per account it
touches, so a bucket can never go below zero even without a prior lock (the CHECK constraints
back this up). A *hold* — cash set aside behind an order, a bid, a withdrawal or a pending
settlement (available → reserved), or given back (reserved → available) — moves no value: it
changes the party's two buckets in one guarded UPDATE and writes no journal entry. So a party's
total (available + reserved) equals the sum of the postings to its two bucket accounts, and
what is reserved equals what its open holds say (DOMAIN.md invariants 3 and 5).

Callers lock the accounts involved first with `CashLedger.lock`, in one sorted sweep, which
serializes every change to a party's cash across all server processes and keeps concurrent
transactions from deadlocking.

Accounts as they appear in postings: `party:{id}:available`, `party:{id}:reserved`,
`fee:{symbol}` (an instrument's part of the platform operator's fee account), `external:bank`,
`external:stripe`.

The fee account is split per instrument so that settlements on different instruments never wait
for one shared row: a trade's fees go to its instrument's sub-account, which the posting
statement creates or updates last, after every party account (themselves locked up front).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.errors import InsufficientFunds
from market.cash.repository import CashRepository
from market.kit.ids import new_id
from market.kit.money import format_money
from market.kit.time import utcnow

BUCKETS = ("available", "reserved")


@dataclass(slots=True)
class CashBalance:
    available: int
    reserved: int

    @property
    def total(self) -> int:
        return self.available + self.reserved


def fee_account(instrument: str) -> str:
    return f"fee:{instrument}"


@dataclass(frozen=True, slots=True)
class Leg:
    """One posting: `amount` fen into a party's bucket, into an instrument's fee sub-account
    (`fee_instrument`; `party_id` is then the fee account's owner), or into an external
    account."""

    amount: int
    party_id: str | None = None
    bucket: str = "available"
    external: str | None = None
    fee_instrument: str | None = None

    @property
    def account(self) -> str:
        if self.external is not None:
            return f"external:{self.external}"
        if self.fee_instrument is not None:
            return fee_account(self.fee_instrument)
        return f"party:{self.party_id}:{self.bucket}"


@dataclass(frozen=True, slots=True)
class Hold:
    """`amount` fen of a party's cash set aside (available → reserved) or, negative, given
    back (reserved → available): a change of bucket, not a journal entry."""

    party_id: str
    amount: int


def settlement_legs(
    *,
    buyer_id: str,
    seller_id: str,
    fee_party_id: str,
    fee_instrument: str,
    notional: int,
    buyer_fee: int,
    seller_fee: int,
) -> list[Leg]:
    """Buyer's reserved cash pays the seller (less its fee) and both fees into the fee party's
    sub-account for the trade's instrument (`fee:{fee_instrument}`)."""
    if notional <= 0 or buyer_fee < 0 or not 0 <= seller_fee <= notional:
        raise ValueError("a trade needs a positive notional and fees in [0, notional]")
    return [
        Leg(-(notional + buyer_fee), buyer_id, "reserved"),
        Leg(notional - seller_fee, seller_id, "available"),
        Leg(buyer_fee + seller_fee, fee_party_id, fee_instrument=fee_instrument),
    ]


class CashLedger:
    """Reserve and release cash (holds: no journal entry); settle, fund and pay out cash (each
    one balanced journal entry).

    Every method expects the caller to have locked the parties' accounts with `lock` in the
    same transaction; without it they stay correct (guarded updates) but may deadlock.
    A refused debit raises `InsufficientFunds` before anything is written.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.repo = CashRepository(session)
        self.locked: dict[str, CashBalance] = {}

    async def lock(self, *party_ids: str) -> dict[str, CashBalance]:
        """Create missing accounts and lock them in party order; the balances stay current as
        this ledger changes them.

        Settling a trade does not touch the fee party's own account: fees go to the
        instrument's fee sub-account, which the posting statement creates or locks itself,
        after every other lock."""
        if not party_ids:
            return {}
        for party_id, available, reserved in await self.repo.lock_accounts(list(party_ids)):
            self.locked[party_id] = CashBalance(available, reserved)
        return {p: self.locked[p] for p in sorted(set(party_ids))}

    async def balance(self, party_id: str) -> CashBalance:
        """The party's balance as this transaction sees it (zero if it never had cash)."""
        row = await self.repo.read_account(party_id)
        return CashBalance(*row) if row else CashBalance(0, 0)

    async def fee_balances(self) -> dict[str, int]:
        """What each instrument's fee sub-account holds (the non-zero ones), by symbol."""
        return dict(await self.repo.fee_balances())

    async def sweep_fees(self, owner_id: str, *, ref_id: str) -> str | None:
        """Move every fee sub-account's balance into its owner's (the platform operator's)
        available cash: one balanced entry (`fee_sweep`); None if they hold nothing.

        Locks the owner's account, then the sub-accounts in instrument order: the order a
        settlement takes them (party accounts, then its fee sub-account), so it waits for the
        settlements in flight and never deadlocks with them."""
        await self.lock(owner_id)
        held = await self.repo.lock_fee_accounts()
        if not held:
            return None
        legs = [Leg(-amount, owner_id, fee_instrument=instrument) for instrument, amount in held]
        legs.append(Leg(sum(amount for _, amount in held), owner_id, "available"))
        return await self._post("fee_sweep", ref_id, legs)

    async def reserve(self, party_id: str, amount: int) -> None:
        """A hold: available → reserved, no journal entry. Raises `InsufficientFunds` if
        available < amount; 0 is a no-op."""
        await self._hold(party_id, _non_negative(amount))

    async def release(self, party_id: str, amount: int) -> None:
        """A hold given back: reserved → available, no journal entry. Raises
        `InsufficientFunds` if reserved < amount; 0 is a no-op."""
        await self._hold(party_id, -_non_negative(amount))

    async def settle_trade(
        self,
        *,
        buyer_id: str,
        seller_id: str,
        fee_party_id: str,
        fee_instrument: str,
        notional: int,
        buyer_fee: int,
        seller_fee: int,
        ref_id: str,
    ) -> str:
        """Pay for a trade from the buyer's reserved cash: the seller gets the notional less
        the seller fee, the fee party's sub-account for `fee_instrument` both fees. One entry
        (`trade_settlement`); returns its id."""
        legs = settlement_legs(
            buyer_id=buyer_id,
            seller_id=seller_id,
            fee_party_id=fee_party_id,
            fee_instrument=fee_instrument,
            notional=notional,
            buyer_fee=buyer_fee,
            seller_fee=seller_fee,
        )
        return await self._post("trade_settlement", ref_id, legs)

    async def fund(self, party_id: str, amount: int, *, source: str, ref_id: str) -> str:
        """Money enters from an external account into the party's available cash (`deposit`)."""
        if _non_negative(amount) == 0:
            raise ValueError("a deposit must be positive")
        return await self._post(
            "deposit", ref_id, [Leg(-amount, external=source), Leg(amount, party_id, "available")]
        )

    async def pay_out(self, party_id: str, amount: int, *, destination: str, ref_id: str) -> str:
        """Reserved cash leaves to an external account (`withdrawal_paid`)."""
        if _non_negative(amount) == 0:
            raise ValueError("a payout must be positive")
        return await self._post(
            "withdrawal_paid",
            ref_id,
            [Leg(-amount, party_id, "reserved"), Leg(amount, external=destination)],
        )

    async def post_many(
        self,
        entries: list[tuple[str, str, list[Leg]]],
        ids: list[str] | None = None,
        holds: list[Hold] | None = None,
    ) -> list[str]:
        """Several balanced entries and holds at once: net balance changes, entries and
        postings in one statement (the order batch's hot path). Party legs and fee credits
        only; the party accounts must be locked (`lock`); fee sub-accounts are created or
        locked by the statement itself, last. A bucket that would go negative makes the
        database refuse the whole statement (CHECK, raised as
        `sqlalchemy.exc.IntegrityError`): the caller's transaction fails. `ids` lets the caller
        name the entries beforehand (to reference them in rows written earlier)."""
        ids = list(ids) if ids is not None else [new_id("jrn") for _ in entries]
        kinds: list[str] = []
        refs: list[str] = []
        posting_entries: list[str] = []
        accounts: list[str] = []
        parties: list[str | None] = []
        amounts: list[int] = []
        net: dict[str, list[int]] = {}
        for hold in holds or []:
            bucket_deltas = net.setdefault(hold.party_id, [0, 0])
            bucket_deltas[0] -= hold.amount
            bucket_deltas[1] += hold.amount
        fees: dict[str, int] = {}
        for entry_id, (kind, ref_id, legs) in zip(ids, entries, strict=True):
            legs = [leg for leg in legs if leg.amount != 0]
            if not legs or sum(leg.amount for leg in legs) != 0:
                raise ValueError(f"unbalanced or empty journal entry {kind} for {ref_id}")
            kinds.append(kind)
            refs.append(ref_id)
            for leg in legs:
                if leg.fee_instrument is not None:
                    fees[leg.fee_instrument] = fees.get(leg.fee_instrument, 0) + leg.amount
                elif leg.party_id is None:
                    raise ValueError("post_many takes party and fee legs only")
                else:
                    net.setdefault(leg.party_id, [0, 0])[BUCKETS.index(leg.bucket)] += leg.amount
                posting_entries.append(entry_id)
                accounts.append(leg.account)
                parties.append(leg.party_id)
                amounts.append(leg.amount)
        deltas = [(p, a, r) for p, (a, r) in sorted(net.items()) if a or r]
        if any(amount < 0 for amount in fees.values()):
            raise ValueError("post_many only credits fee sub-accounts")
        fee_deltas = [(i, amount) for i, amount in sorted(fees.items()) if amount]
        await self.repo.post(
            deltas,
            fee_deltas,
            utcnow(),
            (ids, kinds, refs),
            (posting_entries, accounts, parties, amounts),
        )
        for party_id, available, reserved in deltas:
            if party_id in self.locked:
                self.locked[party_id].available += available
                self.locked[party_id].reserved += reserved
        return ids

    async def _hold(self, party_id: str, amount: int) -> None:
        """Move `amount` from available to reserved (negative: back), guarded, no entry."""
        if amount == 0:
            return
        row = await self.repo.debit(party_id, -amount, amount)
        if row is None:
            await self._refuse(party_id, -amount, amount)
        self._track(party_id, row)

    async def _post(self, kind: str, ref_id: str, legs: list[Leg]) -> str:
        """Apply the legs to the accounts and record them as one entry; returns its id.

        The one debited party is updated first, so a refusal happens before any write; entries
        debit at most one party (the others are only credited). Fee sub-accounts come last
        (the lock order). Zero legs are left out.
        """
        legs = [leg for leg in legs if leg.amount != 0]
        if not legs or sum(leg.amount for leg in legs) != 0:
            raise ValueError(f"unbalanced or empty journal entry {kind} for {ref_id}")
        deltas: dict[str, list[int]] = {}
        externals: dict[str, int] = {}
        fees: dict[str, int] = {}
        for leg in legs:
            if leg.external is not None:
                externals[leg.external] = externals.get(leg.external, 0) + leg.amount
            elif leg.fee_instrument is not None:
                fees[leg.fee_instrument] = fees.get(leg.fee_instrument, 0) + leg.amount
            else:
                assert leg.party_id is not None
                bucket_deltas = deltas.setdefault(leg.party_id, [0, 0])
                bucket_deltas[BUCKETS.index(leg.bucket)] += leg.amount
        debited = sorted(p for p, (a, r) in deltas.items() if a < 0 or r < 0)
        if len(debited) > 1:
            raise ValueError("a journal entry may debit at most one party")
        for party_id in debited:
            available, reserved = deltas[party_id]
            row = await self.repo.debit(party_id, available, reserved)
            if row is None:
                await self._refuse(party_id, available, reserved)
            self._track(party_id, row)
        for party_id in sorted(set(deltas) - set(debited)):
            available, reserved = deltas[party_id]
            self._track(party_id, await self.repo.credit(party_id, available, reserved))
        for name in sorted(externals):
            if externals[name]:
                await self.repo.add_to_external(name, externals[name])
        for instrument in sorted(fees):
            if fees[instrument]:
                await self.repo.add_to_fee_account(instrument, fees[instrument])
        entry_id = new_id("jrn")
        postings: list[dict[str, Any]] = [
            {"account": leg.account, "party_id": leg.party_id, "amount": leg.amount} for leg in legs
        ]
        await self.repo.add_entry(entry_id, kind, ref_id, utcnow(), postings)
        return entry_id

    def _track(self, party_id: str, row: tuple[int, int] | None) -> None:
        if row is not None and party_id in self.locked:
            self.locked[party_id].available, self.locked[party_id].reserved = row

    async def _refuse(self, party_id: str, available: int, reserved: int) -> NoReturn:
        have = await self.balance(party_id)
        bucket, needed, held = (
            ("available", -available, have.available)
            if available < 0 and have.available < -available
            else ("reserved", -reserved, have.reserved)
        )
        raise InsufficientFunds(
            f"{format_money(needed)} needed, {format_money(held)} {bucket}",
            requested=format_money(needed),
            available=format_money(held),
        )


def _non_negative(amount: int) -> int:
    if amount < 0:
        raise ValueError(f"amounts are non-negative fen, got {amount}")
    return amount
