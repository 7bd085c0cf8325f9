"""Regulator endpoints: approvals, freezes, every party's orders and their trails, alerts,
exports and the invariant report (API.md "Oversight")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.invariants import InvariantReport
from market.kit.pagination import Page, page_of
from market.kit.schema import Input, Output, Text, Timestamp
from market.oversight.approvals import ApprovalService
from market.oversight.exports import MEDIA_TYPES, export_spec, export_stream
from market.oversight.invariants import run_invariants
from market.oversight.schemas import (
    AlertKind,
    AlertOut,
    AlertStatus,
    ExportFormat,
    ExportKind,
    ReviewIn,
    TrailOut,
)
from market.oversight.service import AlertService, OrderOversight, check_period
from market.parties.roles import require
from market.parties.schemas import PartyOut
from market.parties.service import PartyService
from market.trading.schemas import OrderOut
from market.trading.views import order_out

OrderStatus = Literal["open", "partially_filled", "filled", "cancelled", "expired", "rejected"]
IdQuery = Annotated[str | None, QueryParameter(max_length=64)]
SymbolQuery = Annotated[str | None, QueryParameter(max_length=32)]
From = Annotated[datetime | None, QueryParameter(name="from")]
To = Annotated[datetime | None, QueryParameter()]


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

    @get("/orders")
    async def orders(
        self, caller: CallerOf, db_session: Session, list_params: Listing,
        party_id: IdQuery = None,
        instrument: SymbolQuery = None,
        status: Annotated[OrderStatus | None, QueryParameter()] = None,
        from_: From = None,
        to: To = None,
    ) -> Page[OrderOut]:  # fmt: skip
        rows, fills = await OrderOversight(db_session).orders(
            caller,
            party_id=party_id,
            status=status,
            instrument=instrument,
            since=from_,
            until=to,
            limit=list_params.limit,
            cursor=list_params.cursor,
        )
        return page_of([order_out(o, fills[o.id]) for o in rows], list_params.limit)

    @get("/orders/{order_id:str}/trail")
    async def trail(
        self, order_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> TrailOut:
        return await OrderOversight(db_session).trail(caller, order_id)

    @get("/alerts")
    async def alerts(
        self, caller: CallerOf, db_session: Session, list_params: Listing,
        kind: Annotated[AlertKind | None, QueryParameter()] = None,
        status: Annotated[AlertStatus | None, QueryParameter()] = None,
    ) -> Page[AlertOut]:  # fmt: skip
        rows = await AlertService(db_session).list(
            caller, kind, status, list_params.limit, list_params.cursor
        )
        return page_of(rows, list_params.limit)

    @get("/alerts/{alert_id:str}")
    async def alert(
        self, alert_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> AlertOut:
        return await AlertService(db_session).get(caller, alert_id)

    @post("/alerts/{alert_id:str}/review", status_code=200)
    async def review(
        self, alert_id: FromPath[str], data: JSONBody[ReviewIn], caller: CallerOf,
        db_session: Session,
    ) -> AlertOut:  # fmt: skip
        return await AlertService(db_session).review(caller, alert_id, data.note)

    @get("/export")
    async def export(
        self, caller: CallerOf, db_session: Session, state: State,
        kind: Annotated[ExportKind, QueryParameter()],
        format_: Annotated[ExportFormat, QueryParameter(name="format")] = "csv",
        from_: From = None,
        to: To = None,
    ) -> Stream:  # fmt: skip
        """The records of one kind as a file, streamed from a server-side cursor."""
        require(caller, "regulator")
        check_period(from_, to)
        spec = export_spec(kind)
        await db_session.close()  # the stream reads on its own connection
        suffix = "csv" if format_ == "csv" else "jsonl"
        return Stream(
            export_stream(state.engine, spec, format_, from_, to),
            media_type=MEDIA_TYPES[format_],
            headers={"Content-Disposition": f'attachment; filename="{kind}.{suffix}"'},
        )
