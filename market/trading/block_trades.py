"""Block trades (大宗协议): a seller proposes price and quantity to one named buyer; the buyer
accepts (settled at once like a trade, `kind: "block"` on the tape), declines, or lets it
expire; the seller may cancel. The seller's units are escrowed from the proposal on."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.errors import Forbidden, InvalidInput, NotFound
from market.kit.ids import new_id
from market.kit.money import parse_money
from market.kit.time import utcnow
from market.parties.errors import PartyFrozen
from market.parties.roles import TRADERS, Caller, require
from market.parties.service import PartyService
from market.registry.errors import UnknownParty
from market.trading.deal_repository import DealRepository
from market.trading.errors import BlockTradeNotOpen
from market.trading.instrument_service import InstrumentService
from market.trading.models import BlockTrade
from market.trading.off_book import (
    BLOCK_BAND_BPS,
    OffBookFill,
    OffBookSettlement,
    check_instrument_open,
    check_price_and_lot,
)
from market.trading.schemas import BlockTradeCreate

DEFAULT_LIFETIME = timedelta(hours=24)
MAX_LIFETIME = timedelta(days=90)


class BlockTradeService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = DealRepository(session)
        self.settlement = OffBookSettlement(session)

    async def propose(self, caller: Caller, data: BlockTradeCreate) -> BlockTrade:
        """The seller's proposal: checked against the instrument (tick, lot, ±30 % band) and
        its units escrowed at once."""
        require(caller, *TRADERS)
        await PartyService(self.session).require_active(caller)
        now = utcnow()
        expires_at = data.expires_at or now + DEFAULT_LIFETIME
        if not now < expires_at <= now + MAX_LIFETIME:
            raise InvalidInput(
                "expires_at must be in the future and at most 90 days ahead",
                errors=[{"field": "expires_at"}],
            )
        if data.buyer_id == caller.party_id:
            raise InvalidInput("the buyer must be another party", errors=[{"field": "buyer_id"}])
        buyer = (await self.repo.parties([data.buyer_id])).get(data.buyer_id)
        if buyer is None or buyer[0] not in TRADERS:  # as a transfer's recipient (404)
            raise UnknownParty("buyer_id must name a collective, enterprise or government")
        instrument = await InstrumentService(self.session).get(data.instrument)
        check_instrument_open(instrument)
        price = parse_money(data.price)
        check_price_and_lot(instrument, price, data.quantity, band_bps=BLOCK_BAND_BPS)
        block = BlockTrade(
            id=new_id("blk"),
            instrument=instrument.symbol,
            seller_id=caller.party_id,
            buyer_id=data.buyer_id,
            batch_id=data.batch_id,
            price_fen=price,
            quantity=data.quantity,
            expires_at=expires_at,
            created_at=now,
        )
        await self.settlement.escrow(
            caller.party_id, instrument, data.quantity, data.batch_id, block.id, now
        )
        await self.repo.add(block)
        return block

    async def get(self, caller: Caller, block_id: str, *, lock: bool = False) -> BlockTrade:
        block = await self.repo.block_trade(block_id, lock=lock)
        if block is None or not (
            caller.kind == "regulator" or caller.party_id in (block.seller_id, block.buyer_id)
        ):
            raise NotFound("block trade not found")
        return block

    async def list_for(
        self, caller: Caller, status: str | None, limit: int, cursor: str | None
    ) -> list[BlockTrade]:
        party = None if caller.kind == "regulator" else caller.party_id
        return await self.repo.block_trades(
            party_id=party, status=status, limit=limit, cursor=cursor
        )

    async def settlement_statuses(self, blocks: list[BlockTrade]) -> dict[str, str]:
        return await self.repo.settlement_statuses([b.trade_id for b in blocks if b.trade_id])

    async def _open(self, caller: Caller, block_id: str, role: str) -> BlockTrade:
        block = await self.get(caller, block_id, lock=True)
        if getattr(block, f"{role}_id") != caller.party_id:
            raise Forbidden(f"only the {role} may do this")
        if block.status != "proposed":
            raise BlockTradeNotOpen(f"the block trade is {block.status}")
        return block

    async def accept(self, caller: Caller, block_id: str) -> BlockTrade:
        """The buyer accepts: one trade, settled (or `pending_approval`) in this transaction.
        A buyer without the cash gets `insufficient_funds` and the proposal stays open."""
        block = await self._open(caller, block_id, "buyer")
        await PartyService(self.session).require_active(caller)
        now = utcnow()
        if now >= block.expires_at:
            raise BlockTradeNotOpen("the block trade has expired")
        instrument = await self.settlement.lock_instrument(block.instrument)
        check_instrument_open(instrument)
        check_price_and_lot(instrument, block.price_fen, block.quantity, band_bps=BLOCK_BAND_BPS)
        statuses = await self.repo.parties([block.seller_id, block.buyer_id])
        if any(status != "active" for _, status in statuses.values()):
            raise PartyFrozen("a party to this block trade is frozen by a regulator")
        printed = await self.settlement.print(
            instrument,
            "block",
            [
                OffBookFill(
                    buyer_id=block.buyer_id,
                    seller_id=block.seller_id,
                    price_fen=block.price_fen,
                    quantity=block.quantity,
                    hold_ref=block.id,
                    parts=await self.repo.escrow_of(block.id),
                    buy_order_id=block.id,
                    sell_order_id=block.id,
                    aggressor_side="buy",
                    reserve_now=True,
                )
            ],
            now,
        )
        block.status = "accepted"
        block.trade_id = printed[0].trade.id
        block.decided_at = now
        await self.repo.add(block)
        return block

    async def decline(self, caller: Caller, block_id: str) -> BlockTrade:
        return await self._end(await self._open(caller, block_id, "buyer"), "declined")

    async def cancel(self, caller: Caller, block_id: str) -> BlockTrade:
        return await self._end(await self._open(caller, block_id, "seller"), "cancelled")

    async def _end(self, block: BlockTrade, status: str) -> BlockTrade:
        """Decline, cancel or expiry: the escrowed units return to the seller, exactly."""
        await self.settlement.release_escrow(block.seller_id, block.id)
        block.status = status
        block.decided_at = utcnow()
        await self.repo.add(block)
        return block

    async def expire_due(self, now: datetime) -> int:
        """Expire the proposals whose `expires_at` has passed (the background timer calls this
        in its own transaction); returns how many."""
        expired = 0
        for block_id in await self.repo.due_block_trades(now):
            block = await self.repo.block_trade(block_id, lock=True)
            if block is not None and block.status == "proposed" and block.expires_at <= now:
                await self._end(block, "expired")
                expired += 1
        return expired
