"""SQL for block trades and auctions, and the few reads their settlement needs.

Like the order batch (`batch_repository.py`), these read the parties' status and the sellers'
deliverable holdings directly, in the request's own transaction; every write to units and cash
goes through the registry's `UnitLedger` and the cash `CashLedger`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.trading.models import Auction, AuctionBid, BlockTrade, Instrument, Settlement, Trade
from market.trading.rows import DeliverableHolding, EscrowPart, SettlementRow, TradeRow

BLOCKS: Table = BlockTrade.__table__  # type: ignore[attr-defined]
AUCTIONS: Table = Auction.__table__  # type: ignore[attr-defined]
BIDS: Table = AuctionBid.__table__  # type: ignore[attr-defined]
INSTRUMENTS: Table = Instrument.__table__  # type: ignore[attr-defined]
SETTLEMENTS: Table = Settlement.__table__  # type: ignore[attr-defined]
TRADES: Table = Trade.__table__  # type: ignore[attr-defined]

_PARTIES = "SELECT id, kind, status FROM parties WHERE id = ANY(:ids)"

_DELIVERABLE = """
SELECT h.party_id, h.batch_id, h.available, b.vintage, b.region_code, b.period_end
FROM holdings h JOIN batches b ON b.id = h.batch_id
WHERE h.party_id = :party AND h.available > 0 AND b.product_type = :product_type
ORDER BY b.serial_start
"""

_ESCROW = """
SELECT batch_id, sum(serial_end - serial_start + 1)::bigint AS n
FROM unit_ranges WHERE hold_ref = :ref AND bucket = 'escrowed'
GROUP BY batch_id ORDER BY min(serial_start)
"""


class DealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *objects: Any) -> None:
        self.session.add_all(objects)
        await self.session.flush()

    # parties and units ----------------------------------------------------------------------

    async def parties(self, party_ids: list[str]) -> dict[str, tuple[str, str]]:
        """(kind, status) of each party that exists, read in this transaction."""
        rows = await self.session.execute(text(_PARTIES), {"ids": party_ids})
        return {r.id: (r.kind, r.status) for r in rows}

    async def deliverable(self, party_id: str, product_type: str) -> list[DeliverableHolding]:
        """The party's available units of the product type per batch, oldest serials first."""
        rows = await self.session.execute(
            text(_DELIVERABLE), {"party": party_id, "product_type": product_type}
        )
        return [
            DeliverableHolding(
                party_id=r.party_id,
                batch_id=r.batch_id,
                available=r.available,
                vintage=r.vintage,
                region_code=r.region_code,
                period_end=r.period_end,
            )
            for r in rows
        ]

    async def escrow_of(self, hold_ref: str) -> list[EscrowPart]:
        """What `hold_ref` holds in escrow, per batch, oldest serials first."""
        rows = await self.session.execute(text(_ESCROW), {"ref": hold_ref})
        return [EscrowPart(r.batch_id, int(r.n)) for r in rows]

    async def add_trades(self, trades: list[TradeRow], settlements: list[SettlementRow]) -> None:
        """Trades and their settlements (block trades and auctions write a few at a time)."""
        if trades:
            await self.session.execute(insert(TRADES), [asdict(t) for t in trades])
            await self.session.execute(insert(SETTLEMENTS), [asdict(s) for s in settlements])

    # the tape ---------------------------------------------------------------------------------

    async def take_trade_seqs(self, symbol: str, count: int) -> int:
        """Reserve the next `count` trade numbers of the instrument; returns the first. The
        caller holds the instrument's advisory lock (as every order batch does), so the
        numbers follow the continuous trades' without a gap. The instrument's `seq` (the
        market data's version) moves too, so market-data readers notice the new trades."""
        result = await self.session.execute(
            update(Instrument)
            .where(INSTRUMENTS.c.symbol == symbol)
            .values(trade_seq=INSTRUMENTS.c.trade_seq + count, seq=INSTRUMENTS.c.seq + 1)
            .returning(INSTRUMENTS.c.trade_seq)
        )
        last = int(result.scalar_one())
        return last - count + 1

    async def settlement_statuses(self, trade_ids: list[str]) -> dict[str, str]:
        if not trade_ids:
            return {}
        rows = await self.session.execute(
            select(SETTLEMENTS.c.trade_id, SETTLEMENTS.c.status).where(
                SETTLEMENTS.c.trade_id.in_(trade_ids)
            )
        )
        return {r.trade_id: r.status for r in rows}

    # block trades -----------------------------------------------------------------------------

    async def block_trade(self, block_id: str, *, lock: bool = False) -> BlockTrade | None:
        query = select(BlockTrade).where(BLOCKS.c.id == block_id)
        if lock:
            query = query.with_for_update()
        return (
            await self.session.execute(query.execution_options(populate_existing=True))
        ).scalar_one_or_none()

    async def block_trades(
        self,
        *,
        party_id: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> list[BlockTrade]:
        query = select(BlockTrade).order_by(BLOCKS.c.id).limit(limit + 1)
        if party_id:
            query = query.where((BLOCKS.c.seller_id == party_id) | (BLOCKS.c.buyer_id == party_id))
        if status in ("settled", "pending_approval", "reversed"):
            query = query.join(SETTLEMENTS, SETTLEMENTS.c.trade_id == BLOCKS.c.trade_id).where(
                SETTLEMENTS.c.status == status
            )
        elif status:
            query = query.where(BLOCKS.c.status == status)
        if cursor:
            query = query.where(BLOCKS.c.id > cursor)
        return list((await self.session.execute(query)).scalars())

    async def due_block_trades(self, now: datetime, limit: int = 100) -> list[str]:
        rows = await self.session.execute(
            select(BLOCKS.c.id)
            .where(BLOCKS.c.status == "proposed", BLOCKS.c.expires_at <= now)
            .order_by(BLOCKS.c.expires_at, BLOCKS.c.id)
            .limit(limit)
        )
        return list(rows.scalars())

    # auctions ---------------------------------------------------------------------------------

    async def auction(self, auction_id: str, *, lock: str | None = None) -> Auction | None:
        """The auction; `lock="share"` for a bid (bids run side by side), `"update"` for the
        close (which waits for every bid in flight, and every later bid waits for it)."""
        query = select(Auction).where(AUCTIONS.c.id == auction_id)
        if lock == "share":
            query = query.with_for_update(read=True)
        elif lock == "update":
            query = query.with_for_update()
        return (
            await self.session.execute(query.execution_options(populate_existing=True))
        ).scalar_one_or_none()

    async def bids(self, auction_id: str, party_id: str | None = None) -> list[AuctionBid]:
        """Best first: highest price, then earliest (`seq`)."""
        query = (
            select(AuctionBid)
            .where(BIDS.c.auction_id == auction_id)
            .order_by(BIDS.c.price_fen.desc(), BIDS.c.seq)
        )
        if party_id is not None:
            query = query.where(BIDS.c.party_id == party_id)
        return list((await self.session.execute(query)).scalars())
