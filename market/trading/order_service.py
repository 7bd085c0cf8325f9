"""Placing and cancelling orders (through the sequencer), reading orders and trades."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.errors import DomainError, NotFound
from market.kit.time import utcnow
from market.parties.roles import TRADERS, Caller, require
from market.trading.errors import InvalidOrder
from market.trading.models import Order, OrderEvent, Settlement, Trade
from market.trading.order_batch import CancelRequest, Placed, PlaceOrder
from market.trading.repository import TradingRepository
from market.trading.schemas import OrderCreate
from market.trading.sequencer import Sequencer


async def place_order(sequencer: Sequencer, caller: Caller, data: OrderCreate) -> Placed:
    require(caller, *TRADERS)
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise InvalidOrder("expires_at is in the past", errors=[{"field": "expires_at"}])
    result = await sequencer.submit(data.instrument, PlaceOrder(caller, data))
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, Placed)
    return result


async def cancel_order(
    sequencer: Sequencer, session: AsyncSession, caller: Caller, order_id: str
) -> Order:
    require(caller, *TRADERS)
    order = await TradingRepository(session).order(order_id)
    if order is None or order.party_id != caller.party_id:
        raise NotFound("order not found")
    await session.close()  # free the connection while the sequencer's batch runs
    result = await sequencer.submit(order.instrument, CancelRequest(caller, order_id))
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, Order)
    return result


class OrderQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = TradingRepository(session)

    async def order(self, caller: Caller, order_id: str) -> Order:
        order = await self.repo.order(order_id)
        if order is None or not (caller.kind == "regulator" or caller.party_id == order.party_id):
            raise NotFound("order not found")
        return order

    async def orders(
        self,
        caller: Caller,
        *,
        status: str | None,
        instrument: str | None,
        limit: int,
        cursor: str | None,
    ) -> list[Order]:
        party = None if caller.kind == "regulator" else caller.party_id
        return await self.repo.list_orders(
            party_id=party, status=status, instrument=instrument, limit=limit, cursor=cursor
        )

    async def fills(self, order_ids: list[str]) -> dict[str, list[dict[str, object]]]:
        return await self.repo.fills_of(order_ids)

    async def trail(self, caller: Caller, order_id: str) -> tuple[Order, list[OrderEvent]]:
        require(caller, "regulator")
        order = await self.repo.order(order_id)
        if order is None:
            raise NotFound("order not found")
        return order, await self.repo.order_events(order_id)

    async def trade(self, caller: Caller, trade_id: str) -> tuple[Trade, Settlement | None]:
        trade = await self.repo.trade(trade_id)
        if trade is None or not (
            caller.kind == "regulator" or caller.party_id in (trade.buyer_id, trade.seller_id)
        ):
            raise NotFound("trade not found")
        return trade, await self.repo.settlement_of(trade_id)

    async def trades(
        self,
        caller: Caller,
        *,
        party_id: str | None,
        instrument: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> list[tuple[Trade, Settlement | None]]:
        if caller.kind != "regulator":
            party_id = caller.party_id
        trades = await self.repo.list_trades(
            party_id=party_id,
            instrument=instrument,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        settlements = await self.repo.settlements_of([t.id for t in trades])
        return [(t, settlements.get(t.id)) for t in trades]
