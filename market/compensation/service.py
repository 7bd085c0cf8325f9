"""Compensation schemes, their funding and the settlement of periods (DOMAIN.md "Compensation
scheme", "Settling a period").

Settling locks the scheme's row first (one settlement per scheme at a time, in every process),
computes the plan (`plans.Planner`), then — unless it is a preview — writes the period, pays
every payment as a balanced journal entry, records the claims on nature it pays for (refused by
the database on an overlap), and signs one platform certificate per payment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.compensation_ledger import CompensationLedger, scheme_account
from market.certification.service import CertificateService
from market.compensation.errors import (
    PeriodAlreadySettled,
    SchemeHasNoAccount,
    UnknownRecipient,
)
from market.compensation.models import CompensationPayment, CompensationPeriod, CompensationScheme
from market.compensation.plans import Plan, Planner
from market.compensation.repository import CompensationRepository
from market.compensation.schemas import FundIn, HorizontalRules, PeriodIn, SchemeCreate
from market.kit.errors import Forbidden, InvalidInput, NotFound
from market.kit.ids import new_id
from market.kit.money import format_money, parse_money
from market.kit.time import utcnow
from market.parties.repository import PartyRepository
from market.parties.roles import TRADERS, Caller, require
from market.parties.service import PartyService

# API.md: recipient, payer, regulator (the operator no more reads them than ledger entries).
PAYMENT_READERS = frozenset({"regulator"})


@dataclass(frozen=True, slots=True)
class PaidPayment:
    """A payment as the settlement answers it (a plain object: a settlement may make 20,000)."""

    id: str
    from_account: str
    to_party_id: str
    asset_id: str | None
    amount: int
    certificate_id: str


@dataclass(slots=True)
class Settled:
    period: CompensationPeriod
    payments: list[PaidPayment]


class CompensationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = CompensationRepository(session)
        self.ledger = CompensationLedger(session)

    async def create_scheme(self, caller: Caller, data: SchemeCreate) -> CompensationScheme:
        """A government body sets up a scheme; classified and comprehensive ones get a cash
        account; a horizontal one is set up by one of its two parties."""
        require(caller, "government")
        await PartyService(self.session).require_active(caller)
        rules = data.rules.model_dump(mode="json")
        named: list[str] = []
        if isinstance(data.rules, HorizontalRules):
            named = [data.rules.upstream_party_id, data.rules.downstream_party_id]
            if caller.party_id not in named:
                raise Forbidden("a horizontal scheme is set up by its upstream or downstream party")
        elif data.kind == "comprehensive":
            named = list(rules["recipients"])
        parties = await PartyRepository(self.session).get_many(set(named))
        if unknown := [p for p in named if p not in parties or parties[p].kind not in TRADERS]:
            raise UnknownRecipient(
                f"not a collective, enterprise or government: {', '.join(unknown)}",
                party_ids=unknown,
            )
        scheme = CompensationScheme(
            id=new_id("csch"),
            payer_id=caller.party_id,
            name=data.name,
            kind=data.kind,
            rules=rules,
            created_at=utcnow(),
        )
        await self.repo.add(scheme)
        if scheme.kind != "horizontal":
            await self.ledger.open_scheme_account(scheme.id)
        return scheme

    async def scheme(self, scheme_id: str) -> CompensationScheme:
        scheme = await self.repo.get(CompensationScheme, scheme_id)
        if scheme is None:
            raise NotFound("scheme not found")
        return scheme

    async def schemes(self, *, limit: int, cursor: str | None) -> list[CompensationScheme]:
        return await self.repo.schemes(limit=limit, cursor=cursor)

    async def balances(self, scheme_ids: list[str]) -> dict[str, int]:
        return await self.ledger.scheme_balances(scheme_ids)

    async def fund(self, caller: Caller, scheme_id: str, data: FundIn) -> CompensationScheme:
        """The payer moves available cash into the scheme's account."""
        scheme = await self._locked(scheme_id)
        if caller.party_id != scheme.payer_id:
            raise Forbidden("only the scheme's payer funds it")
        await PartyService(self.session).require_active(caller)
        if scheme.kind == "horizontal":
            raise SchemeHasNoAccount("a horizontal scheme pays from its parties' own cash")
        amount = parse_money(data.amount)
        if amount <= 0:
            raise InvalidInput("amount must be positive", field="amount")
        await self.ledger.fund_scheme(caller.party_id, scheme.id, amount, ref_id=scheme.id)
        return scheme

    async def settle(self, caller: Caller, scheme_id: str, data: PeriodIn) -> Plan | Settled:
        """Preview (a `Plan`) or execute (`Settled`) one period of a scheme."""
        scheme = await self._locked(scheme_id)
        parties = [scheme.payer_id]
        if scheme.kind == "horizontal":
            parties = [scheme.rules["upstream_party_id"], scheme.rules["downstream_party_id"]]
        if caller.party_id not in parties:
            raise Forbidden("only the scheme's payer (or a horizontal scheme's parties) settles")
        earlier = await self.repo.overlapping_period(scheme.id, data.period_start, data.period_end)
        if earlier is not None:
            raise PeriodAlreadySettled(
                f"period {earlier.period_start}..{earlier.period_end} is settled ({earlier.id})",
                period_id=earlier.id,
            )
        plan = await Planner(self.session).plan(scheme, data.period_start, data.period_end)
        if data.preview:
            return plan
        await PartyService(self.session).require_active(caller)
        return await self._execute(caller, scheme, data.period_start, data.period_end, plan)

    async def payments(
        self, caller: Caller, party_id: str | None, *, limit: int, cursor: str | None
    ) -> list[CompensationPayment]:
        """Payments a party received or paid; regulators see every one."""
        if party_id is None and caller.kind not in PAYMENT_READERS:
            party_id = caller.party_id
        if party_id not in (None, caller.party_id) and caller.kind not in PAYMENT_READERS:
            raise NotFound("party not found")
        return await self.repo.payments(limit=limit, cursor=cursor, party_id=party_id)

    async def payments_of(self, period_id: str) -> list[CompensationPayment]:
        return await self.repo.payments_of_period(period_id)

    async def _execute(
        self, caller: Caller, scheme: CompensationScheme, start: date, end: date, plan: Plan
    ) -> Settled:
        now = utcnow()
        period = CompensationPeriod(
            id=new_id("cper"),
            scheme_id=scheme.id,
            period_start=start,
            period_end=end,
            settled_by=caller.party_id,
            total=plan.total,
            excluded=plan.excluded,
            created_at=now,
        )
        await self.repo.add(period)
        ids = [new_id("cpay") for _ in plan.payments]
        if scheme.kind == "horizontal":
            entries = []
            for payment_id, planned in zip(ids, plan.payments, strict=True):
                assert planned.from_party_id is not None
                entries.append(
                    await self.ledger.pay_between(
                        planned.from_party_id,
                        planned.to_party_id,
                        planned.amount,
                        ref_id=payment_id,
                    )
                )
            sources = [f"party:{p.from_party_id}" for p in plan.payments]
        else:
            entries = await self.ledger.pay_from_scheme(
                scheme.id,
                [(p.to_party_id, p.amount, i) for p, i in zip(plan.payments, ids, strict=True)],
            )
            sources = [scheme_account(scheme.id)] * len(ids)
        if plan.claims:
            await Planner(self.session).claims.record(
                plan.claims, start, end, source="compensation", source_id=period.id
            )
        certificates = CertificateService(self.session)
        platform = await certificates.platform_party_id()
        facts = [
            payment_facts(payment_id, scheme, period, planned, source, entry)
            for payment_id, planned, source, entry in zip(
                ids, plan.payments, sources, entries, strict=True
            )
        ]
        signed = await certificates.issue_many(
            [
                ("compensation_payment", payment_id, platform, fact)
                for payment_id, fact in zip(ids, facts, strict=True)
            ]
        )
        rows = [
            (payment_id, source, planned.to_party_id, planned.asset_id, planned.amount,
             json.dumps(planned.basis, ensure_ascii=False), entry, certificate.id)
            for payment_id, planned, source, entry, certificate
            in zip(ids, plan.payments, sources, entries, signed, strict=True)
        ]  # fmt: skip
        await self.repo.add_payments(now, period.id, scheme.id, rows)
        payments = [
            PaidPayment(id=row[0], from_account=row[1], to_party_id=row[2], asset_id=row[3],
                        amount=row[4], certificate_id=row[7])
            for row in rows
        ]  # fmt: skip
        return Settled(period, payments)

    async def _locked(self, scheme_id: str) -> CompensationScheme:
        scheme = await self.repo.get(CompensationScheme, scheme_id, lock=True)
        if scheme is None:
            raise NotFound("scheme not found")
        return scheme


def payment_facts(
    payment_id: str,
    scheme: CompensationScheme,
    period: CompensationPeriod,
    planned: Any,
    source: str,
    entry: str,
) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "scheme_id": scheme.id,
        "scheme_kind": scheme.kind,
        "period_id": period.id,
        "period_start": period.period_start,
        "period_end": period.period_end,
        "from_account": source,
        "to_party_id": planned.to_party_id,
        "asset_id": planned.asset_id,
        "amount": format_money(planned.amount),
        "basis": planned.basis,
        "journal_entry_id": entry,
    }
