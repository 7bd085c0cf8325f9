"""Instruments, market data, orders and trades over HTTP (API.md "Trading")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.http.idempotency import StoredResponse
from market.http.transaction import take_idempotency
from market.kit.money import format_money
from market.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, page_of
from market.kit.schema import ID_PATTERN
from market.trading.instrument_service import InstrumentService
from market.trading.order_service import (
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
SEQ_CURSOR = r"^[1-9][0-9]{0,17}$"
SymbolQuery = Annotated[str | None, QueryParameter(pattern=r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")]


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
    async def list_instruments(
        self, db_session: Session, list_params: Listing
    ) -> Page[InstrumentOut]:
        """Instruments by symbol; the cursor is the last symbol seen."""
        rows = await TradingRepository(db_session).instruments(
            list_params.limit, list_params.cursor
        )
        items = [instrument_out(i) for i in rows]
        return page_of(items, list_params.limit, key=lambda i: i.symbol)

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
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(pattern=SEQ_CURSOR, max_length=19)] = None,
    ) -> Page[TapeItem]:  # fmt: skip
        """The public tape, newest first; the cursor is the last `seq` seen."""
        await InstrumentService(db_session).get(symbol)
        before = None if cursor is None else int(cursor)
        rows = await TradingRepository(db_session).tape(symbol, limit, before)
        return page_of([tape_item(t) for t in rows], limit, key=lambda t: t.seq)


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
        # The sequencer commits the order in its own transaction (with the first response to
        # an Idempotency-Key): hand this request's connection back to the pool meanwhile.
        idempotency = take_idempotency()
        await db_session.close()
        placed = await place_order(
            state.sequencer, caller, data, state.peers, state.homes, idempotency
        )
        if isinstance(placed, StoredResponse):  # rendered already: relayed as it is
            rendered: Response[Any] = Response(
                placed.body, media_type=MediaType.JSON, status_code=placed.status_code
            )
            return rendered
        body = await placed_out(placed, state.session_factory)
        return Response(body, status_code=placed.status_code)

    @get("/orders/{order_id:str}")
    async def get_order(
        self, order_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> OrderOut:
        queries = OrderQueries(db_session)
        order = await queries.order(caller, order_id)
        return order_out(order, (await queries.fills([order]))[order.id])

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
        fills = await queries.fills(rows)
        return page_of([order_out(o, fills[o.id]) for o in rows], list_params.limit)

    @delete("/orders/{order_id:str}", status_code=200)
    async def cancel(
        self, order_id: FromPath[str], caller: CallerOf, db_session: Session, state: State
    ) -> OrderOut:
        order = await cancel_order(state.sequencer, db_session, caller, order_id)
        return order_out(order, (await OrderQueries(db_session).fills([order]))[order.id])

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
        party_id: Annotated[str | None, QueryParameter(pattern=ID_PATTERN)] = None,
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
