"""SQL for instruments, orders, the book command log, trades and settlements (the order
batch's own statements are in `batch_repository.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.trading.models import (
    OPEN_STATUSES,
    AnyOrder,
    BookCommand,
    Instrument,
    Order,
    Settlement,
    Trade,
)
from market.trading.rows import OrderFill
from market.trading.trail import TrailFill

INSTRUMENTS: Table = Instrument.__table__  # type: ignore[attr-defined]
ORDERS: Table = Order.__table__  # type: ignore[attr-defined]
COMMANDS: Table = BookCommand.__table__  # type: ignore[attr-defined]
TRADES: Table = Trade.__table__  # type: ignore[attr-defined]
SETTLEMENTS: Table = Settlement.__table__  # type: ignore[attr-defined]


class TradingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # instruments ----------------------------------------------------------------------------

    async def add(self, *objects: Any) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    async def instrument(self, symbol: str) -> Instrument | None:
        return await self.session.get(Instrument, symbol, populate_existing=True)

    async def instruments(self, limit: int, after_symbol: str | None) -> list[Instrument]:
        """Up to `limit + 1` instruments by symbol, after `after_symbol`."""
        query = select(Instrument).order_by(INSTRUMENTS.c.symbol).limit(limit + 1)
        if after_symbol is not None:
            query = query.where(INSTRUMENTS.c.symbol > after_symbol)
        return list((await self.session.execute(query)).scalars())

    async def symbols_in_creation_order(self) -> list[str]:
        rows = await self.session.execute(
            select(INSTRUMENTS.c.symbol).order_by(INSTRUMENTS.c.created_at, INSTRUMENTS.c.symbol)
        )
        return list(rows.scalars())

    # the command log and the resting book ---------------------------------------------------

    async def commands_after(self, symbol: str, seq: int) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            select(COMMANDS.c.command)
            .where(COMMANDS.c.instrument == symbol, COMMANDS.c.seq > seq)
            .order_by(COMMANDS.c.seq)
        )
        return [r[0] for r in rows]

    async def resting_orders(self, symbol: str) -> list[Order]:
        rows = await self.session.execute(
            select(Order)
            .where(
                ORDERS.c.instrument == symbol,
                ORDERS.c.status.in_(OPEN_STATUSES),
                ORDERS.c.engine_seq.is_not(None),
            )
            .order_by(ORDERS.c.engine_seq)
        )
        return list(rows.scalars())

    # orders ---------------------------------------------------------------------------------

    async def order(self, order_id: str) -> Order | None:
        return await self.session.get(Order, order_id)

    async def list_orders(
        self,
        *,
        party_id: str | None,
        status: str | None,
        instrument: str | None,
        limit: int,
        cursor: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Order]:
        query = select(Order).order_by(ORDERS.c.id).limit(limit + 1)
        if party_id:
            query = query.where(ORDERS.c.party_id == party_id)
        if status:
            query = query.where(ORDERS.c.status == status)
        if instrument:
            query = query.where(ORDERS.c.instrument == instrument)
        if since:
            query = query.where(ORDERS.c.created_at >= since)
        if until:
            query = query.where(ORDERS.c.created_at < until)
        if cursor:
            query = query.where(ORDERS.c.id > cursor)
        return list((await self.session.execute(query)).scalars())

    async def fills_of(self, orders: Sequence[AnyOrder]) -> dict[str, list[OrderFill]]:
        """Each order's fills, oldest first: the trades it was party to (an order that filled
        nothing has none, unread)."""
        fills: dict[str, list[OrderFill]] = {o.id: [] for o in orders}
        filled = [o for o in orders if o.filled_quantity]
        if not filled:
            return fills
        rows = await self.session.execute(
            select(TRADES).where(_trades_of(filled)).order_by(TRADES.c.seq)
        )
        for r in rows:  # both orders of a trade may be asked about
            for order_id in (r.buy_order_id, r.sell_order_id):
                if order_id in fills:
                    fills[order_id].append(OrderFill(r.id, r.price_fen, r.quantity))
        return fills

    async def trail_fills(self, order: AnyOrder) -> list[TrailFill]:
        """The order's trades, oldest first, each with the command it happened in: the submit
        of its taker (the order itself, or the order that took it from the book)."""
        if not order.filled_quantity:
            return []
        taker = ORDERS.alias("taker")
        taker_id = case(
            (TRADES.c.maker_order_id == TRADES.c.buy_order_id, TRADES.c.sell_order_id),
            else_=TRADES.c.buy_order_id,
        )
        rows = await self.session.execute(
            select(
                TRADES.c.id,
                TRADES.c.price_fen,
                TRADES.c.quantity,
                TRADES.c.executed_at,
                taker.c.entered_seq,
            )
            .join(taker, taker.c.id == taker_id)
            .where(_trades_of([order]))
            .order_by(TRADES.c.seq)
        )
        return [
            TrailFill(r.id, r.price_fen, r.quantity, r.entered_seq, r.executed_at) for r in rows
        ]

    async def command_op(self, symbol: str, seq: int) -> str | None:
        """What the command `seq` of the instrument's log did: submit, cancel or expire."""
        row = await self.session.execute(
            select(COMMANDS.c.command["op"].astext).where(
                COMMANDS.c.instrument == symbol, COMMANDS.c.seq == seq
            )
        )
        op: str | None = row.scalar_one_or_none()
        return op

    # trades ---------------------------------------------------------------------------------

    async def trade(self, trade_id: str) -> Trade | None:
        return await self.session.get(Trade, trade_id)

    async def settlement_of(self, trade_id: str, *, lock: bool = False) -> Settlement | None:
        query = select(Settlement).where(SETTLEMENTS.c.trade_id == trade_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def settlements_of(self, trade_ids: list[str]) -> dict[str, Settlement]:
        if not trade_ids:
            return {}
        rows = await self.session.execute(
            select(Settlement).where(SETTLEMENTS.c.trade_id.in_(trade_ids))
        )
        return {s.trade_id: s for s in rows.scalars()}

    async def list_trades(
        self,
        *,
        party_id: str | None,
        instrument: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> list[Trade]:
        query = select(Trade).order_by(TRADES.c.id).limit(limit + 1)
        if party_id:
            query = query.where((TRADES.c.buyer_id == party_id) | (TRADES.c.seller_id == party_id))
        if instrument:
            query = query.where(TRADES.c.instrument == instrument)
        if since:
            query = query.where(TRADES.c.executed_at >= since)
        if until:
            query = query.where(TRADES.c.executed_at < until)
        if cursor:
            query = query.where(TRADES.c.id > cursor)
        return list((await self.session.execute(query)).scalars())

    async def tape(self, symbol: str, limit: int, before_seq: int | None) -> list[Trade]:
        query = (
            select(Trade)
            .where(TRADES.c.instrument == symbol)
            .order_by(TRADES.c.seq.desc())
            .limit(limit + 1)
        )
        if before_seq is not None:
            query = query.where(TRADES.c.seq < before_seq)
        return list((await self.session.execute(query)).scalars())

    async def depth(self, symbol: str, side: str, levels: int) -> list[dict[str, Any]]:
        price = ORDERS.c.price_fen
        rows = await self.session.execute(
            select(price, func.sum(ORDERS.c.remaining_quantity), func.count())
            .where(
                ORDERS.c.instrument == symbol,
                ORDERS.c.side == side,
                ORDERS.c.status.in_(OPEN_STATUSES),
                ORDERS.c.engine_seq.is_not(None),
            )
            .group_by(price)
            .order_by(price.desc() if side == "buy" else price.asc())
            .limit(levels)
        )
        return [{"price_fen": r[0], "quantity": int(r[1]), "orders": int(r[2])} for r in rows]

    async def traded_volume_and_value(
        self, symbol: str, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """Units traded and their value in fen (price × quantity) on an instrument in
        [since, until), leaving out trades whose settlement was reversed."""
        row = (
            await self.session.execute(
                select(
                    func.coalesce(func.sum(TRADES.c.quantity), 0),
                    func.coalesce(func.sum(TRADES.c.quantity * TRADES.c.price_fen), 0),
                )
                .select_from(TRADES.join(SETTLEMENTS, SETTLEMENTS.c.trade_id == TRADES.c.id))
                .where(
                    TRADES.c.instrument == symbol,
                    TRADES.c.executed_at >= since,
                    TRADES.c.executed_at < until,
                    SETTLEMENTS.c.status != "reversed",
                )
            )
        ).one()
        return int(row[0]), int(row[1])


def _trades_of(orders: Sequence[AnyOrder]) -> ColumnElement[bool]:
    """The trades of `orders`, found by party and order id (the trades' party indexes carry
    the order id)."""
    sides = []
    for side, party, order_id in (
        ("buy", TRADES.c.buyer_id, TRADES.c.buy_order_id),
        ("sell", TRADES.c.seller_id, TRADES.c.sell_order_id),
    ):
        mine = [o for o in orders if o.side == side]
        if mine:
            parties = sorted({o.party_id for o in mine})
            sides.append(party.in_(parties) & order_id.in_([o.id for o in mine]))
    return or_(*sides)


async def instruments_with_due_orders(session: AsyncSession, now: datetime) -> list[str]:
    rows = await session.execute(
        select(ORDERS.c.instrument)
        .where(
            ORDERS.c.status.in_(OPEN_STATUSES),
            ORDERS.c.expires_at.is_not(None),
            ORDERS.c.expires_at <= now,
        )
        .distinct()
    )
    return list(rows.scalars())
