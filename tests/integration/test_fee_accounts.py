"""The fee account split per instrument (issue 13, no hot row): a trade's fees go to its
instrument's sub-account, a sweep moves every sub-account into the owner's own account in one
balanced entry, and a settlement never waits for another instrument's fee row.

Each test has its own database (a sweep takes every sub-account there is), checked by the cash
invariants afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.cash.invariants import cash_checks
from market.cash.ledger import Hold, settlement_legs
from market.cash.models import JournalEntry
from market.cash.service import CashBalance, CashLedger
from market.db.engine import create_engine, session_factory
from tests.integration.scratch import scratch_url
from tests.integration.test_cash_ledger import (
    MakeInstruments,
    MakeParties,
    entries_for,
    fee_balances,
    fund,
    make_instruments,
    make_parties,
    postings_of,
)

__all__ = ["make_instruments", "make_parties", "scratch_url"]

Sessions = Callable[[], AsyncSession]


@pytest.fixture
async def scratch_engine(scratch_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(scratch_url, 5)
    yield engine
    async with AsyncSession(engine) as session:
        failed = [c for c in await cash_checks(session) if not c.ok]
    await engine.dispose()
    assert not failed, failed


@pytest.fixture
def sessions(scratch_engine: AsyncEngine) -> Sessions:
    return session_factory(scratch_engine)


async def settle(
    session: AsyncSession,
    buyer: str,
    seller: str,
    owner: str,
    symbol: str,
    fees: tuple[int, int],
    ref: str,
    notional: int = 100_00,
) -> str:
    """Reserve the buyer's cash and settle one trade on `symbol` in the session's transaction."""
    ledger = CashLedger(session)
    await ledger.lock(buyer, seller)
    await ledger.reserve(buyer, notional + fees[0])
    return await ledger.settle_trade(
        buyer_id=buyer,
        seller_id=seller,
        fee_party_id=owner,
        fee_instrument=symbol,
        notional=notional,
        buyer_fee=fees[0],
        seller_fee=fees[1],
        ref_id=ref,
    )


class TestSettlement:
    async def test_each_trade_credits_its_instruments_sub_account(
        self, sessions: Sessions, make_parties: MakeParties, make_instruments: MakeInstruments
    ) -> None:
        buyer, seller, owner = await make_parties(3)
        a, b = sorted(await make_instruments(2))
        await fund(sessions, buyer, 1_000_00)
        trades = [(a, 100_00, 10, 20), (b, 200_00, 20, 40), (a, 50_00, 5, 10)]
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            await ledger.lock(buyer, seller)
            entries = []
            holds: list[Hold] = []
            for n, (symbol, notional, buyer_fee, seller_fee) in enumerate(trades):
                ref = f"trd_many_{n}"
                holds.append(Hold(buyer, notional + buyer_fee))
                legs = settlement_legs(
                    buyer_id=buyer,
                    seller_id=seller,
                    fee_party_id=owner,
                    fee_instrument=symbol,
                    notional=notional,
                    buyer_fee=buyer_fee,
                    seller_fee=seller_fee,
                )
                entries.append(("trade_settlement", ref, legs))
            ids = await ledger.post_many(entries, holds=holds)
            assert len(ids) == len(trades)  # the holds are no entries
            assert await postings_of(session, ids[0]) == [
                (f"party:{buyer}:reserved", -100_10),
                (f"party:{seller}:available", 99_80),
                (f"fee:{a}", 30),
            ]
        # The batch path (one statement) and the single-entry path add up alike.
        async with sessions() as session, session.begin():
            await settle(session, buyer, seller, owner, b, (3, 4), "trd_one")
        assert await fee_balances(sessions) == {a: 30 + 15, b: 60 + 7}
        async with sessions() as session:
            ledger = CashLedger(session)
            assert await ledger.balance(owner) == CashBalance(0, 0)
            assert await ledger.balance(seller) == CashBalance(350_00 - 70 + 100_00 - 4, 0)


class TestSweep:
    async def test_sweep_moves_every_sub_account_into_the_owner_in_one_entry(
        self, sessions: Sessions, make_parties: MakeParties, make_instruments: MakeInstruments
    ) -> None:
        buyer, seller, owner = await make_parties(3)
        a, b = sorted(await make_instruments(2))
        await fund(sessions, buyer, 1_000_00)
        async with sessions() as session, session.begin():
            await settle(session, buyer, seller, owner, a, (1_01, 2_02), "trd_a")
            await settle(session, buyer, seller, owner, b, (7, 0), "trd_b")
        async with sessions() as session, session.begin():
            entry_id = await CashLedger(session).sweep_fees(owner, ref_id="fsw_1")
            assert entry_id is not None
            assert await postings_of(session, entry_id) == [
                (f"fee:{a}", -3_03),
                (f"fee:{b}", -7),
                (f"party:{owner}:available", 3_10),
            ]
            (entry,) = await entries_for(session, "fsw_1")
            assert entry.kind == "fee_sweep"
        async with sessions() as session:
            assert await CashLedger(session).balance(owner) == CashBalance(3_10, 0)
        assert await fee_balances(sessions) == {}
        async with sessions() as session, session.begin():
            count = select(func.count()).select_from(JournalEntry)
            before = await session.scalar(count)
            assert await CashLedger(session).sweep_fees(owner, ref_id="fsw_2") is None
            assert await session.scalar(count) == before

    async def test_sweep_waits_for_a_settlement_in_flight_and_takes_its_fee(
        self, sessions: Sessions, make_parties: MakeParties, make_instruments: MakeInstruments
    ) -> None:
        buyer, seller, owner = await make_parties(3)
        (a,) = await make_instruments(1)
        await fund(sessions, buyer, 1_000_00)
        async with sessions() as session, session.begin():
            await settle(session, buyer, seller, owner, a, (10, 0), "trd_before")
        async with sessions() as in_flight:
            await in_flight.begin()
            await settle(in_flight, buyer, seller, owner, a, (20, 30), "trd_in_flight")

            async def sweep() -> str | None:
                async with sessions() as session, session.begin():
                    return await CashLedger(session).sweep_fees(owner, ref_id="fsw_wait")

            sweeping = asyncio.create_task(sweep())
            await asyncio.sleep(0.5)
            assert not sweeping.done()  # it waits for the settlement's fee row
            await in_flight.commit()
        entry_id = await asyncio.wait_for(sweeping, 30)
        assert entry_id is not None
        async with sessions() as session:
            assert await postings_of(session, entry_id) == [
                (f"fee:{a}", -60),
                (f"party:{owner}:available", 60),
            ]
        assert await fee_balances(sessions) == {}


class TestNoHotRow:
    async def test_a_held_fee_row_holds_up_its_own_instrument_only(
        self, sessions: Sessions, make_parties: MakeParties, make_instruments: MakeInstruments
    ) -> None:
        buyer_1, buyer_2, buyer_3, seller_1, seller_2, seller_3, owner = await make_parties(7)
        a, b = await make_instruments(2)
        for buyer in (buyer_1, buyer_2, buyer_3):
            await fund(sessions, buyer, 1_000_00)
        async with sessions() as session, session.begin():  # both rows exist
            await settle(session, buyer_3, seller_3, owner, a, (5, 5), "trd_a")
            await settle(session, buyer_3, seller_3, owner, b, (5, 5), "trd_b")
        async with sessions() as holder:
            await holder.begin()
            await settle(holder, buyer_1, seller_1, owner, a, (1, 1), "trd_holder")
            # Another instrument settles while instrument a's fee row is held ...
            async with sessions() as session, session.begin():
                await asyncio.wait_for(
                    settle(session, buyer_2, seller_2, owner, b, (2, 2), "trd_other"), 30
                )
            # ... and the same instrument waits for it (here: gives up after a moment).
            async with sessions() as session:
                await session.begin()
                await session.execute(text("SET LOCAL lock_timeout = '300ms'"))
                with pytest.raises(DBAPIError, match="lock timeout"):
                    await settle(session, buyer_3, seller_3, owner, a, (3, 3), "trd_same")
                await session.rollback()
            await holder.commit()
        assert await fee_balances(sessions) == {a: 10 + 2, b: 10 + 4}
