"""Placing and cancelling orders (through the sequencer), reading orders and trades."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db.outage import is_database_unavailable
from market.http.idempotency import IdempotencyClaim, StoredResponse
from market.kit.errors import DatabaseUnavailable, DomainError, NotFound
from market.kit.time import utcnow
from market.parties.roles import TRADERS, Caller, require
from market.trading.batch_commands import CancelRequest, Placed, PlaceOrder
from market.trading.errors import ExpiryPassed
from market.trading.models import AnyOrder, Order, OrderState, Settlement, Trade
from market.trading.repository import TradingRepository
from market.trading.rows import OrderFill
from market.trading.schemas import OrderCreate, OrderOut
from market.trading.sequencer import Sequencer
from market.trading.trail import TrailEntry, trail_of
from market.trading.views import order_out
from market.workers.homes import InstrumentHomes
from market.workers.messages import (
    ErrorReply,
    OrderReply,
    PlaceOrderRequest,
    RefusedReply,
    Reply,
    UnavailableReply,
)
from market.workers.peers import Peers, PeerUnavailable

log = structlog.get_logger()


async def place_order(
    sequencer: Sequencer,
    caller: Caller,
    data: OrderCreate,
    peers: Peers | None = None,
    homes: InstrumentHomes | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Placed | StoredResponse:
    """Place an order through the instrument's sequencer — the home worker's when the server
    runs several workers and it can be reached (see `market.workers.peers`), else this one's.

    A rendered answer (`StoredResponse`: the home worker's, relayed as it came, or the first
    response to an `Idempotency-Key`) is returned as it is; else the `Placed` order."""
    require(caller, *TRADERS)
    if data.expires_at is not None and data.expires_at <= utcnow():
        raise ExpiryPassed("expires_at is in the past")
    home = await homes.home(data.instrument) if peers and homes else None
    if peers is not None and home is not None and home != peers.index:
        keyed = None if idempotency is None else (idempotency.scope, idempotency.request_hash)
        request = PlaceOrderRequest(
            party_id=caller.party_id,
            party_kind=caller.kind,
            party_status=caller.status,
            order=data.model_dump_json(),
            idempotency=keyed,
        )
        try:
            reply = await peers.call(home, request)
        except PeerUnavailable as error:
            reply = UnavailableReply(str(error))
        if isinstance(reply, ErrorReply):
            raise reply.error
        if isinstance(reply, OrderReply):
            return StoredResponse(reply.status, reply.body.encode())
        if isinstance(reply, RefusedReply):
            log.warning("peer_refused_order", home=home, reason=reply.reason)
        # Unavailable or refused: the order runs here, under the same advisory lock.
    return await _place_here(sequencer, caller, data, idempotency)


async def _place_here(
    sequencer: Sequencer, caller: Caller, data: OrderCreate, idempotency: IdempotencyClaim | None
) -> Placed | StoredResponse:
    result = await sequencer.submit(data.instrument, PlaceOrder(caller, data, idempotency))
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, Placed | StoredResponse)
    return result


async def placed_out(
    placed: Placed, sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]]
) -> OrderOut:
    """The answer to a placed order (a replay's fills are read: they may have grown since;
    only then is a session opened)."""
    fills = placed.fills
    if fills is None:
        async with sessions() as session:
            fills = (await TradingRepository(session).fills_of([placed.order]))[placed.order.id]
    return order_out(placed.order, fills)


async def answer_peer(
    sequencer: Sequencer, sessions: async_sessionmaker[AsyncSession], request: PlaceOrderRequest
) -> Reply:
    """Serve an order another worker handed to this one (its instrument's home)."""
    caller = Caller(request.party_id, request.party_kind, request.party_status)
    try:
        data = OrderCreate.model_validate_json(request.order)
    except ValidationError as invalid:
        return RefusedReply(f"not an order: {invalid.error_count()} validation error(s)")
    keyed = request.idempotency
    idempotency = None if keyed is None else IdempotencyClaim(*keyed)
    try:
        placed = await _place_here(sequencer, caller, data, idempotency)
    except DomainError as error:
        return ErrorReply(error)
    except Exception as error:  # the asking worker answers 503, not a second try of its own
        if not is_database_unavailable(error):
            raise
        return ErrorReply(DatabaseUnavailable("the database cannot be reached"))
    if isinstance(placed, StoredResponse):
        return OrderReply(placed.status_code, placed.body.decode())
    body = await placed_out(placed, sessions)
    return OrderReply(placed.status_code, body.model_dump_json())


async def cancel_order(
    sequencer: Sequencer, session: AsyncSession, caller: Caller, order_id: str
) -> OrderState:
    require(caller, *TRADERS)
    order = await TradingRepository(session).order(order_id)
    if order is None or order.party_id != caller.party_id:
        raise NotFound("order not found")
    await session.close()  # free the connection while the sequencer's batch runs
    result = await sequencer.submit(order.instrument, CancelRequest(caller, order_id))
    if isinstance(result, DomainError):
        raise result
    assert isinstance(result, OrderState)
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

    async def every_party_orders(
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
    ) -> list[Order]:
        """A regulator's view of every party's orders (created in `[since, until)`)."""
        require(caller, "regulator")
        return await self.repo.list_orders(
            party_id=party_id,
            status=status,
            instrument=instrument,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )

    async def fills(self, orders: Sequence[AnyOrder]) -> dict[str, list[OrderFill]]:
        """Each order's fills by its id."""
        return await self.repo.fills_of(orders)

    async def trail(self, caller: Caller, order_id: str) -> tuple[Order, list[TrailEntry]]:
        """The order and its trail (`trail.py`), for a regulator."""
        require(caller, "regulator")
        order = await self.repo.order(order_id)
        if order is None:
            raise NotFound("order not found")
        fills = await self.repo.trail_fills(order)
        ended_by = None
        if order.status == "cancelled" and order.ended_seq is not None:
            ended_by = await self.repo.command_op(order.instrument, order.ended_seq)
        return order, trail_of(order, fills, ended_by)

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
