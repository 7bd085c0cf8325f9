"""Instruments, market data, orders and trades over HTTP (API.md "Trading")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.money import format_money
from market.kit.pagination import Page, page_of
from market.trading.instrument_service import InstrumentService
from market.trading.order_service import (
    Forwarded,
    OrderQueries,
    cancel_order,
    place_order,
    placed_out,
)
from market.trading.repository import TradingRepository
from market.trading.schemas import (
    BookOut,
    InstrumentCreate,
    InstrumentOut,
    InstrumentStatusIn,
    LevelOut,
    OrderCreate,
    OrderOut,
    TapeItem,
    TradeOut,
)
from market.trading.views import instrument_out, order_out, tape_item, trade_out

OrderStatus = Literal["open", "partially_filled", "filled", "cancelled", "expired", "rejected"]
SymbolQuery = Annotated[str | None, QueryParameter(max_length=32)]


class InstrumentController(Controller):
    path = "/v1/instruments"
    tags = ["trading"]  # noqa: RUF012

    @post("/", status_code=201)
    async def create(
        self, data: JSONBody[InstrumentCreate], caller: CallerOf, db_session: Session
    ) -> InstrumentOut:
        return instrument_out(await InstrumentService(db_session).create(caller, data))

    @post("/{symbol:str}/status", status_code=200)
    async def status(
        self,
        symbol: FromPath[str],
        data: JSONBody[InstrumentStatusIn],
        caller: CallerOf,
        db_session: Session,
    ) -> InstrumentOut:
        return instrument_out(
            await InstrumentService(db_session).set_status(caller, symbol, data.status)
        )

    @get("/")
    async def list_instruments(self, db_session: Session) -> dict[str, list[InstrumentOut]]:
        rows = await TradingRepository(db_session).instruments()
        return {"items": [instrument_out(i) for i in rows]}

    @get("/{symbol:str}")
    async def get_instrument(self, symbol: FromPath[str], db_session: Session) -> InstrumentOut:
        return instrument_out(await InstrumentService(db_session).get(symbol))

    @get("/{symbol:str}/book")
    async def book(
        self, symbol: FromPath[str], db_session: Session,
        depth: Annotated[int, QueryParameter(ge=1, le=500)] = 10,
    ) -> BookOut:  # fmt: skip
        return await book_snapshot(db_session, symbol, depth)

    @get("/{symbol:str}/trades")
    async def tape(
        self, symbol: FromPath[str], db_session: Session,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        before_seq: Annotated[int | None, QueryParameter(ge=1)] = None,
    ) -> dict[str, Any]:  # fmt: skip
        await InstrumentService(db_session).get(symbol)
        rows = await TradingRepository(db_session).tape(symbol, limit, before_seq)
        items: list[TapeItem] = [tape_item(t) for t in rows[:limit]]
        return {
            "items": items,
            "next_before_seq": rows[limit - 1].seq if len(rows) > limit else None,
        }


async def book_snapshot(db_session: Any, symbol: str, depth: int) -> BookOut:
    instrument = await InstrumentService(db_session).get(symbol)
    repo = TradingRepository(db_session)

    def levels(rows: list[dict[str, Any]]) -> list[LevelOut]:
        return [
            LevelOut(price=format_money(r["price_fen"]), quantity=r["quantity"], orders=r["orders"])
            for r in rows
        ]

    return BookOut(
        symbol=symbol,
        seq=instrument.seq,
        bids=levels(await repo.depth(symbol, "buy", depth)),
        asks=levels(await repo.depth(symbol, "sell", depth)),
    )


class OrderController(Controller):
    path = "/v1"
    tags = ["trading"]  # noqa: RUF012

    @post("/orders", status_code=201)
    async def place(
        self, data: JSONBody[OrderCreate], caller: CallerOf, db_session: Session, state: State
    ) -> Response[OrderOut]:
        # The sequencer commits the order in its own transaction: hand this request's
        # connection back to the pool while the batch runs.
        await db_session.close()
        placed = await place_order(state.sequencer, caller, data, state.peers, state.homes)
        status = 200 if placed.replayed else 201
        if isinstance(placed, Forwarded):  # the home worker's OrderOut, relayed as it came
            relayed: Response[Any] = Response(
                placed.body, media_type=MediaType.JSON, status_code=status
            )
            return relayed
        body = await placed_out(placed, state.session_factory)
        return Response(body, status_code=status)

    @get("/orders/{order_id:str}")
    async def get_order(
        self, order_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> OrderOut:
        queries = OrderQueries(db_session)
        order = await queries.order(caller, order_id)
        return order_out(order, (await queries.fills([order.id]))[order.id])

    @get("/orders")
    async def list_orders(
        self, caller: CallerOf, db_session: Session, list_params: Listing,
        status: Annotated[OrderStatus | None, QueryParameter()] = None,
        instrument: SymbolQuery = None,
    ) -> Page[OrderOut]:  # fmt: skip
        queries = OrderQueries(db_session)
        rows = await queries.orders(
            caller,
            status=status,
            instrument=instrument,
            limit=list_params.limit,
            cursor=list_params.cursor,
        )
        fills = await queries.fills([o.id for o in rows])
        return page_of([order_out(o, fills[o.id]) for o in rows], list_params.limit)

    @delete("/orders/{order_id:str}", status_code=200)
    async def cancel(
        self, order_id: FromPath[str], caller: CallerOf, db_session: Session, state: State
    ) -> OrderOut:
        order = await cancel_order(state.sequencer, db_session, caller, order_id)
        return order_out(order, (await OrderQueries(db_session).fills([order.id]))[order.id])

    @get("/trades/{trade_id:str}")
    async def get_trade(
        self, trade_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> TradeOut:
        return trade_out(*await OrderQueries(db_session).trade(caller, trade_id))

    @get("/trades")
    async def list_trades(
        self, caller: CallerOf, db_session: Session, list_params: Listing,
        instrument: SymbolQuery = None,
    ) -> Page[TradeOut]:  # fmt: skip
        rows = await OrderQueries(db_session).trades(
            caller,
            party_id=None,
            instrument=instrument,
            since=None,
            until=None,
            limit=list_params.limit,
            cursor=list_params.cursor,
        )
        return page_of([trade_out(t, s) for t, s in rows], list_params.limit)


class OversightTradingController(Controller):
    path = "/v1/oversight"
    tags = ["oversight"]  # noqa: RUF012

    @get("/trades")
    async def trades(
        self, caller: CallerOf, db_session: Session, list_params: Listing,
        party_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        instrument: SymbolQuery = None,
        from_: Annotated[datetime | None, QueryParameter(name="from")] = None,
        to: Annotated[datetime | None, QueryParameter()] = None,
    ) -> Page[TradeOut]:  # fmt: skip
        from market.parties.roles import require

        require(caller, "regulator")
        rows = await OrderQueries(db_session).trades(
            caller,
            party_id=party_id,
            instrument=instrument,
            since=from_,
            until=to,
            limit=list_params.limit,
            cursor=list_params.cursor,
        )
        return page_of([trade_out(t, s) for t, s in rows], list_params.limit)
