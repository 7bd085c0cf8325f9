"""Regulator endpoints: approvals, freezes, the invariant report (API.md "Oversight")."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.invariants import InvariantReport
from market.kit.pagination import Page, page_of
from market.kit.schema import Input, Output, Text, Timestamp
from market.oversight.approvals import ApprovalService
from market.oversight.invariants import run_invariants
from market.parties.roles import require
from market.parties.schemas import PartyOut
from market.parties.service import PartyService


class ApprovalOut(Output):
    id: str
    kind: str
    subject_id: str
    product_type: str
    quantity: int
    from_party_id: str
    to_party_id: str
    status: str
    reason: str | None
    decided_by: str | None
    created_at: Timestamp
    decided_at: Timestamp | None


class DecisionIn(Input):
    reason: Text | None = None


class OversightController(Controller):
    path = "/v1/oversight"
    tags = ["oversight"]  # noqa: RUF012

    @get("/approvals")
    async def approvals(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        status: Annotated[
            Literal["pending", "approved", "rejected"] | None, QueryParameter()
        ] = None,
    ) -> Page[ApprovalOut]:
        rows = await ApprovalService(db_session).list(
            caller, status, list_params.limit, list_params.cursor
        )
        return page_of([ApprovalOut.model_validate(r) for r in rows], list_params.limit)

    @post("/approvals/{approval_id:str}/approve", status_code=200)
    async def approve(
        self, approval_id: FromPath[str], caller: CallerOf, db_session: Session,
        data: JSONBody[DecisionIn | None] = None,
    ) -> ApprovalOut:  # fmt: skip
        reason = data.reason if data else None
        approval = await ApprovalService(db_session).decide(caller, approval_id, True, reason)
        return ApprovalOut.model_validate(approval)

    @post("/approvals/{approval_id:str}/reject", status_code=200)
    async def reject(
        self, approval_id: FromPath[str], caller: CallerOf, db_session: Session,
        data: JSONBody[DecisionIn | None] = None,
    ) -> ApprovalOut:  # fmt: skip
        reason = data.reason if data else None
        approval = await ApprovalService(db_session).decide(caller, approval_id, False, reason)
        return ApprovalOut.model_validate(approval)

    @post("/parties/{party_id:str}/freeze", status_code=200)
    async def freeze(
        self, party_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> PartyOut:
        return PartyOut.model_validate(
            await PartyService(db_session).set_frozen(caller, party_id, True)
        )

    @post("/parties/{party_id:str}/unfreeze", status_code=200)
    async def unfreeze(
        self, party_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> PartyOut:
        return PartyOut.model_validate(
            await PartyService(db_session).set_frozen(caller, party_id, False)
        )

    @get("/invariants")
    async def invariants(self, caller: CallerOf, state: State) -> InvariantReport:
        require(caller, "regulator", "operator")
        return await run_invariants(state.engine)
