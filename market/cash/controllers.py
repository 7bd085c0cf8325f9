"""Cash, deposits, withdrawals and ledger entries over HTTP (API.md "Cash and payments")."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.cash.schemas import (
    CashOut,
    DepositCreate,
    DepositOut,
    EntryOut,
    WithdrawalCreate,
    WithdrawalOut,
)
from market.cash.service import CashService
from market.cash.views import cash_out, deposit_out, entry_out, withdrawal_out
from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of
from market.kit.schema import ID_PATTERN

PartyQuery = Annotated[str | None, QueryParameter(pattern=ID_PATTERN)]


class CashController(Controller):
    path = "/v1"
    tags = ["cash"]  # noqa: RUF012

    @get("/cash")
    async def cash(
        self, caller: CallerOf, db_session: Session, party_id: PartyQuery = None
    ) -> CashOut:
        owner, balance = await CashService(db_session).cash(caller, party_id)
        return cash_out(owner, balance)

    @post("/deposits", status_code=201)
    async def deposit(
        self, data: JSONBody[DepositCreate], caller: CallerOf, db_session: Session
    ) -> DepositOut:
        return deposit_out(await CashService(db_session).deposit(caller, data))

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

    @get("/withdrawals/{withdrawal_id:str}")
    async def get_withdrawal(
        self, withdrawal_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> WithdrawalOut:
        return withdrawal_out(await CashService(db_session).get_withdrawal(caller, withdrawal_id))

    @post("/withdrawals/{withdrawal_id:str}/paid", status_code=200)
    async def mark_paid(
        self, withdrawal_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> WithdrawalOut:
        return withdrawal_out(await CashService(db_session).mark_paid(caller, withdrawal_id))

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
