"""All SQL for cash accounts, the journal, deposits and withdrawals.

The ledger's statements (locking, balance changes, journal entries) run as raw asyncpg on the
session's connection and transaction (`market.db.raw`, which also says how database errors are
raised): they sit on the order batch's hot path, where SQLAlchemy's statement building costs
more than the round trip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select

from market.cash.models import (
    CashAccount,
    Deposit,
    JournalEntry,
    Posting,
)
from market.db.raw import raw_connection
from market.kit.repository import M, Repository

ACCOUNTS: Table = CashAccount.__table__  # type: ignore[attr-defined]
ENTRIES: Table = JournalEntry.__table__  # type: ignore[attr-defined]
POSTINGS: Table = Posting.__table__  # type: ignore[attr-defined]

# Locks the accounts in party order ($1 sorted, distinct), creating missing ones. ON CONFLICT DO
# UPDATE … WHERE false locks an existing row without writing it, and sees rows committed after
# this statement's snapshot (a concurrent first deposit); RETURNING gives only the created rows,
# so the locked ones are read by `existing` (FOR NO KEY UPDATE returns their latest version).
# A row another transaction created while this one waited is locked but in neither set: the
# caller reads it afterwards (`_READ`).
_LOCK = """
WITH created AS (
  INSERT INTO cash_accounts AS a (party_id)
  SELECT unnest($1::text[])
  ON CONFLICT (party_id) DO UPDATE SET available = a.available WHERE false
  RETURNING a.party_id, a.available, a.reserved
), existing AS (
  SELECT party_id, available, reserved FROM cash_accounts
  WHERE party_id = ANY($1::text[])
  ORDER BY party_id
  FOR NO KEY UPDATE
)
SELECT party_id, available, reserved FROM created
UNION ALL
SELECT party_id, available, reserved FROM existing
"""

_READ = """
SELECT party_id, available, reserved FROM cash_accounts WHERE party_id = ANY($1::text[])
"""

# Net balance changes (party accounts, then fee sub-accounts: created on first use, in
# instrument order), entries and postings in one statement; returns how many party accounts
# changed (every party delta's row must exist). Postings keep their order (ids follow it).
# The select list runs `balances` before `fees`: a fee sub-account is locked after the party
# accounts (which the caller has locked anyway) and held until the commit.
_POST = """
WITH balances AS (
  UPDATE cash_accounts AS a
  SET available = a.available + d.available, reserved = a.reserved + d.reserved
  FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(party_id, available, reserved)
  WHERE a.party_id = d.party_id
  RETURNING 1
), fees AS (
  INSERT INTO fee_accounts AS f (instrument, available)
  SELECT d.instrument, d.amount FROM unnest($12::text[], $13::bigint[]) AS d(instrument, amount)
  ORDER BY d.instrument
  ON CONFLICT (instrument) DO UPDATE SET available = f.available + excluded.available
  RETURNING 1
), entries AS (
  INSERT INTO journal_entries (id, kind, ref_id, created_at)
  SELECT e.id, e.kind, e.ref_id, $4
  FROM unnest($5::text[], $6::text[], $7::text[]) AS e(id, kind, ref_id)
), postings AS (
  INSERT INTO postings (entry_id, account, party_id, amount)
  SELECT * FROM unnest($8::text[], $9::text[], $10::text[], $11::bigint[])
)
SELECT (SELECT count(*) FROM balances), (SELECT count(*) FROM fees)
"""

# A credit creates the instrument's fee sub-account if it has none. A debit (a sweep) only
# updates: the CHECK applies to the row an INSERT proposes even when it then conflicts.
_FEE_CREDIT = """
INSERT INTO fee_accounts AS f (instrument, available) VALUES ($1, $2)
ON CONFLICT (instrument) DO UPDATE SET available = f.available + excluded.available
"""
_FEE_DEBIT = "UPDATE fee_accounts SET available = available + $2 WHERE instrument = $1"

# The fee sub-accounts that hold something, locked in instrument order; FOR NO KEY UPDATE
# returns the latest version of a row a settlement changed while this waited for it.
_LOCK_FEES = """
SELECT instrument, available FROM fee_accounts WHERE available > 0
ORDER BY instrument
FOR NO KEY UPDATE
"""

_FEE_BALANCES = """
SELECT instrument, available FROM fee_accounts WHERE available <> 0 ORDER BY instrument
"""

_DEBIT = """
UPDATE cash_accounts SET available = available + $2::bigint, reserved = reserved + $3::bigint
WHERE party_id = $1 AND available >= -$2::bigint AND reserved >= -$3::bigint
RETURNING available, reserved
"""

_CREDIT = """
INSERT INTO cash_accounts AS a (party_id, available, reserved) VALUES ($1, $2, $3)
ON CONFLICT (party_id) DO UPDATE
SET available = a.available + excluded.available, reserved = a.reserved + excluded.reserved
RETURNING a.available, a.reserved
"""

_EXTERNAL = "UPDATE external_accounts SET balance = balance + $2 WHERE name = $1"


class CashRepository(Repository):
    """All SQL of this context (`add` and `get` come from `Repository`)."""

    async def deposit_for_intent(self, intent_id: str, *, lock: bool) -> Deposit | None:
        query = select(Deposit).where(Deposit.payment_intent_id == intent_id)  # type: ignore[arg-type]
        if lock:
            query = query.with_for_update()
        return (await self.session.execute(query)).scalars().one_or_none()

    async def card_deposits_since(self, since: datetime | None) -> list[Deposit]:
        query = select(Deposit).where(Deposit.method == "stripe").order_by(Deposit.id)  # type: ignore[arg-type]
        if since is not None:
            query = query.where(Deposit.created_at >= since)  # type: ignore[arg-type]
        return list((await self.session.execute(query)).scalars())

    async def list_of(
        self,
        model: type[M],
        party_id: str | None,
        *,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> list[M]:
        """Deposits or withdrawals (of one party, or all), newest first (ids sort by time)."""
        table: Any = model
        query = select(model).order_by(table.id.desc()).limit(limit + 1)
        if party_id is not None:
            query = query.where(table.party_id == party_id)
        if status is not None:
            query = query.where(table.status == status)
        if cursor:
            query = query.where(table.id < cursor)
        return list((await self.session.execute(query)).scalars())

    # accounts -------------------------------------------------------------------------------

    async def lock_accounts(self, party_ids: list[str]) -> list[tuple[str, int, int]]:
        """Create missing account rows and lock all of them in party order (no deadlocks):
        one round trip (two if another transaction created one of them meanwhile)."""
        ordered = sorted(set(party_ids))
        connection = await raw_connection(self.session)
        rows = await connection.fetch(_LOCK, ordered)
        if len(rows) < len(ordered):  # created and committed by another transaction
            rows = await connection.fetch(_READ, ordered)
        return sorted((r[0], r[1], r[2]) for r in rows)

    async def read_account(self, party_id: str) -> tuple[int, int] | None:
        row = (
            await self.session.execute(
                select(ACCOUNTS.c.available, ACCOUNTS.c.reserved).where(
                    ACCOUNTS.c.party_id == party_id
                )
            )
        ).one_or_none()
        return (row.available, row.reserved) if row else None

    async def debit(self, party_id: str, available: int, reserved: int) -> tuple[int, int] | None:
        """Add the (signed) deltas only if neither bucket goes below zero; None if refused."""
        connection = await raw_connection(self.session)
        row = await connection.fetchrow(_DEBIT, party_id, available, reserved)
        return (row[0], row[1]) if row is not None else None

    async def credit(self, party_id: str, available: int, reserved: int) -> tuple[int, int]:
        """Add non-negative deltas, creating the account row if the party has none yet."""
        connection = await raw_connection(self.session)
        row = await connection.fetchrow(_CREDIT, party_id, available, reserved)
        assert row is not None  # the upsert always returns its row
        return row[0], row[1]

    async def add_to_external(self, name: str, delta: int) -> None:
        connection = await raw_connection(self.session)
        await connection.execute(_EXTERNAL, name, delta)

    async def add_to_fee_account(self, instrument: str, delta: int) -> None:
        """Add the signed delta to the instrument's fee sub-account (a credit creates it);
        the CHECK refuses a debit beyond its balance."""
        connection = await raw_connection(self.session)
        await connection.execute(_FEE_CREDIT if delta > 0 else _FEE_DEBIT, instrument, delta)

    async def lock_fee_accounts(self) -> list[tuple[str, int]]:
        """Lock the fee sub-accounts that hold something, in instrument order: (symbol, fen)."""
        connection = await raw_connection(self.session)
        return [(r[0], r[1]) for r in await connection.fetch(_LOCK_FEES)]

    async def fee_balances(self) -> list[tuple[str, int]]:
        """The fee sub-accounts that hold something, in instrument order: (symbol, fen)."""
        connection = await raw_connection(self.session)
        return [(r[0], r[1]) for r in await connection.fetch(_FEE_BALANCES)]

    # journal --------------------------------------------------------------------------------

    async def post(
        self,
        deltas: list[tuple[str, int, int]],
        fee_deltas: list[tuple[str, int]],
        at: datetime,
        entries: tuple[list[str], list[str], list[str]],
        postings: tuple[list[str], list[str], list[str | None], list[int]],
    ) -> None:
        """Add (party, Δavailable, Δreserved) to existing accounts and (instrument, Δ) to fee
        sub-accounts (created if missing), and record the entries (ids, kinds, ref ids) and
        their postings (entry ids, accounts, parties, amounts), all in one statement. Holds
        are balance changes without entries.

        The CHECK constraints refuse any bucket going below zero, failing the whole statement
        (the caller turns that into a retry); party rows must exist (`lock_accounts` creates
        them).
        """
        if not entries[0] and not deltas and not fee_deltas:
            return
        connection = await raw_connection(self.session)
        changed = await connection.fetchval(
            _POST,
            [d[0] for d in deltas],
            [d[1] for d in deltas],
            [d[2] for d in deltas],
            at,
            *entries,
            *postings,
            [d[0] for d in fee_deltas],
            [d[1] for d in fee_deltas],
        )
        if changed != len(deltas):
            raise RuntimeError(f"{len(deltas) - changed} cash accounts to change do not exist")

    async def add_entry(
        self, entry_id: str, kind: str, ref_id: str, at: datetime, postings: list[dict[str, Any]]
    ) -> None:
        """One journal entry with its postings (balances are changed by the caller)."""
        await self.post(
            [],
            [],
            at,
            ([entry_id], [kind], [ref_id]),
            (
                [entry_id] * len(postings),
                [p["account"] for p in postings],
                [p["party_id"] for p in postings],
                [p["amount"] for p in postings],
            ),
        )

    async def entries_of(
        self, party_id: str, *, limit: int, cursor: str | None
    ) -> list[dict[str, Any]]:
        """Entries with a posting for `party_id`, newest first (ids are time-ordered)."""
        touched = select(POSTINGS.c.entry_id).where(POSTINGS.c.party_id == party_id)
        query = (
            select(ENTRIES)
            .where(ENTRIES.c.id.in_(touched))
            .order_by(ENTRIES.c.id.desc())
            .limit(limit + 1)
        )
        if cursor:
            query = query.where(ENTRIES.c.id < cursor)
        rows = await self.session.execute(query)
        return [dict(r._mapping) for r in rows]

    async def postings_of(self, entry_ids: list[str]) -> list[dict[str, Any]]:
        if not entry_ids:
            return []
        rows = await self.session.execute(
            select(POSTINGS.c.entry_id, POSTINGS.c.account, POSTINGS.c.party_id, POSTINGS.c.amount)
            .where(POSTINGS.c.entry_id.in_(entry_ids))
            .order_by(POSTINGS.c.id)
        )
        return [dict(r._mapping) for r in rows]
