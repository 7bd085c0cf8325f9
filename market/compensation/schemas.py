"""Compensation request and response models (API.md "Value accounting and compensation")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints, model_validator

from market.kit.schema import Day, Id, Input, Money, Name, Output, Timestamp
from market.registry.schemas import ResourceType
from market.valuation.schemas import IndicatorCode, MeasuredValue, SectionName

SchemeKind = Literal["classified", "comprehensive", "horizontal"]
RegionPrefix = Annotated[str, StringConstraints(pattern=r"^[0-9]{2,6}$")]


def exact_bool(value: Any) -> Any:
    """JSON true/false only (no "yes", 1 or "true")."""
    if type(value) is not bool:
        raise ValueError("must be a JSON boolean")
    return value


StrictBool = Annotated[bool, BeforeValidator(exact_bool)]
Weight = Annotated[str, StringConstraints(pattern=r"^(0(\.[0-9]{1,4})?|1(\.0{1,4})?)$")]


class ClassifiedRules(Input):
    """A rate per hectare per settled period for confirmed assets of a type in a region."""

    region_prefix: RegionPrefix
    resource_type: ResourceType
    service: IndicatorCode
    rate_per_ha: Money


class WeightIn(Input):
    indicator: IndicatorCode = Field(
        description="`gep_total` (the recipient region's published GEP) or a monitoring indicator"
    )
    weight: Weight


class ComprehensiveRules(Input):
    """A budget per period shared among recipients by weighted indicators."""

    budget_per_period: Money
    recipients: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    weights: Annotated[list[WeightIn], Field(min_length=1, max_length=20)]

    @model_validator(mode="after")
    def _consistent(self) -> ComprehensiveRules:
        if len(set(self.recipients)) != len(self.recipients):
            raise ValueError("recipients must be distinct")
        if len({w.indicator for w in self.weights}) != len(self.weights):
            raise ValueError("one weight per indicator")
        if sum(Decimal(w.weight) for w in self.weights) != 1:
            raise ValueError("weights must add up to 1")
        return self


class Target(Input):
    op: Literal["<=", ">="]
    value: MeasuredValue


class HorizontalRules(Input):
    """Per period: target met → downstream pays upstream `amount`, else upstream pays."""

    upstream_party_id: Id
    downstream_party_id: Id
    section: SectionName
    indicator: IndicatorCode
    target: Target
    amount: Money

    @model_validator(mode="after")
    def _two_parties(self) -> HorizontalRules:
        if self.upstream_party_id == self.downstream_party_id:
            raise ValueError("upstream and downstream must be different parties")
        if self.amount == "0.00":
            raise ValueError("amount must be positive")
        return self


class SchemeCreate(Input):
    name: Name
    kind: SchemeKind
    rules: ClassifiedRules | ComprehensiveRules | HorizontalRules

    @model_validator(mode="after")
    def _rules_of_kind(self) -> SchemeCreate:
        if not isinstance(self.rules, RULES[self.kind]):
            raise ValueError(f"rules do not fit a {self.kind} scheme")
        return self


RULES: dict[str, type[Input]] = {
    "classified": ClassifiedRules,
    "comprehensive": ComprehensiveRules,
    "horizontal": HorizontalRules,
}


class FundIn(Input):
    amount: Money


class PeriodIn(Input):
    period_start: Day
    period_end: Day
    preview: StrictBool = False

    @model_validator(mode="after")
    def _period(self) -> PeriodIn:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class SchemeOut(Output):
    id: str
    payer_id: str
    name: str
    kind: str
    rules: dict[str, Any]
    balance: str
    created_at: Timestamp


class ClaimRef(Output):
    source: str
    source_id: str
    period_start: str
    period_end: str


class ExcludedOut(Output):
    asset_id: str
    party_id: str
    reason: str
    claim: ClaimRef


class PlannedPaymentOut(Output):
    to_party_id: str
    from_party_id: str | None = None
    asset_id: str | None
    amount: str
    basis: dict[str, Any]


class PreviewOut(Output):
    scheme_id: str
    period_start: date
    period_end: date
    total: str
    payments: list[PlannedPaymentOut]
    excluded: list[ExcludedOut]


class PaidOut(Output):
    id: str
    to_party_id: str
    from_account: str
    asset_id: str | None
    amount: str
    certificate_id: str


class PeriodOut(Output):
    id: str
    scheme_id: str
    period_start: date
    period_end: date
    total: str
    payments: list[PaidOut]
    excluded: list[ExcludedOut]
    created_at: Timestamp


class PaymentOut(Output):
    id: str
    period_id: str
    scheme_id: str
    from_account: str
    to_party_id: str
    asset_id: str | None
    amount: str
    basis: dict[str, Any]
    journal_entry_id: str
    certificate_id: str
    created_at: Timestamp
