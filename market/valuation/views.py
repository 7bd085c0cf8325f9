"""Turn value-accounting rows into response models."""

from __future__ import annotations

from market.kit.money import format_money
from market.valuation.models import GepIndicator, GepMethodology, MonitoringRecord
from market.valuation.monitoring_service import subject_json, value_text
from market.valuation.schemas import (
    AccountOut,
    IndicatorOut,
    LineOut,
    MethodologyOut,
    MonitoringOut,
)
from market.valuation.service import AccountView, line_json


def _money(fen: int | None) -> str | None:
    return None if fen is None else format_money(fen)


def methodology_out(methodology: GepMethodology, indicators: list[GepIndicator]) -> MethodologyOut:
    return MethodologyOut(
        id=methodology.id,
        code=methodology.code,
        version=methodology.version,
        name=methodology.name,
        created_by=methodology.created_by,
        created_at=methodology.created_at,
        indicators=[
            IndicatorOut(
                code=i.code,
                name=i.name,
                category=i.category,
                unit=i.unit,
                price=_money(i.price),
                price_source=i.price_source,
                market_instrument=i.market_instrument,
                default_price=_money(i.default_price),
            )
            for i in indicators
        ],
    )


def account_out(view: AccountView) -> AccountOut:
    account = view.account
    return AccountOut(
        id=account.id,
        region_code=account.region_code,
        year=account.year,
        methodology={"code": view.methodology.code, "version": view.methodology.version},
        status=account.status,
        drafter_id=account.drafter_id,
        lines=[LineOut(**line_json(line)) for line in view.lines],
        by_category=account.by_category,
        total=format_money(account.total),
        supersedes=account.supersedes,
        superseded_by=account.superseded_by,
        reason=account.reason,
        certificate_id=account.certificate_id,
        created_at=account.created_at,
        published_at=account.published_at,
    )


def record_out(record: MonitoringRecord) -> MonitoringOut:
    return MonitoringOut(
        id=record.id,
        subject=subject_json(record),
        indicator=record.indicator,
        period_start=record.period_start,
        period_end=record.period_end,
        value=value_text(record.value),
        unit=record.unit,
        recorder_id=record.recorder_id,
        certificate_id=record.certificate_id,
        created_at=record.created_at,
    )
