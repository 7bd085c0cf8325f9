"""Cash, deposits, withdrawals and ledger entries over HTTP (API.md "Cash and payments").

`/v1/deposits` (bank transfers by the operator, cards by traders; one path, one controller)
and the Stripe routes live in `market.payments.controllers`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.cash.models import WITHDRAWAL_STATUSES
from market.cash.schemas import (
    CashOut,
    DepositOut,
    EntryOut,
    WithdrawalCreate,
    WithdrawalFailed,
    WithdrawalOut,
    WithdrawalPaid,
)
from market.cash.service import CashService
from market.cash.views import cash_out, deposit_out, entry_out, withdrawal_out
from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of
from market.kit.schema import ID_PATTERN

PartyQuery = Annotated[str | None, QueryParameter(pattern=ID_PATTERN)]
WithdrawalStatus = Literal[WITHDRAWAL_STATUSES]  # type: ignore[valid-type]


class CashController(Controller):
    path = "/v1"
    tags = ["cash"]  # noqa: RUF012

    @get("/cash")
    async def cash(
        self, caller: CallerOf, db_session: Session, party_id: PartyQuery = None
    ) -> CashOut:
        """The party's cash. The platform operator's `available` includes the fees it holds
        per instrument, broken down in `fees`."""
        return cash_out(await CashService(db_session).cash(caller, party_id))

    @post("/fees/sweep", status_code=200)
    async def sweep_fees(self, caller: CallerOf, db_session: Session) -> CashOut:
        """The operator moves the fees held per instrument into the platform operator's own
        account (one `fee_sweep` journal entry); the balance stays the same."""
        return cash_out(await CashService(db_session).sweep_fees(caller))

    @get("/deposits/{deposit_id:str}")
    async def get_deposit(
        self, deposit_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> DepositOut:
        return deposit_out(await CashService(db_session).get_deposit(caller, deposit_id))

    @post("/withdrawals", status_code=201)
    async def withdraw(
        self, data: JSONBody[WithdrawalCreate], caller: CallerOf, db_session: Session
    ) -> WithdrawalOut:
        return withdrawal_out(await CashService(db_session).withdraw(caller, data))

    @get("/withdrawals")
    async def withdrawals(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        party_id: PartyQuery = None,
        status: Annotated[WithdrawalStatus | None, QueryParameter()] = None,
    ) -> Page[WithdrawalOut]:
        """The caller's withdrawals, newest first; the operator and regulators see any party's
        (all parties' without `party_id`)."""
        rows = await CashService(db_session).list_withdrawals(
            caller, party_id, status=status, limit=list_params.limit, cursor=list_params.cursor
        )
        return page_of([withdrawal_out(w) for w in rows], list_params.limit)

    @get("/withdrawals/{withdrawal_id:str}")
    async def get_withdrawal(
        self, withdrawal_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> WithdrawalOut:
        return withdrawal_out(await CashService(db_session).get_withdrawal(caller, withdrawal_id))

    @post("/withdrawals/{withdrawal_id:str}/paid", status_code=200)
    async def mark_paid(
        self,
        withdrawal_id: FromPath[str],
        caller: CallerOf,
        db_session: Session,
        data: JSONBody[WithdrawalPaid | None] = None,
    ) -> WithdrawalOut:
        """The operator paid it by bank (optionally with the bank's reference)."""
        reference = data.reference if data else None
        return withdrawal_out(
            await CashService(db_session).mark_paid(caller, withdrawal_id, reference)
        )

    @post("/withdrawals/{withdrawal_id:str}/failed", status_code=200)
    async def mark_failed(
        self,
        withdrawal_id: FromPath[str],
        caller: CallerOf,
        db_session: Session,
        data: JSONBody[WithdrawalFailed | None] = None,
    ) -> WithdrawalOut:
        """The operator's bank payment failed: the reservation is released."""
        reason = None
        if data is not None:
            reason = data.reason or (f"bank reference {data.reference}" if data.reference else None)
        return withdrawal_out(
            await CashService(db_session).mark_failed(caller, withdrawal_id, reason)
        )

    @post("/withdrawals/{withdrawal_id:str}/cancel", status_code=200)
    async def cancel_withdrawal(
        self, withdrawal_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> WithdrawalOut:
        return withdrawal_out(
            await CashService(db_session).cancel_withdrawal(caller, withdrawal_id)
        )

    @get("/ledger/entries")
    async def entries(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        party_id: PartyQuery = None,
    ) -> Page[EntryOut]:
        """Journal entries with a posting for the party, newest first."""
        entries, postings = await CashService(db_session).entries(
            caller, party_id, limit=list_params.limit, cursor=list_params.cursor
        )
        return page_of([entry_out(e, postings[e["id"]]) for e in entries], list_params.limit)
