"""All SQL for GEP methodologies, accounts and monitoring records."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, tuple_, update

from market.db.raw import raw_connection
from market.kit.repository import Repository, table_of
from market.valuation.models import (
    GepAccount,
    GepAccountLine,
    GepIndicator,
    GepMethodology,
    MonitoringRecord,
)

_t = table_of


METHODOLOGIES, INDICATORS = _t(GepMethodology), _t(GepIndicator)
ACCOUNTS, LINES, RECORDS = _t(GepAccount), _t(GepAccountLine), _t(MonitoringRecord)

_INSERT_LINES = """
INSERT INTO gep_account_lines (account_id, indicator, category, unit, quantity, unit_price,
                               value, asset_id)
SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::numeric[], $6::bigint[],
                         $7::bigint[], $8::text[])
"""


class ValuationRepository(Repository):
    """All SQL of this context (`add` and `get` come from `Repository`)."""

    # methodologies --------------------------------------------------------------------------

    async def methodology(self, code: str, version: str) -> GepMethodology | None:
        rows = await self.session.execute(
            select(GepMethodology).where(
                METHODOLOGIES.c.code == code, METHODOLOGIES.c.version == version
            )
        )
        return rows.scalars().first()

    async def methodologies(self, *, limit: int, cursor: str | None) -> list[GepMethodology]:
        query = select(GepMethodology).order_by(METHODOLOGIES.c.id).limit(limit + 1)
        if cursor:
            query = query.where(METHODOLOGIES.c.id > cursor)
        return list((await self.session.execute(query)).scalars())

    async def methodologies_by_id(self, ids: set[str]) -> dict[str, GepMethodology]:
        if not ids:
            return {}
        rows = await self.session.execute(select(GepMethodology).where(METHODOLOGIES.c.id.in_(ids)))
        return {m.id: m for m in rows.scalars()}

    async def indicators(self, methodology_ids: list[str]) -> dict[str, list[GepIndicator]]:
        found: dict[str, list[GepIndicator]] = {m: [] for m in methodology_ids}
        if not methodology_ids:
            return found
        rows = await self.session.execute(
            select(GepIndicator)
            .where(INDICATORS.c.methodology_id.in_(methodology_ids))
            .order_by(INDICATORS.c.methodology_id, INDICATORS.c.position)
        )
        for indicator in rows.scalars():
            found[indicator.methodology_id].append(indicator)
        return found

    # accounts -------------------------------------------------------------------------------

    async def add_lines(self, account_id: str, lines: list[GepAccountLine]) -> None:
        connection = await raw_connection(self.session)
        await connection.execute(
            _INSERT_LINES,
            account_id,
            [line.indicator for line in lines],
            [line.category for line in lines],
            [line.unit for line in lines],
            [line.quantity for line in lines],
            [line.unit_price for line in lines],
            [line.value for line in lines],
            [line.asset_id for line in lines],
        )

    async def lines_of(self, account_ids: list[str]) -> dict[str, list[GepAccountLine]]:
        found: dict[str, list[GepAccountLine]] = {a: [] for a in account_ids}
        if not account_ids:
            return found
        rows = await self.session.execute(
            select(GepAccountLine)
            .where(LINES.c.account_id.in_(account_ids))
            .order_by(LINES.c.account_id, LINES.c.id)
        )
        for line in rows.scalars():
            found[line.account_id].append(line)
        return found

    async def accounts(
        self,
        *,
        limit: int,
        cursor: str | None,
        region_code: str | None,
        year: int | None,
        statuses: tuple[str, ...],
        drafts_of: str | None,
    ) -> list[GepAccount]:
        """Accounts ordered by region, year and id (a region's series in year order); drafts
        only when `drafts_of` is "*" (every draft) or the drafter's id."""
        query = (
            select(GepAccount)
            .order_by(ACCOUNTS.c.region_code, ACCOUNTS.c.year, ACCOUNTS.c.id)
            .limit(limit + 1)
        )
        visible: Any = ACCOUNTS.c.status.in_([s for s in statuses if s != "draft"])
        if "draft" in statuses and drafts_of is not None:
            mine = ACCOUNTS.c.status == "draft"
            if drafts_of != "*":
                mine = mine & (ACCOUNTS.c.drafter_id == drafts_of)
            visible = visible | mine
        query = query.where(visible)
        if region_code:
            query = query.where(ACCOUNTS.c.region_code == region_code)
        if year is not None:
            query = query.where(ACCOUNTS.c.year == year)
        if cursor:
            region, _, rest = cursor.partition(":")
            cursor_year, _, cursor_id = rest.partition(":")
            if cursor_year.isdigit():
                key = (ACCOUNTS.c.region_code, ACCOUNTS.c.year, ACCOUNTS.c.id)
                query = query.where(tuple_(*key) > tuple_(region, int(cursor_year), cursor_id))
        return list((await self.session.execute(query)).scalars())

    async def published_account(self, region_code: str, year: int) -> GepAccount | None:
        rows = await self.session.execute(
            select(GepAccount).where(
                ACCOUNTS.c.region_code == region_code,
                ACCOUNTS.c.year == year,
                ACCOUNTS.c.status == "published",
            )
        )
        return rows.scalars().first()

    async def published_totals(self, region_codes: list[str], year: int) -> dict[str, int]:
        rows = await self.session.execute(
            select(ACCOUNTS.c.region_code, ACCOUNTS.c.total).where(
                ACCOUNTS.c.region_code.in_(region_codes),
                ACCOUNTS.c.year == year,
                ACCOUNTS.c.status == "published",
            )
        )
        return {r[0]: int(r[1]) for r in rows}

    async def mark_superseded(self, account_id: str, by: str) -> None:
        await self.session.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == account_id)
            .values(status="superseded", superseded_by=by)
        )

    # monitoring -----------------------------------------------------------------------------

    async def records(
        self,
        *,
        limit: int,
        cursor: str | None,
        subject: tuple[str, str] | None,
        indicator: str | None,
        since: date | None,
        until: date | None,
    ) -> list[MonitoringRecord]:
        query = select(MonitoringRecord).order_by(RECORDS.c.id).limit(limit + 1)
        if subject is not None:
            query = query.where(
                RECORDS.c.subject_kind == subject[0], RECORDS.c.subject == subject[1]
            )
        if indicator:
            query = query.where(RECORDS.c.indicator == indicator)
        if since is not None:
            query = query.where(RECORDS.c.period_end >= since)
        if until is not None:
            query = query.where(RECORDS.c.period_start <= until)
        if cursor:
            query = query.where(RECORDS.c.id > cursor)
        return list((await self.session.execute(query)).scalars())

    async def latest_records(
        self,
        subject_kind: str,
        subjects: list[str],
        indicator: str,
        start: date,
        end: date,
        *,
        covering: bool,
    ) -> dict[str, MonitoringRecord]:
        """Per subject, the newest record of `indicator` that covers [start, end] (or, when
        not `covering`, overlaps it)."""
        query = select(MonitoringRecord).where(
            RECORDS.c.subject_kind == subject_kind,
            RECORDS.c.subject.in_(subjects),
            RECORDS.c.indicator == indicator,
        )
        if covering:
            query = query.where(RECORDS.c.period_start <= start, RECORDS.c.period_end >= end)
        else:
            query = query.where(RECORDS.c.period_start <= end, RECORDS.c.period_end >= start)
        found: dict[str, MonitoringRecord] = {}
        for record in (await self.session.execute(query.order_by(RECORDS.c.id))).scalars():
            found[record.subject] = record
        return found
