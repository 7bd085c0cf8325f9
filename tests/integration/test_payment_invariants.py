"""The payment invariants catch what they guard, and the payment history refuses changes."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from market.cash.models import Deposit, JournalEntry, Withdrawal
from market.db.engine import session_factory
from market.db.raw import raw_connection
from market.kit.time import utcnow
from market.oversight.invariants import oversight_checks
from market.parties.credit_code import complete_credit_code
from market.parties.models import Party
from market.payments.invariants import payment_checks
from market.payments.models import Payout, StripeEvent
from market.registry.invariants import append_only_tables


def _party() -> Party:
    body = "".join(secrets.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return Party(
        id=f"pty_pay_{secrets.token_hex(8)}", name="payments invariant test", kind="enterprise",
        credit_code=complete_credit_code("91110105" + body), region_code="110105",
        created_at=utcnow(),
    )  # fmt: skip


async def _failed_checks(engine: AsyncEngine, *rows: object) -> set[str]:
    """Add the rows in a transaction that is rolled back; the payment checks and those of
    oversight (one effect per deposit and withdrawal) that fail meanwhile."""
    async with session_factory(engine)() as session:
        party = _party()
        session.add(party)
        await session.flush()
        for row in rows:
            if hasattr(row, "party_id"):
                row.party_id = party.id
            session.add(row)
            await session.flush()
        with_trigger = await append_only_tables(session)
        checks = await payment_checks(session, with_trigger)
        checks += await oversight_checks(session, with_trigger)
        await session.rollback()
    return {c.name for c in checks if not c.ok}


async def test_checks_hold_and_catch_violations(engine: AsyncEngine) -> None:
    assert await _failed_checks(engine) == set()
    now = utcnow()
    uncredited = Deposit(
        id=f"dep_{secrets.token_hex(6)}", party_id="", amount=100, method="stripe",
        status="succeeded", payment_intent_id=f"pi_{secrets.token_hex(6)}", created_at=now,
    )  # fmt: skip
    assert await _failed_checks(engine, uncredited) == {
        "card_deposits_credited_once",
        "one_entry_per_deposit",
    }
    withdrawal = Withdrawal(
        id=f"wdr_{secrets.token_hex(6)}", party_id="", amount=100, status="pending", created_at=now
    )
    payout = Payout(
        withdrawal_id=withdrawal.id, party_id="", account_id="acct_1", amount=100,
        idempotency_key=f"k{secrets.token_hex(6)}", status="paid", transfer_id=None,
        created_at=now,
    )  # fmt: skip
    assert await _failed_checks(engine, withdrawal, payout) == {"payouts_match_withdrawals"}
    withdrawal.id = f"wdr_{secrets.token_hex(6)}"
    withdrawal.status = "paid"
    assert await _failed_checks(engine, withdrawal) == {
        "withdrawals_settled_once",
        "one_outcome_per_withdrawal",
    }


async def test_withdrawal_releases_are_holds_and_old_release_entries_must_match(
    engine: AsyncEngine,
) -> None:
    """Reserving and releasing a withdrawal write no entry; one written before holds (as
    `withdrawal_failed` / `withdrawal_cancelled`) must say what the status says."""

    def withdrawal(status: str) -> Withdrawal:
        return Withdrawal(
            id=f"wdr_{secrets.token_hex(6)}", party_id="", amount=100, status=status,
            created_at=utcnow(),
        )  # fmt: skip

    def entry(kind: str, ref_id: str) -> JournalEntry:
        return JournalEntry(
            id=f"jrn_{secrets.token_hex(6)}", kind=kind, ref_id=ref_id, created_at=utcnow()
        )

    for status in ("pending", "failed", "cancelled"):
        assert await _failed_checks(engine, withdrawal(status)) == set()
    cancelled = withdrawal("cancelled")
    old_release = entry("withdrawal_cancelled", cancelled.id)
    assert await _failed_checks(engine, cancelled, old_release) == set()
    cancelled = withdrawal("cancelled")
    wrong_release = entry("withdrawal_failed", cancelled.id)
    assert await _failed_checks(engine, cancelled, wrong_release) == {"withdrawals_settled_once"}
    failed = withdrawal("failed")
    twice = [entry("withdrawal_failed", failed.id) for _ in range(2)]
    assert await _failed_checks(engine, failed, *twice) == {
        "withdrawals_settled_once",
        "one_outcome_per_withdrawal",
    }
    pending = withdrawal("pending")
    paid_early = entry("withdrawal_paid", pending.id)
    assert await _failed_checks(engine, pending, paid_early) == {
        "withdrawals_settled_once",
        "one_outcome_per_withdrawal",
    }
    pending = withdrawal("pending")
    assert await _failed_checks(engine, pending, entry("withdrawal", pending.id)) == set()
    reserved_twice = [entry("withdrawal", pending.id) for _ in range(2)]
    assert await _failed_checks(engine, pending, *reserved_twice) == {"one_outcome_per_withdrawal"}


@pytest.mark.parametrize(
    "statement", ["UPDATE stripe_events SET type = 'x'", "DELETE FROM stripe_events"]
)
async def test_event_inbox_is_append_only(engine: AsyncEngine, statement: str) -> None:
    async with session_factory(engine)() as session:
        session.add(
            StripeEvent(
                id=f"evt_{secrets.token_hex(6)}", type="t", payload={}, received_at=utcnow()
            )
        )
        await session.flush()
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text(statement))
        await session.rollback()


async def test_payouts_are_append_only(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        party = _party()
        session.add(party)
        await session.flush()
        withdrawal = Withdrawal(
            id=f"wdr_{secrets.token_hex(6)}", party_id=party.id, amount=1, status="failed",
            created_at=utcnow(),
        )  # fmt: skip
        session.add(withdrawal)
        await session.flush()
        session.add(
            Payout(withdrawal_id=withdrawal.id, party_id=party.id, account_id="acct_1", amount=1,
                   idempotency_key=f"k{secrets.token_hex(6)}", status="failed", created_at=utcnow())
        )  # fmt: skip
        await session.flush()
        connection = await raw_connection(session)
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(
                f"UPDATE payouts SET status = 'paid' WHERE withdrawal_id = '{withdrawal.id}'"
            )
        await session.rollback()
