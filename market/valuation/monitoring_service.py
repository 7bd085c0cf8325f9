"""Monitoring records (DOMAIN.md "Monitoring record"): a measured indicator for an asset, a
region or a monitoring section over a period, recorded by a registrar or certifier, signed by
its recorder, immutable (append-only in the database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.service import CertificateService
from market.kit.errors import InvalidInput
from market.kit.ids import new_id
from market.kit.money import format_decimal
from market.kit.time import utcnow
from market.parties.roles import Caller, require
from market.parties.service import PartyService
from market.registry.claim_service import ClaimService
from market.valuation.errors import UnknownAsset
from market.valuation.models import MonitoringRecord
from market.valuation.repository import ValuationRepository
from market.valuation.schemas import MonitoringCreate

SUBJECT_KEYS = {"asset": "asset_id", "region": "region_code", "section": "section"}


def parse_subject(text: str) -> tuple[str, str]:
    """`section:{name}` | `asset:{id}` | `region:{code}` → (kind, subject)."""
    kind, sep, value = text.partition(":")
    if not sep or kind not in SUBJECT_KEYS or not value:
        raise InvalidInput(
            "subject must be section:{name}, asset:{id} or region:{code}", field="subject"
        )
    return kind, value


def value_text(value: Decimal) -> str:
    return format_decimal(Decimal(value), 0).rstrip(".")


def subject_json(record: MonitoringRecord) -> dict[str, str]:
    return {SUBJECT_KEYS[record.subject_kind]: record.subject}


def record_facts(record: MonitoringRecord) -> dict[str, Any]:
    return {
        "record_id": record.id,
        "subject": subject_json(record),
        "indicator": record.indicator,
        "period_start": record.period_start,
        "period_end": record.period_end,
        "value": value_text(record.value),
        "unit": record.unit,
        "recorder_id": record.recorder_id,
    }


class MonitoringService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = ValuationRepository(session)

    async def record(self, caller: Caller, data: MonitoringCreate) -> MonitoringRecord:
        require(caller, "registrar", "certifier")
        await PartyService(self.session).require_active(caller)
        subject = data.subject
        if subject.asset_id is not None:
            kind, name = "asset", subject.asset_id
            if not await ClaimService(self.session).regions_of([name]):
                raise UnknownAsset(f"unknown asset {name}", asset_ids=[name])
        elif subject.region_code is not None:
            kind, name = "region", subject.region_code
        else:
            assert subject.section is not None
            kind, name = "section", subject.section
        record = MonitoringRecord(
            id=new_id("mon"),
            subject_kind=kind,
            subject=name,
            indicator=data.indicator,
            period_start=data.period_start,
            period_end=data.period_end,
            value=Decimal(data.value),
            unit=data.unit,
            recorder_id=caller.party_id,
            certificate_id="",
            created_at=utcnow(),
        )
        certificate = await CertificateService(self.session).issue(
            "monitoring_record", record.id, caller.party_id, record_facts(record)
        )
        record.certificate_id = certificate.id
        await self.repo.add(record)
        return record

    async def records(
        self,
        *,
        limit: int,
        cursor: str | None,
        subject: str | None,
        indicator: str | None,
        since: date | None,
        until: date | None,
    ) -> list[MonitoringRecord]:
        """Records oldest first; `since`/`until` keep those whose period overlaps them."""
        return await self.repo.records(
            limit=limit,
            cursor=cursor,
            subject=parse_subject(subject) if subject else None,
            indicator=indicator,
            since=since,
            until=until,
        )

    async def covering(
        self, kind: str, subject: str, indicator: str, start: date, end: date
    ) -> MonitoringRecord | None:
        """The newest record of `indicator` for the subject whose period covers [start, end]."""
        found = await self.repo.latest_records(
            kind, [subject], indicator, start, end, covering=True
        )
        return found.get(subject)

    async def regional_values(
        self, regions: list[str], indicator: str, start: date, end: date
    ) -> dict[str, Decimal]:
        """Per region, the newest value of `indicator` recorded for a period overlapping
        [start, end]."""
        found = await self.repo.latest_records(
            "region", regions, indicator, start, end, covering=False
        )
        return {region: Decimal(r.value) for region, r in found.items()}
