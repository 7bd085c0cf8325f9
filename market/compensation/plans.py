"""What a period pays, computed from a scheme's rules and the records (no writes): the preview
and the execution share it, so execution pays exactly what the preview showed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.compensation.errors import CompensationBasisMissing, MonitoringRecordMissing
from market.compensation.models import CompensationScheme
from market.kit.money import format_money, half_even, parse_money, split_largest_remainder
from market.parties.repository import PartyRepository
from market.registry.claim_service import ClaimService
from market.valuation.monitoring_service import MonitoringService, value_text
from market.valuation.service import ValuationService

GEP_TOTAL = "gep_total"


@dataclass(slots=True)
class Planned:
    to_party_id: str
    amount: int
    basis: dict[str, Any]
    asset_id: str | None = None
    from_party_id: str | None = None  # horizontal: the paying party (else the scheme account)


@dataclass(slots=True)
class Plan:
    payments: list[Planned] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    claims: list[tuple[str, str]] = field(default_factory=list)  # (asset, service) to record

    @property
    def total(self) -> int:
        return sum(p.amount for p in self.payments)


def _ratio_text(value: Fraction) -> str:
    """A share as a decimal string with 6 places (for the basis; amounts are exact)."""
    micro = half_even(value * 1_000_000)
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"


class Planner:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.claims = ClaimService(session)

    async def plan(self, scheme: CompensationScheme, start: date, end: date) -> Plan:
        if scheme.kind == "classified":
            return await self.classified(scheme.rules, start, end)
        if scheme.kind == "comprehensive":
            return await self.comprehensive(scheme.rules, start, end)
        return await self.horizontal(scheme.rules, start, end)

    async def classified(self, rules: dict[str, Any], start: date, end: date) -> Plan:
        """area × rate per asset (half-even to the fen), split among the receiving right
        holders by share (largest remainder); assets whose service is already claimed for an
        overlapping period are excluded, naming the earlier claim."""
        service, rate = rules["service"], parse_money(rules["rate_per_ha"])
        assets = await self.claims.compensable_assets(
            rules["resource_type"], rules["region_prefix"], end
        )
        earlier = await self.claims.overlapping([(a.asset_id, service) for a in assets], start, end)
        plan = Plan()
        for asset in assets:
            claim = earlier.get((asset.asset_id, service))
            if claim is not None:
                plan.excluded += [
                    {"asset_id": asset.asset_id, "party_id": holder, "reason": "double_claim",
                     "claim": {k: claim[k] for k in ("source", "source_id", "period_start",
                                                      "period_end")}}
                    for holder, _ in asset.holders
                ]  # fmt: skip
                continue
            amount = half_even(Fraction(Decimal(asset.area_ha)) * rate)
            shares = split_largest_remainder(
                amount, [int(Decimal(share) * 100) for _, share in asset.holders]
            )
            paid = False
            for (holder, share), part in zip(asset.holders, shares, strict=True):
                if part <= 0:
                    continue
                paid = True
                plan.payments.append(
                    Planned(
                        to_party_id=holder,
                        asset_id=asset.asset_id,
                        amount=part,
                        basis={
                            "service": service,
                            "area_ha": value_text(Decimal(asset.area_ha)),
                            "rate_per_ha": rules["rate_per_ha"],
                            "asset_amount": format_money(amount),
                            "share": value_text(Decimal(share)),
                        },
                    )
                )
            if paid:
                plan.claims.append((asset.asset_id, service))
        return plan

    async def comprehensive(self, rules: dict[str, Any], start: date, end: date) -> Plan:
        """The budget shared by weighted indicators: a recipient's score is Σ weight × its part
        of the indicator's sum over all recipients (indicators with no data leave the weights
        renormalized); amounts by largest remainder, ties to the earlier recipient."""
        recipients: list[str] = rules["recipients"]
        parties = await PartyRepository(self.session).get_many(set(recipients))
        regions = {p: parties[p].region_code for p in recipients if p in parties}
        region_list = sorted(set(regions.values()))
        budget = parse_money(rules["budget_per_period"])
        values: dict[str, dict[str, Fraction]] = {}
        for weight in rules["weights"]:
            indicator = weight["indicator"]
            if indicator == GEP_TOTAL:
                found = await ValuationService(self.session).published_totals(
                    region_list, start.year
                )
                by_region = {r: Fraction(v) for r, v in found.items()}
            else:
                measured = await MonitoringService(self.session).regional_values(
                    region_list, indicator, start, end
                )
                by_region = {r: Fraction(max(v, Decimal(0))) for r, v in measured.items()}
            values[indicator] = {
                p: by_region.get(regions.get(p, ""), Fraction(0)) for p in recipients
            }
        used = [w for w in rules["weights"] if sum(values[w["indicator"]].values()) > 0]
        if not used:
            raise CompensationBasisMissing(
                "no weighted indicator has data for the recipients in this period"
            )
        weight_sum = sum(Fraction(Decimal(w["weight"])) for w in used)
        scores = {
            p: sum(
                (
                    Fraction(Decimal(w["weight"])) / weight_sum
                    * values[w["indicator"]][p] / sum(values[w["indicator"]].values())
                    for w in used
                ),
                Fraction(0),
            )
            for p in recipients
        }  # fmt: skip
        amounts = split_largest_remainder(budget, [scores[p] for p in recipients])
        plan = Plan()
        for party, amount in zip(recipients, amounts, strict=True):
            if amount <= 0:
                continue
            plan.payments.append(
                Planned(
                    to_party_id=party,
                    amount=amount,
                    basis={
                        "budget_per_period": rules["budget_per_period"],
                        "region_code": regions.get(party),
                        "share": _ratio_text(scores[party]),
                        "indicators": {
                            w["indicator"]: _indicator_text(
                                w["indicator"], values[w["indicator"]][party]
                            )
                            for w in used
                        },
                    },
                )
            )  # fmt: skip
        return plan

    async def horizontal(self, rules: dict[str, Any], start: date, end: date) -> Plan:
        """The monitoring record of the section decides who pays the agreed amount."""
        record = await MonitoringService(self.session).covering(
            "section", rules["section"], rules["indicator"], start, end
        )
        if record is None:
            raise MonitoringRecordMissing(
                f"no {rules['indicator']} record for section {rules['section']} covers "
                f"{start}..{end}"
            )
        target = Decimal(rules["target"]["value"])
        value = Decimal(record.value)
        met = value <= target if rules["target"]["op"] == "<=" else value >= target
        upstream, downstream = rules["upstream_party_id"], rules["downstream_party_id"]
        payer, payee = (downstream, upstream) if met else (upstream, downstream)
        plan = Plan()
        plan.payments.append(
            Planned(
                to_party_id=payee,
                from_party_id=payer,
                amount=parse_money(rules["amount"]),
                basis={
                    "section": rules["section"],
                    "indicator": rules["indicator"],
                    "record_id": record.id,
                    "value": value_text(value),
                    "target": f"{rules['target']['op']} {rules['target']['value']}",
                    "target_met": met,
                },
            )
        )
        return plan


def _indicator_text(indicator: str, value: Fraction) -> str:
    if indicator == GEP_TOTAL:
        return format_money(int(value))
    return value_text(Decimal(value.numerator) / Decimal(value.denominator))
