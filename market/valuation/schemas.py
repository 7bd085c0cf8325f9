"""Value accounting request and response models (API.md "Value accounting and compensation")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from market.kit.schema import (
    JSON_INT,
    Day,
    Id,
    Input,
    Money,
    Name,
    Output,
    RegionCode,
    Timestamp,
)

Category = Literal["provisioning", "regulating", "cultural"]
IndicatorCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A physical quantity: non-negative, at most 4 decimal places.
PhysicalQuantity = Annotated[
    str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,4})?$")
]
# A measured value: may be negative (e.g. a temperature anomaly), at most 4 decimal places.
MeasuredValue = Annotated[
    str, StringConstraints(pattern=r"^-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,4})?$")
]
Year = Annotated[int, Field(ge=1990, le=2100), JSON_INT]
SectionName = Annotated[str, StringConstraints(pattern=r"^[^\s:][^:]{0,199}$")]


class IndicatorIn(Input):
    code: IndicatorCode
    name: Name
    category: Category
    unit: Unit
    price: Money | None = Field(description="CNY per unit; null: valued at the market")
    price_source: Annotated[str, StringConstraints(max_length=500)] | None = None
    market_instrument: Symbol | None = None
    default_price: Money | None = None

    @model_validator(mode="after")
    def _one_valuation(self) -> IndicatorIn:
        if self.price is None and (self.market_instrument is None or self.default_price is None):
            raise ValueError("a market-priced indicator needs market_instrument and default_price")
        if self.price is not None and (
            self.market_instrument is not None or self.default_price is not None
        ):
            raise ValueError("a fixed price excludes market_instrument and default_price")
        return self


class MethodologyCreate(Input):
    code: Code
    version: Code
    name: Name | None = None
    indicators: Annotated[list[IndicatorIn], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _unique_codes(self) -> MethodologyCreate:
        codes = [i.code for i in self.indicators]
        if len(codes) != len(set(codes)):
            raise ValueError("indicator codes must be unique")
        return self


class IndicatorOut(Output):
    code: str
    name: str
    category: str
    unit: str
    price: str | None
    price_source: str | None
    market_instrument: str | None
    default_price: str | None


class MethodologyOut(Output):
    id: str
    code: str
    version: str
    name: str
    created_by: str | None
    created_at: Timestamp
    indicators: list[IndicatorOut]


class MethodologyRef(Input):
    code: Code
    version: Code


class LineIn(Input):
    indicator: IndicatorCode
    quantity: PhysicalQuantity
    asset_id: Id | None = None


class AccountCreate(Input):
    region_code: RegionCode
    year: Year
    methodology: MethodologyRef
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=20_000)]
    supersedes: Id | None = None
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _correction_says_why(self) -> AccountCreate:
        if self.supersedes is not None and self.reason is None:
            raise ValueError("a correction (supersedes) needs a reason")
        keys = [(line.indicator, line.asset_id) for line in self.lines]
        if len(keys) != len(set(keys)):
            raise ValueError("one line per indicator and asset")
        return self


class LineOut(Output):
    indicator: str
    category: str
    unit: str
    quantity: str
    unit_price: str
    value: str
    asset_id: str | None


class AccountOut(Output):
    id: str
    region_code: str
    year: int
    methodology: dict[str, str]
    status: str
    drafter_id: str
    lines: list[LineOut]
    by_category: dict[str, str]
    total: str
    supersedes: str | None
    superseded_by: str | None
    reason: str | None
    certificate_id: str | None
    created_at: Timestamp
    published_at: Timestamp | None


class SubjectIn(Input):
    """Exactly one of asset_id, region_code, section."""

    asset_id: Id | None = None
    region_code: RegionCode | None = None
    section: SectionName | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SubjectIn:
        if sum(v is not None for v in (self.asset_id, self.region_code, self.section)) != 1:
            raise ValueError("subject names exactly one of asset_id, region_code, section")
        return self


class MonitoringCreate(Input):
    subject: SubjectIn
    indicator: IndicatorCode
    period_start: Day
    period_end: Day
    value: MeasuredValue
    unit: Unit

    @model_validator(mode="after")
    def _period(self) -> MonitoringCreate:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        return self


class MonitoringOut(Output):
    id: str
    subject: dict[str, Any]
    indicator: str
    period_start: date
    period_end: date
    value: str
    unit: str
    recorder_id: str
    certificate_id: str
    created_at: Timestamp
