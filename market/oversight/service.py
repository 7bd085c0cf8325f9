"""A regulator's use cases: alerts and their review, every party's orders, an order's trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.errors import NotFound
from market.kit.ids import new_id
from market.kit.money import format_money
from market.kit.time import utcnow
from market.oversight.errors import AlertAlreadyReviewed, InvalidPeriod
from market.oversight.models import Alert, AlertReview
from market.oversight.repository import OversightRepository
from market.oversight.schemas import AlertOut, TrailItem, TrailOut
from market.parties.roles import Caller, require
from market.parties.service import PartyService
from market.trading.models import Order
from market.trading.order_service import OrderQueries
from market.trading.rows import OrderFill


def alert_out(alert: Alert, review: AlertReview | None) -> AlertOut:
    return AlertOut(
        id=alert.id,
        kind=alert.kind,
        severity=alert.severity,
        instrument=alert.instrument,
        parties=alert.parties,
        trade_ids=alert.trade_ids,
        order_ids=alert.order_ids,
        detail=alert.detail,
        status="open" if review is None else "reviewed",
        created_at=alert.created_at,
        observed_at=alert.observed_at,
        review_note=None if review is None else review.note,
        reviewed_by=None if review is None else review.reviewed_by,
        reviewed_at=None if review is None else review.created_at,
    )


def check_period(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise InvalidPeriod("`from` must not be after `to`")


class AlertService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = OversightRepository(session)
        self.parties = PartyService(session)

    async def list(
        self, caller: Caller, kind: str | None, status: str | None, limit: int, cursor: str | None
    ) -> list[AlertOut]:
        require(caller, "regulator")
        rows = await self.repo.alerts(kind=kind, status=status, limit=limit, cursor=cursor)
        return [alert_out(a, r) for a, r in rows]

    async def get(self, caller: Caller, alert_id: str) -> AlertOut:
        require(caller, "regulator")
        found = await self.repo.alert(alert_id)
        if found is None:
            raise NotFound("alert not found")
        return alert_out(*found)

    async def review(self, caller: Caller, alert_id: str, note: str) -> AlertOut:
        """Mark an alert reviewed with a note: a second, append-only row; once per alert."""
        require(caller, "regulator")
        await self.parties.require_active(caller)
        found = await self.repo.alert(alert_id)
        if found is None:
            raise NotFound("alert not found")
        alert, _ = found
        review = AlertReview(
            id=new_id("arv"),
            alert_id=alert.id,
            note=note,
            reviewed_by=caller.party_id,
            created_at=utcnow(),
        )
        if not await self.repo.add_review(review):
            raise AlertAlreadyReviewed("the alert is already reviewed")
        return alert_out(alert, review)


class OrderOversight:
    """Every party's orders and an order's trail, read through trading's queries."""

    def __init__(self, session: AsyncSession) -> None:
        self.queries = OrderQueries(session)

    async def orders(
        self,
        caller: Caller,
        *,
        party_id: str | None,
        status: str | None,
        instrument: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Order], dict[str, list[OrderFill]]]:
        require(caller, "regulator")
        check_period(since, until)
        rows = await self.queries.every_party_orders(
            caller,
            party_id=party_id,
            status=status,
            instrument=instrument,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return rows, await self.queries.fills(rows)

    async def trail(self, caller: Caller, order_id: str) -> TrailOut:
        """Oldest first, each item at the seq of the command it happened in (`trail.py`):
        replaying the trails of an instrument rebuilds its book."""
        order, entries = await self.queries.trail(caller, order_id)
        return TrailOut(
            order_id=order.id,
            side=order.side,
            instrument=order.instrument,
            party_id=order.party_id,
            type=order.type,
            items=[
                TrailItem(
                    seq=e.seq,
                    kind=e.kind,
                    quantity=e.quantity,
                    price=None if e.price_fen is None else format_money(e.price_fen),
                    trade_id=e.trade_id,
                    reason=e.reason,
                    created_at=e.created_at,
                )
                for e in entries
            ],
        )
