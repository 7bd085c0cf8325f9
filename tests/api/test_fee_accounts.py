"""The operator's fee account over HTTP, split per instrument (issue 13, no hot row): trades
credit their instrument's sub-account, the operator's cash sums them, its ledger shows the
postings, a sweep moves them into its own account, and a held fee row holds up only its own
instrument's trades."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.api.conftest import Actor
from tests.api.deal_helpers import expect, fen
from tests.api.trading_helpers import Market


async def trade(market: Market, seller: Actor, buyer: Actor, symbol: str, quantity: int) -> str:
    """A continuous trade at 50.00 (fees 10 / 20 bps); returns the trade id."""
    await market.order(seller, symbol, "sell", quantity, "50.00")
    bought = await market.order(buyer, symbol, "buy", quantity, "50.00")
    assert bought["status"] == "filled", bought
    return str(bought["fills"][0]["trade_id"])


async def entries(actor: Actor, party_id: str | None = None) -> list[dict[str, Any]]:
    params = {"limit": 100, **({"party_id": party_id} if party_id else {})}
    return list(expect(await actor.get("/v1/ledger/entries", params=params), 200)["items"])


def postings(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["account"], p["amount"]) for p in entry["postings"]]


def signed_fen(amount: str) -> int:
    return -fen(amount[1:]) if amount.startswith("-") else fen(amount)


def by_instrument(cash: dict[str, Any]) -> dict[str, str]:
    return {f["instrument"]: f["amount"] for f in cash["fees"]["by_instrument"]}


async def test_trades_credit_their_instrument_and_the_operator_sees_the_sum(
    market: Market,
) -> None:
    a = (await market.instrument())["symbol"]
    b = (await market.instrument())["symbol"]
    seller, _ = await market.seller(1_000)
    buyer = await market.buyer("100000.00")
    before = await market.cash(market.operator)

    trade_a = await trade(market, seller, buyer, a, 100)  # 5000.00: fees 5.00 + 10.00
    await trade(market, seller, buyer, b, 40)  # 2000.00: fees 2.00 + 4.00

    cash = await market.cash(market.operator)
    assert fen(cash["available"]) - fen(before["available"]) == 15_00 + 6_00
    assert fen(cash["fees"]["total"]) - fen(before["fees"]["total"]) == 15_00 + 6_00
    assert by_instrument(cash) == {**by_instrument(before), a: "15.00", b: "6.00"}
    assert cash["reserved"] == before["reserved"]
    assert fen(cash["total"]) == fen(cash["available"]) + fen(cash["reserved"])
    regulator = market.registry.regulator
    read = expect(await regulator.get("/v1/cash", params={"party_id": market.operator.id}), 200)
    assert read == cash
    assert (await market.cash(buyer))["fees"] is None

    # The operator's ledger has the settlement with its posting to the instrument's fee
    # sub-account; the buyer sees the same posting (and its counterparty masked).
    (seen,) = [e for e in await entries(market.operator) if e["ref_id"] == trade_a]
    assert seen["kind"] == "trade_settlement"
    assert postings(seen) == [
        (f"party:{buyer.id}:reserved", "-5005.00"),
        (f"party:{seller.id}:available", "4990.00"),
        (f"fee:{a}", "15.00"),
    ]
    (own,) = [e for e in await entries(buyer) if e["ref_id"] == trade_a]
    assert postings(own) == [
        (f"party:{buyer.id}:reserved", "-5005.00"),
        ("party:counterparty:available", "4990.00"),
        (f"fee:{a}", "15.00"),
    ]


async def test_a_sweep_moves_the_fees_into_the_operators_own_account(market: Market) -> None:
    a = (await market.instrument())["symbol"]
    seller, _ = await market.seller(1_000)
    buyer = await market.buyer("100000.00")
    await trade(market, seller, buyer, a, 100)
    before = await market.cash(market.operator)
    assert by_instrument(before)[a] == "15.00"

    swept = expect(await market.operator.post("/v1/fees/sweep"), 200)
    assert swept == {**before, "fees": {"total": "0.00", "by_instrument": []}}
    assert await market.cash(market.operator) == swept
    newest = (await entries(market.operator))[0]
    assert newest["kind"] == "fee_sweep"
    assert (f"fee:{a}", "-15.00") in postings(newest)
    assert postings(newest)[-1] == (
        f"party:{market.operator.id}:available",
        before["fees"]["total"],
    )
    assert sum(signed_fen(amount) for _, amount in postings(newest)) == 0

    # Nothing left to sweep: no entry; the fees of the next trade are held per instrument again.
    expect(await market.operator.post("/v1/fees/sweep"), 200)
    assert (await entries(market.operator))[0]["id"] == newest["id"]
    await trade(market, seller, buyer, a, 10)  # 500.00: fees 0.50 + 1.00
    after = await market.cash(market.operator)
    assert by_instrument(after) == {a: "1.50"}
    assert fen(after["available"]) - fen(before["available"]) == 1_50
    refused = await buyer.post("/v1/fees/sweep")
    assert refused.status_code == 403


async def test_a_held_fee_row_holds_up_its_own_instrument_only(
    market: Market, engine: AsyncEngine
) -> None:
    """The test client answers requests synchronously, so a trade that waits for the held row
    cannot be watched from here: the holder's session ends itself once it has been idle for a
    while (`idle_in_transaction_session_timeout`). A trade that waited for it outlives it; one
    that did not leaves it alive."""
    a = (await market.instrument())["symbol"]
    b = (await market.instrument())["symbol"]
    seller, _ = await market.seller(1_000)
    buyer = await market.buyer("100000.00")
    await trade(market, seller, buyer, a, 10)  # makes instrument a's fee row

    # Another instrument's trade settles while a's fee row is held ...
    async with engine.connect() as holder:
        await hold_fee_row(holder, a, idle_limit="20s")
        await trade(market, seller, buyer, b, 10)
        await holder.execute(text("SELECT 1"))  # still alive: the trade did not wait for it
        await holder.rollback()

    # ... and a's own trade waits for it until it is gone.
    async with engine.connect() as holder:
        await hold_fee_row(holder, a, idle_limit="1s")
        await trade(market, seller, buyer, a, 10)
        with pytest.raises(DBAPIError):
            await holder.execute(text("SELECT 1"))
        await holder.invalidate()

    held = by_instrument(await market.cash(market.operator))
    assert (held[a], held[b]) == ("3.00", "1.50")


async def hold_fee_row(holder: AsyncConnection, symbol: str, *, idle_limit: str) -> None:
    await holder.begin()
    await holder.execute(text(f"SET LOCAL idle_in_transaction_session_timeout = '{idle_limit}'"))
    await holder.execute(
        text("SELECT 1 FROM fee_accounts WHERE instrument = :symbol FOR UPDATE"),
        {"symbol": symbol},
    )
