"""Single-sided auctions (单向竞价): a seller offers a quantity with a reserve price until
`ends_at`; buyers send sealed bids that reserve cash (price × quantity + the maximum buyer
fee, as a buy order does); the close allocates at one price.

Bids and the close are serialized on the auction's row: a bid holds it shared while it checks
the window and reserves (bids run side by side), the close holds it exclusively, so it waits
for every bid in flight and sees all of them, and a bid that waited for a close sees the
auction closed. A bid is accepted only strictly before `ends_at`; the close only at or after.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import CashLedger
from market.kit.errors import Forbidden, InvalidInput, NotFound
from market.kit.ids import new_id
from market.kit.money import parse_money
from market.kit.time import utcnow
from market.parties.errors import PartyFrozen
from market.parties.roles import TRADERS, Caller, require
from market.parties.service import PartyService
from market.trading.deal_repository import DealRepository
from market.trading.errors import AuctionClosed, AuctionOpen, BelowReserve
from market.trading.instrument_service import InstrumentService
from market.trading.models import Auction, AuctionBid
from market.trading.off_book import (
    Extras,
    OffBookFill,
    OffBookSettlement,
    Release,
    check_instrument_open,
    check_price_and_lot,
)
from market.trading.risk import split_escrow
from market.trading.rules import fee
from market.trading.schemas import AuctionCreate, BidCreate

MAX_DURATION = timedelta(days=90)


class AuctionService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = DealRepository(session)
        self.settlement = OffBookSettlement(session)

    async def create(self, caller: Caller, data: AuctionCreate) -> Auction:
        """Open an auction; the seller's units are escrowed at once."""
        require(caller, *TRADERS)
        await PartyService(self.session).require_active(caller)
        now = utcnow()
        if not now < data.ends_at <= now + MAX_DURATION:
            raise InvalidInput(
                "ends_at must be in the future and at most 90 days ahead",
                errors=[{"field": "ends_at"}],
            )
        instrument = await InstrumentService(self.session).get(data.instrument)
        check_instrument_open(instrument)
        reserve = parse_money(data.reserve_price)
        check_price_and_lot(instrument, reserve, data.quantity)
        auction = Auction(
            id=new_id("auc"),
            instrument=instrument.symbol,
            seller_id=caller.party_id,
            batch_id=data.batch_id,
            quantity=data.quantity,
            reserve_price_fen=reserve,
            ends_at=data.ends_at,
            created_at=now,
        )
        await self.settlement.escrow(
            caller.party_id, instrument, data.quantity, data.batch_id, auction.id, now
        )
        await self.repo.add(auction)
        return auction

    async def get(self, auction_id: str) -> Auction:
        auction = await self.repo.auction(auction_id)
        if auction is None:
            raise NotFound("auction not found")
        return auction

    async def bid(self, caller: Caller, auction_id: str, data: BidCreate) -> AuctionBid:
        """A sealed bid: at or above the reserve, before `ends_at`; cash reserved at once."""
        require(caller, *TRADERS)
        auction = await self.repo.auction(auction_id, lock="share")
        if auction is None:
            raise NotFound("auction not found")
        if caller.party_id == auction.seller_id:
            raise Forbidden("the seller may not bid in its own auction")
        await PartyService(self.session).require_active(caller)
        now = utcnow()
        if auction.status != "open" or now >= auction.ends_at:
            raise AuctionClosed("the auction accepts no more bids")
        instrument = await InstrumentService(self.session).get(auction.instrument)
        check_instrument_open(instrument)
        price = parse_money(data.price)
        check_price_and_lot(instrument, price, data.quantity)
        if data.quantity > auction.quantity:
            raise InvalidInput(
                "a bid may not exceed the quantity offered", errors=[{"field": "quantity"}]
            )
        if price < auction.reserve_price_fen:
            raise BelowReserve("the bid is below the reserve price")
        notional = price * data.quantity
        bid = AuctionBid(
            id=new_id("bid"),
            auction_id=auction.id,
            party_id=caller.party_id,
            price_fen=price,
            quantity=data.quantity,
            reserved_cash_fen=notional + fee(notional, instrument.buyer_fee_bps),
            created_at=now,
        )
        ledger = CashLedger(self.session)
        await ledger.lock(caller.party_id)
        await ledger.reserve(caller.party_id, bid.reserved_cash_fen)
        await self.repo.add(bid)
        return bid

    async def bids_of(self, caller: Caller, auction_id: str) -> list[AuctionBid]:
        """Sealed: a bidder sees its own bids, a regulator every bid (best first)."""
        await self.get(auction_id)
        party = None if caller.kind == "regulator" else caller.party_id
        return await self.repo.bids(auction_id, party)

    async def public_bids(self, auction: Auction) -> list[AuctionBid] | None:
        """Everyone sees the bids once the auction closed (without parties), none before."""
        return await self.repo.bids(auction.id) if auction.status == "closed" else None

    async def close(self, caller: Caller, auction_id: str) -> tuple[Auction, list[AuctionBid]]:
        """At or after `ends_at`: the highest bids win (ties by time), all at the lowest
        winning price, the marginal bid partly filled; each allocation is a settled trade of
        kind `auction`; losing bids and what winners reserved above the price are released;
        unsold units return to the seller. Returns the auction and the winning bids."""
        require(caller, *TRADERS, "operator")
        auction = await self.repo.auction(auction_id, lock="update")
        if auction is None:
            raise NotFound("auction not found")
        if caller.kind != "operator" and caller.party_id != auction.seller_id:
            raise Forbidden("only the seller or the operator may close an auction")
        if auction.status != "open":
            raise AuctionClosed("the auction is already closed")
        now = utcnow()
        if now < auction.ends_at:
            raise AuctionOpen("the auction ends at its ends_at")
        instrument = await self.settlement.lock_instrument(auction.instrument)
        check_instrument_open(instrument)
        bids = await self.repo.bids(auction.id)
        statuses = await self.repo.parties([auction.seller_id, *{b.party_id for b in bids}])
        if statuses[auction.seller_id][1] != "active":
            raise PartyFrozen("the seller is frozen by a regulator")
        winners: list[tuple[AuctionBid, int]] = []
        left = auction.quantity
        for bid in bids:  # best first: price, then time
            if left and statuses[bid.party_id][1] == "active":
                take = min(left, bid.quantity)
                winners.append((bid, take))
                left -= take
        clearing = winners[-1][0].price_fen if winners else None
        pieces, unsold = split_escrow(
            await self.repo.escrow_of(auction.id), [take for _, take in winners]
        )
        extras = Extras(
            unit_moves=self.settlement.return_moves(auction.seller_id, auction.id, unsold)
        )
        fills: list[OffBookFill] = []
        won = {bid.id: take for bid, take in winners}
        for bid in bids:
            take = won.get(bid.id, 0)
            cost = 0
            if take:
                assert clearing is not None
                notional = clearing * take
                cost = notional + fee(notional, instrument.buyer_fee_bps)
            if bid.reserved_cash_fen > cost:
                extras.releases.append(Release(bid.party_id, bid.reserved_cash_fen - cost))
        for (bid, take), parts in zip(winners, pieces, strict=True):
            assert clearing is not None
            fills.append(
                OffBookFill(
                    buyer_id=bid.party_id,
                    seller_id=auction.seller_id,
                    price_fen=clearing,
                    quantity=take,
                    hold_ref=auction.id,
                    parts=parts,
                    buy_order_id=bid.id,
                    sell_order_id=auction.id,
                    aggressor_side="sell",
                    reserve_now=False,
                )
            )
        printed = await self.settlement.print(instrument, "auction", fills, now, extras)
        trade_of = {p.trade.buy_order_id: p.trade.id for p in printed}
        for bid in bids:
            take = won.get(bid.id, 0)
            bid.filled_quantity = take
            bid.reserved_cash_fen = 0
            bid.trade_id = trade_of.get(bid.id)
            bid.status = (
                "lost" if not take else "filled" if take == bid.quantity else "partially_filled"
            )
        auction.status = "closed"
        auction.clearing_price_fen = clearing
        auction.sold_quantity = auction.quantity - left
        auction.closed_at = now
        auction.closed_by = caller.party_id
        await self.repo.add(auction, *bids)
        return auction, [bid for bid, _ in winners]
