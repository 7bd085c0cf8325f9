"""Block trades and auctions over HTTP (API.md "Trading")."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.money import format_money
from market.kit.pagination import Page, page_of
from market.trading.auctions import AuctionService
from market.trading.block_trades import BlockTradeService
from market.trading.models import Auction, AuctionBid, BlockTrade
from market.trading.schemas import (
    AllocationOut,
    AuctionCreate,
    AuctionOut,
    BidCreate,
    BidOut,
    BlockTradeCreate,
    BlockTradeOut,
    PublicBidOut,
)
from market.trading.views import money_or_none

BlockStatus = Literal[
    "proposed", "settled", "pending_approval", "reversed", "declined", "cancelled", "expired"
]


def block_trade_out(block: BlockTrade, settlement_status: str | None = None) -> BlockTradeOut:
    """An accepted proposal shows its trade's settlement status (`settled`,
    `pending_approval`, then `settled` or `reversed` after a regulator's decision)."""
    return BlockTradeOut(
        id=block.id,
        instrument=block.instrument,
        price=format_money(block.price_fen),
        quantity=block.quantity,
        seller_id=block.seller_id,
        buyer_id=block.buyer_id,
        batch_id=block.batch_id,
        status=settlement_status or block.status,
        expires_at=block.expires_at,
        trade_id=block.trade_id,
        created_at=block.created_at,
        decided_at=block.decided_at,
    )


def bid_out(bid: AuctionBid) -> BidOut:
    return BidOut(
        id=bid.id,
        auction_id=bid.auction_id,
        party_id=bid.party_id,
        price=format_money(bid.price_fen),
        quantity=bid.quantity,
        filled_quantity=bid.filled_quantity,
        status=bid.status,
        trade_id=bid.trade_id,
        created_at=bid.created_at,
    )


def auction_out(
    auction: Auction,
    *,
    winners: list[AuctionBid] | None = None,
    bids: list[AuctionBid] | None = None,
) -> AuctionOut:
    return AuctionOut(
        id=auction.id,
        instrument=auction.instrument,
        seller_id=auction.seller_id,
        batch_id=auction.batch_id,
        quantity=auction.quantity,
        reserve_price=format_money(auction.reserve_price_fen),
        ends_at=auction.ends_at,
        status=auction.status,
        clearing_price=money_or_none(auction.clearing_price_fen),
        sold_quantity=auction.sold_quantity,
        created_at=auction.created_at,
        closed_at=auction.closed_at,
        allocations=None
        if winners is None
        else [
            AllocationOut(
                party_id=b.party_id, quantity=b.filled_quantity, trade_id=b.trade_id or ""
            )
            for b in winners
        ],
        bids=None
        if bids is None
        else [
            PublicBidOut(
                price=format_money(b.price_fen),
                quantity=b.quantity,
                filled_quantity=b.filled_quantity,
                status=b.status,
                created_at=b.created_at,
            )
            for b in bids
        ],
    )


class BlockTradeController(Controller):
    path = "/v1/block-trades"
    tags = ["trading"]  # noqa: RUF012

    @post("/", status_code=201)
    async def propose(
        self, data: JSONBody[BlockTradeCreate], caller: CallerOf, db_session: Session
    ) -> BlockTradeOut:
        return block_trade_out(await BlockTradeService(db_session).propose(caller, data))

    async def _answer(self, service: BlockTradeService, block: BlockTrade) -> BlockTradeOut:
        statuses = await service.settlement_statuses([block])
        return block_trade_out(block, statuses.get(block.trade_id or ""))

    @post("/{block_id:str}/accept", status_code=200)
    async def accept(
        self, block_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> BlockTradeOut:
        service = BlockTradeService(db_session)
        return await self._answer(service, await service.accept(caller, block_id))

    @post("/{block_id:str}/decline", status_code=200)
    async def decline(
        self, block_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> BlockTradeOut:
        return block_trade_out(await BlockTradeService(db_session).decline(caller, block_id))

    @post("/{block_id:str}/cancel", status_code=200)
    async def cancel(
        self, block_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> BlockTradeOut:
        return block_trade_out(await BlockTradeService(db_session).cancel(caller, block_id))

    @get("/{block_id:str}")
    async def get_block_trade(
        self, block_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> BlockTradeOut:
        service = BlockTradeService(db_session)
        return await self._answer(service, await service.get(caller, block_id))

    @get("/")
    async def list_block_trades(
        self, caller: CallerOf, db_session: Session, list_params: Listing,
        status: Annotated[BlockStatus | None, QueryParameter()] = None,
    ) -> Page[BlockTradeOut]:  # fmt: skip
        service = BlockTradeService(db_session)
        rows = await service.list_for(caller, status, list_params.limit, list_params.cursor)
        statuses = await service.settlement_statuses(rows)
        return page_of(
            [block_trade_out(b, statuses.get(b.trade_id or "")) for b in rows], list_params.limit
        )


class AuctionController(Controller):
    path = "/v1/auctions"
    tags = ["trading"]  # noqa: RUF012

    @post("/", status_code=201)
    async def create(
        self, data: JSONBody[AuctionCreate], caller: CallerOf, db_session: Session
    ) -> AuctionOut:
        return auction_out(await AuctionService(db_session).create(caller, data))

    @post("/{auction_id:str}/bids", status_code=201)
    async def bid(
        self,
        auction_id: FromPath[str],
        data: JSONBody[BidCreate],
        caller: CallerOf,
        db_session: Session,
    ) -> BidOut:
        return bid_out(await AuctionService(db_session).bid(caller, auction_id, data))

    @get("/{auction_id:str}/bids")
    async def bids(
        self, auction_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> dict[str, list[BidOut]]:
        rows = await AuctionService(db_session).bids_of(caller, auction_id)
        return {"items": [bid_out(b) for b in rows]}

    @post("/{auction_id:str}/close", status_code=200)
    async def close(
        self, auction_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> AuctionOut:
        auction, winners = await AuctionService(db_session).close(caller, auction_id)
        return auction_out(auction, winners=winners)

    @get("/{auction_id:str}")
    async def get_auction(self, auction_id: FromPath[str], db_session: Session) -> AuctionOut:
        service = AuctionService(db_session)
        auction = await service.get(auction_id)
        return auction_out(auction, bids=await service.public_bids(auction))
