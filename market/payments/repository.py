"""All SQL for the Stripe event inbox, connected accounts and payouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from market.payments.models import ConnectedAccount, Payout, StripeEvent

STRIPE_EVENTS: Table = StripeEvent.__table__  # type: ignore[attr-defined]


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store_event(
        self, event_id: str, kind: str, object_id: str | None, payload: dict[str, Any], at: datetime
    ) -> bool:
        """Insert the event unless its id is already there; True if this call stored it.

        A concurrent delivery of the same id waits here for the first transaction, then
        stores nothing: only one of them ever applies the event."""
        statement = (
            insert(StripeEvent)
            .values(id=event_id, type=kind, object_id=object_id, payload=payload, received_at=at)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(STRIPE_EVENTS.c.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def connected_account(self, party_id: str) -> ConnectedAccount | None:
        return await self.session.get(ConnectedAccount, party_id)

    async def set_connected_account(
        self, party_id: str, account_id: str, at: datetime
    ) -> ConnectedAccount:
        statement = (
            insert(ConnectedAccount)
            .values(party_id=party_id, account_id=account_id, updated_at=at)
            .on_conflict_do_update(
                index_elements=["party_id"],
                set_={"account_id": account_id, "updated_at": at},
            )
        )
        await self.session.execute(statement)
        return ConnectedAccount(party_id=party_id, account_id=account_id, updated_at=at)

    async def payout(self, withdrawal_id: str) -> Payout | None:
        return await self.session.get(Payout, withdrawal_id)

    async def add_payout(self, payout: Payout) -> None:
        self.session.add(payout)
        await self.session.flush()

    async def payouts_since(self, since: datetime | None) -> list[Payout]:
        query = select(Payout).order_by(Payout.created_at)  # type: ignore[arg-type]
        if since is not None:
            query = query.where(Payout.created_at >= since)  # type: ignore[arg-type]
        return list((await self.session.execute(query)).scalars())
