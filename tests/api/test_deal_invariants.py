"""The block trade and auction invariants catch what they are for: each corruption below is
made in a transaction that is rolled back, and the checks run inside it must fail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from market.db.engine import create_engine, session_factory
from market.settings import Settings
from market.trading.invariants import trading_checks
from market.trading.models import APPEND_ONLY_TABLES
from tests.api.deal_helpers import at, expect, until
from tests.api.trading_helpers import Market


async def failing_after(settings: Settings, corruption: str, **params: Any) -> set[str]:
    """The names of the trading checks that fail once `corruption` ran (then rolled back)."""
    engine = create_engine(settings.database_url or "", 1)
    try:
        async with session_factory(engine)() as session:
            assert all(c.ok for c in await trading_checks(session, set(APPEND_ONLY_TABLES)))
            await session.execute(text(corruption), params)
            checks = await trading_checks(session, set(APPEND_ONLY_TABLES))
            await session.rollback()
    finally:
        await engine.dispose()
    return {c.name for c in checks if not c.ok}


async def test_deal_invariants_catch_corruption(market: Market, settings: Settings) -> None:
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer("10000.00")
    open_block = expect(await seller.post("/v1/block-trades", json={
        "instrument": symbol, "price": "50.00", "quantity": 10, "buyer_id": buyer.id}), 201)  # fmt: skip
    done_block = expect(await seller.post("/v1/block-trades", json={
        "instrument": symbol, "price": "50.00", "quantity": 10, "buyer_id": buyer.id}), 201)  # fmt: skip
    expect(await buyer.post(f"/v1/block-trades/{done_block['id']}/accept"), 200)
    ends_at = at(1.0)
    closed = expect(await seller.post("/v1/auctions", json={
        "instrument": symbol, "quantity": 10, "reserve_price": "50.00", "ends_at": ends_at}), 201)  # fmt: skip
    open_auction = expect(await seller.post("/v1/auctions", json={
        "instrument": symbol, "quantity": 10, "reserve_price": "50.00", "ends_at": at(60)}), 201)  # fmt: skip
    bid = expect(await buyer.post(f"/v1/auctions/{open_auction['id']}/bids",
                                  json={"price": "51.00", "quantity": 5}), 201)  # fmt: skip
    expect(
        await buyer.post(
            f"/v1/auctions/{closed['id']}/bids", json={"price": "52.00", "quantity": 10}
        ),
        201,
    )
    await until(ends_at)
    expect(await seller.post(f"/v1/auctions/{closed['id']}/close"), 200)

    # a proposal marked cancelled without releasing its units
    assert {"deal_escrow_matches_ranges", "escrowed_units_match_orders"} <= await failing_after(
        settings, "UPDATE block_trades SET status = 'cancelled' WHERE id = :id", id=open_block["id"]
    )
    # a bid holding a fen less than its reservation
    assert {"reserved_cash_matches_orders", "auction_trades_match_bids"} <= await failing_after(
        settings,
        "UPDATE auction_bids SET reserved_cash_fen = reserved_cash_fen - 1 WHERE id = :id",
        id=bid["id"],
    )
    # an accepted proposal whose price is not its trade's
    assert "block_trades_match_trades" in await failing_after(
        settings,
        "UPDATE block_trades SET price_fen = price_fen + 1 WHERE id = :id",
        id=done_block["id"],
    )
    # an auction whose clearing price is not its trades' price, or sold more than its fills
    assert "auction_trades_match_bids" in await failing_after(
        settings,
        "UPDATE auctions SET clearing_price_fen = clearing_price_fen + 1 WHERE id = :id",
        id=closed["id"],
    )
    assert "auction_trades_match_bids" in await failing_after(
        settings, "UPDATE auctions SET sold_quantity = 5 WHERE id = :id", id=closed["id"]
    )
