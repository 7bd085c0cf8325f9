"""All SQL for compensation schemes, periods and payments."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from market.compensation.models import CompensationPayment, CompensationPeriod, CompensationScheme
from market.db.raw import raw_connection
from market.kit.repository import Repository, table_of

# (id, from account, to party, asset, amount, basis JSON, journal entry, certificate)
PaymentRow = tuple[str, str, str, str | None, int, str, str, str]

_t = table_of


SCHEMES, PERIODS, PAYMENTS = (
    _t(CompensationScheme),
    _t(CompensationPeriod),
    _t(CompensationPayment),
)

_INSERT_PAYMENTS = """
INSERT INTO compensation_payments (id, period_id, scheme_id, from_account, to_party_id, asset_id,
                                   amount, basis, journal_entry_id, certificate_id, created_at)
SELECT p.id, $2, $3, p.from_account, p.to_party_id, p.asset_id, p.amount, p.basis::jsonb,
       p.journal_entry_id, p.certificate_id, $1
FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[],
            $10::text[], $11::text[])
     AS p(id, from_account, to_party_id, asset_id, amount, basis, journal_entry_id, certificate_id)
"""


class CompensationRepository(Repository):
    """All SQL of this context (`add` and `get` come from `Repository`)."""

    async def schemes(self, *, limit: int, cursor: str | None) -> list[CompensationScheme]:
        query = select(CompensationScheme).order_by(SCHEMES.c.id).limit(limit + 1)
        if cursor:
            query = query.where(SCHEMES.c.id > cursor)
        return list((await self.session.execute(query)).scalars())

    async def overlapping_period(
        self, scheme_id: str, start: date, end: date
    ) -> CompensationPeriod | None:
        rows = await self.session.execute(
            select(CompensationPeriod).where(
                PERIODS.c.scheme_id == scheme_id,
                PERIODS.c.period_start <= end,
                PERIODS.c.period_end >= start,
            )
        )
        return rows.scalars().first()

    async def add_payments(
        self, at: object, period_id: str, scheme_id: str, rows: list[PaymentRow]
    ) -> None:
        """(id, from account, to party, asset, amount, basis JSON, journal entry, certificate)."""
        if not rows:
            return
        connection = await raw_connection(self.session)
        columns = [list(c) for c in zip(*rows, strict=True)]
        await connection.execute(_INSERT_PAYMENTS, at, period_id, scheme_id, *columns)

    async def payments_of_period(self, period_id: str) -> list[CompensationPayment]:
        rows = await self.session.execute(
            select(CompensationPayment)
            .where(PAYMENTS.c.period_id == period_id)
            .order_by(PAYMENTS.c.id)
        )
        return list(rows.scalars())

    async def payments(
        self, *, limit: int, cursor: str | None, party_id: str | None
    ) -> list[CompensationPayment]:
        """Payments, by id; with `party_id`, those it received or paid (as a scheme's payer
        or the paying side of a horizontal agreement)."""
        query = select(CompensationPayment).order_by(PAYMENTS.c.id).limit(limit + 1)
        if party_id is not None:
            paid_by = select(SCHEMES.c.id).where(SCHEMES.c.payer_id == party_id)
            query = query.where(
                (PAYMENTS.c.to_party_id == party_id)
                | (PAYMENTS.c.from_account == f"party:{party_id}")
                | PAYMENTS.c.scheme_id.in_(paid_by)
            )
        if cursor:
            query = query.where(PAYMENTS.c.id > cursor)
        return list((await self.session.execute(query)).scalars())
