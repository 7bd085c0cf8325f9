"""CashLedger against real PostgreSQL: exact postings and balances, refusals that change
nothing, concurrent reserves that never overdraw, and the cash invariants afterwards."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.cash.invariants import cash_checks
from market.cash.models import JournalEntry, Posting, Withdrawal
from market.cash.service import CashBalance, CashLedger, InsufficientFunds
from market.db.engine import create_engine, session_factory
from market.kit.time import utcnow
from market.parties.credit_code import complete_credit_code
from market.parties.models import Party
from market.registry.invariants import append_only_tables
from market.trading.invariants import trading_checks
from market.trading.models import Instrument

MakeParties = Callable[[int], Awaitable[list[str]]]
MakeInstruments = Callable[[int], Awaitable[list[str]]]


@pytest.fixture
def sessions(engine: AsyncEngine) -> Callable[[], AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def make_parties(sessions: Callable[[], AsyncSession]) -> AsyncIterator[MakeParties]:
    made: list[str] = []

    async def make(count: int) -> list[str]:
        ids = [f"pty_cash_{secrets.token_hex(8)}" for _ in range(count)]
        made.extend(ids)
        async with sessions() as session, session.begin():
            for party_id in ids:
                body = "".join(secrets.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
                session.add(
                    Party(
                        id=party_id,
                        name=f"cash test {party_id}",
                        kind="enterprise",
                        credit_code=complete_credit_code("91110105" + body),
                        region_code="110105",
                        created_at=utcnow(),
                    )
                )
        return ids

    yield make
    # Reservations made directly on the ledger stand for no order or withdrawal: give them
    # back, so the global invariant "reserved cash matches what holds it" stays true.
    async with sessions() as session, session.begin():
        ledger = CashLedger(session)
        for party_id in made:
            balance = await ledger.balance(party_id)
            if balance.reserved:
                await ledger.release(party_id, balance.reserved)


@pytest.fixture
async def make_instruments(sessions: Callable[[], AsyncSession]) -> MakeInstruments:
    """Bare instrument rows: what a fee sub-account needs (its key references one)."""

    async def make(count: int) -> list[str]:
        symbols = [f"FEE{secrets.token_hex(5).upper()}" for _ in range(count)]
        async with sessions() as session, session.begin():
            for symbol in symbols:
                session.add(
                    Instrument(
                        symbol=symbol,
                        product_type="CARBON_SINK",
                        eligibility={},
                        tick_size_fen=1,
                        lot_size=1,
                        reference_price_fen=50_00,
                        price_band_bps=1000,
                        buyer_fee_bps=0,
                        seller_fee_bps=0,
                        created_at=utcnow(),
                    )
                )
        return symbols

    return make


async def fee_balances(sessions: Callable[[], AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return await CashLedger(session).fee_balances()


@pytest.fixture(autouse=True)
async def cash_invariants_hold(engine: AsyncEngine) -> AsyncIterator[None]:
    yield
    async with AsyncSession(engine) as session:
        failed = [c for c in await cash_checks(session) if not c.ok]
    assert not failed, failed


async def fund(sessions: Callable[[], AsyncSession], party_id: str, amount: int) -> None:
    async with sessions() as session, session.begin():
        ledger = CashLedger(session)
        await ledger.lock(party_id)
        await ledger.fund(party_id, amount, source="bank", ref_id=f"dep_test_{party_id}")


async def postings_of(session: AsyncSession, entry_id: str) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(Posting.account, Posting.amount)  # type: ignore[call-overload]
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    )
    return [(r.account, r.amount) for r in rows]


async def entries_for(session: AsyncSession, ref_id: str) -> list[Any]:
    rows = await session.execute(
        select(JournalEntry).where(JournalEntry.ref_id == ref_id).order_by(JournalEntry.id)  # type: ignore[arg-type]
    )
    return list(rows.scalars())


async def postings_of_party(session: AsyncSession, party_id: str) -> list[tuple[str, int]]:
    rows = await session.execute(
        select(Posting.account, Posting.amount)  # type: ignore[call-overload]
        .where(Posting.party_id == party_id)
        .order_by(Posting.id)
    )
    return [(r.account, r.amount) for r in rows]


class TestReserveAndRelease:
    async def test_a_hold_moves_exact_fen_between_buckets_without_an_entry(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 200_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            locked = await ledger.lock(party)
            assert locked == {party: CashBalance(200_00, 0)}
            entries_before = await session.scalar(select(func.count()).select_from(JournalEntry))
            await ledger.reserve(party, 30_01)
            assert locked[party] == CashBalance(169_99, 30_01)
            await ledger.release(party, 10_00)
            assert locked[party] == CashBalance(179_99, 20_01)
            assert await ledger.balance(party) == CashBalance(179_99, 20_01)
            entries_after = await session.scalar(select(func.count()).select_from(JournalEntry))
            assert entries_after == entries_before
            # Only the deposit is in the journal: the total is what the postings say.
            assert await postings_of_party(session, party) == [(f"party:{party}:available", 200_00)]
        async with sessions() as session:
            assert await CashLedger(session).balance(party) == CashBalance(179_99, 20_01)

    async def test_zero_is_a_no_op(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            await ledger.lock(party)
            await ledger.reserve(party, 0)
            await ledger.release(party, 0)
            assert await ledger.balance(party) == CashBalance(0, 0)

    async def test_a_party_without_an_account_has_zero(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        async with sessions() as session:
            assert await CashLedger(session).balance(party) == CashBalance(0, 0)

    async def test_negative_amounts_are_refused(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            with pytest.raises(ValueError):
                await ledger.reserve(party, -1)


class TestInsufficientFunds:
    async def test_reserve_beyond_available_changes_nothing(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 50_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            locked = await ledger.lock(party)
            entries_before = await session.scalar(select(func.count()).select_from(JournalEntry))
            with pytest.raises(InsufficientFunds) as refused:
                await ledger.reserve(party, 50_01)
            assert refused.value.code == "insufficient_funds"
            assert refused.value.extra == {"requested": "50.01", "available": "50.00"}
            assert locked[party] == CashBalance(50_00, 0)
            assert await ledger.balance(party) == CashBalance(50_00, 0)
            entries_after = await session.scalar(select(func.count()).select_from(JournalEntry))
            assert entries_after == entries_before
            # The transaction is still usable: exactly the whole balance can be reserved.
            await ledger.reserve(party, 50_00)
            assert await ledger.balance(party) == CashBalance(0, 50_00)

    async def test_release_beyond_reserved_is_refused(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 10_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            await ledger.lock(party)
            await ledger.reserve(party, 5_00)
            with pytest.raises(InsufficientFunds):
                await ledger.release(party, 5_01)
            assert await ledger.balance(party) == CashBalance(5_00, 5_00)

    async def test_unlocked_reserve_on_a_missing_account_is_refused(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        async with sessions() as session, session.begin():
            with pytest.raises(InsufficientFunds):
                await CashLedger(session).reserve(party, 1)


class TestSettleTrade:
    async def test_one_balanced_entry_pays_seller_and_fees(
        self,
        sessions: Callable[[], AsyncSession],
        make_parties: MakeParties,
        make_instruments: MakeInstruments,
    ) -> None:
        buyer, seller, fees = await make_parties(3)
        (symbol,) = await make_instruments(1)
        await fund(sessions, buyer, 1_000_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            locked = await ledger.lock(seller, buyer, fees)
            await ledger.reserve(buyer, 530_00)
            entry_id = await ledger.settle_trade(
                buyer_id=buyer,
                seller_id=seller,
                fee_party_id=fees,
                fee_instrument=symbol,
                notional=520_00,
                buyer_fee=1_56,
                seller_fee=1_04,
                ref_id="trd_1",
            )
            assert await postings_of(session, entry_id) == [
                (f"party:{buyer}:reserved", -521_56),
                (f"party:{seller}:available", 518_96),
                (f"fee:{symbol}", 2_60),
            ]
            (entry,) = await entries_for(session, "trd_1")
            assert (entry.id, entry.kind) == (entry_id, "trade_settlement")
            # The fee account's owner is named on its postings; its own account is untouched.
            owners = await session.execute(
                select(Posting.party_id).where(  # type: ignore[call-overload]
                    Posting.entry_id == entry_id, Posting.account == f"fee:{symbol}"
                )
            )
            assert list(owners.scalars()) == [fees]
            assert locked == {
                buyer: CashBalance(470_00, 8_44),
                seller: CashBalance(518_96, 0),
                fees: CashBalance(0, 0),
            }
            for party, expected in locked.items():
                assert await ledger.balance(party) == expected
        assert (await fee_balances(sessions))[symbol] == 2_60

    async def test_fee_party_may_be_the_seller(
        self,
        sessions: Callable[[], AsyncSession],
        make_parties: MakeParties,
        make_instruments: MakeInstruments,
    ) -> None:
        buyer, seller = await make_parties(2)
        (symbol,) = await make_instruments(1)
        await fund(sessions, buyer, 100_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            await ledger.lock(buyer, seller)
            await ledger.reserve(buyer, 100_00)
            entry_id = await ledger.settle_trade(
                buyer_id=buyer,
                seller_id=seller,
                fee_party_id=seller,
                fee_instrument=symbol,
                notional=90_00,
                buyer_fee=1_00,
                seller_fee=2_00,
                ref_id="trd_2",
            )
            assert await postings_of(session, entry_id) == [
                (f"party:{buyer}:reserved", -91_00),
                (f"party:{seller}:available", 88_00),
                (f"fee:{symbol}", 3_00),
            ]
            assert await ledger.balance(seller) == CashBalance(88_00, 0)
            assert await ledger.balance(buyer) == CashBalance(0, 9_00)
        assert (await fee_balances(sessions))[symbol] == 3_00

    async def test_zero_fees_leave_no_fee_posting(
        self,
        sessions: Callable[[], AsyncSession],
        make_parties: MakeParties,
        make_instruments: MakeInstruments,
    ) -> None:
        buyer, seller, fees = await make_parties(3)
        (symbol,) = await make_instruments(1)
        await fund(sessions, buyer, 10_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            await ledger.lock(buyer, seller, fees)
            await ledger.reserve(buyer, 10_00)
            entry_id = await ledger.settle_trade(
                buyer_id=buyer,
                seller_id=seller,
                fee_party_id=fees,
                fee_instrument=symbol,
                notional=10_00,
                buyer_fee=0,
                seller_fee=0,
                ref_id="trd_3",
            )
            assert await postings_of(session, entry_id) == [
                (f"party:{buyer}:reserved", -10_00),
                (f"party:{seller}:available", 10_00),
            ]
        assert symbol not in await fee_balances(sessions)

    async def test_short_reservation_settles_nothing(
        self,
        sessions: Callable[[], AsyncSession],
        make_parties: MakeParties,
        make_instruments: MakeInstruments,
    ) -> None:
        buyer, seller, fees = await make_parties(3)
        (symbol,) = await make_instruments(1)
        await fund(sessions, buyer, 10_00)
        async with sessions() as session, session.begin():
            ledger = CashLedger(session)
            await ledger.lock(buyer, seller, fees)
            await ledger.reserve(buyer, 10_00)
            with pytest.raises(InsufficientFunds):
                await ledger.settle_trade(
                    buyer_id=buyer,
                    seller_id=seller,
                    fee_party_id=fees,
                    fee_instrument=symbol,
                    notional=10_00,
                    buyer_fee=1,
                    seller_fee=0,
                    ref_id="trd_4",
                )
            assert await entries_for(session, "trd_4") == []
            assert await ledger.balance(buyer) == CashBalance(0, 10_00)
            assert await ledger.balance(seller) == CashBalance(0, 0)
            assert await ledger.balance(fees) == CashBalance(0, 0)
            assert symbol not in await ledger.fee_balances()


class TestConcurrency:
    async def test_fifty_reserves_against_twenty_fit(
        self, database_url: str, make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        engine = create_engine(database_url, 10)
        sessions = session_factory(engine)
        try:
            await fund(sessions, party, 200_00)

            async def attempt(n: int) -> bool:
                async with sessions() as session, session.begin():
                    ledger = CashLedger(session)
                    await ledger.lock(party)
                    try:
                        await ledger.reserve(party, 10_00)
                    except InsufficientFunds:
                        return False
                    return True

            results = await asyncio.gather(*(attempt(n) for n in range(50)))
            async with sessions() as session:
                balance = await CashLedger(session).balance(party)
                journal = await postings_of_party(session, party)
        finally:
            await engine.dispose()
        assert results.count(True) == 20
        assert balance == CashBalance(0, 200_00)
        assert journal == [(f"party:{party}:available", 200_00)]  # the deposit only


async def failing_after(
    sessions: Callable[[], AsyncSession], corruption: str, party_id: str, *, withdrawing: int = 0
) -> set[str]:
    """The cash and trading checks that fail once `corruption` ran on the party's account (then
    rolled back); all of them hold before, with a pending withdrawal of `withdrawing` fen held
    the way `CashService.withdraw` holds it (if not zero)."""
    async with sessions() as session:

        async def failing() -> set[str]:
            checks = await cash_checks(session)
            checks += await trading_checks(session, await append_only_tables(session))
            return {c.name for c in checks if not c.ok}

        if withdrawing:
            withdrawal_id = f"wdr_test_{secrets.token_hex(6)}"
            session.add(
                Withdrawal(
                    id=withdrawal_id, party_id=party_id, amount=withdrawing, created_at=utcnow()
                )
            )
            ledger = CashLedger(session)
            await ledger.lock(party_id)
            await ledger.reserve(party_id, withdrawing)
            await session.flush()
        assert await failing() == set()
        await session.execute(text(corruption), {"p": party_id})
        failed = await failing()
        await session.rollback()
    return failed


class TestInvariantsOverHolds:
    """Holds write no postings: invariant 3 compares a party's total with its postings, and
    invariant 5 says what its reserved bucket must be."""

    async def test_a_total_off_its_postings_is_caught_by_invariant_3(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 10_00)
        corrupt = "UPDATE cash_accounts SET reserved = reserved + 1 WHERE party_id = :p"
        assert await failing_after(sessions, corrupt, party) == {
            "cash_conserved",
            "cash_balances_match_postings",
            "reserved_cash_matches_orders",
        }

    async def test_cash_moved_into_reserved_without_a_hold_is_caught_by_invariant_5(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 10_00)
        shift = (
            "UPDATE cash_accounts SET available = available - 1, reserved = reserved + 1"
            " WHERE party_id = :p"
        )
        assert await failing_after(sessions, shift, party) == {"reserved_cash_matches_orders"}

    async def test_a_hold_given_back_while_its_withdrawal_is_pending_is_caught_by_invariant_5(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 10_00)
        back = (
            "UPDATE cash_accounts SET available = available + reserved, reserved = 0"
            " WHERE party_id = :p"
        )
        found = await failing_after(sessions, back, party, withdrawing=4_00)
        assert found == {"reserved_cash_matches_orders"}


class TestHistory:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE postings SET amount = amount + 1",
            "DELETE FROM postings",
            "UPDATE journal_entries SET kind = 'x'",
            "DELETE FROM journal_entries",
        ],
    )
    async def test_journal_is_append_only(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties, statement: str
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 1_00)
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
            await session.rollback()

    async def test_negative_buckets_are_refused_by_the_database(
        self, sessions: Callable[[], AsyncSession], make_parties: MakeParties
    ) -> None:
        (party,) = await make_parties(1)
        await fund(sessions, party, 1_00)
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="ck_cash_accounts_non_negative"):
                await session.execute(
                    text("UPDATE cash_accounts SET available = -1 WHERE party_id = :p"),
                    {"p": party},
                )
            await session.rollback()
