"""Compensation schemes, periods and payments over HTTP (API.md "Value accounting and
compensation")."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, MediaType, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from market.compensation.plans import Plan
from market.compensation.schemas import (
    FundIn,
    PaymentOut,
    PeriodIn,
    PeriodOut,
    PreviewOut,
    SchemeCreate,
    SchemeOut,
)
from market.compensation.service import CompensationService
from market.compensation.views import payment_out, period_out, preview_out, scheme_out
from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of


class CompensationController(Controller):
    path = "/v1/compensation"
    tags = ["compensation"]  # noqa: RUF012

    @post("/schemes", status_code=201)
    async def create_scheme(
        self, data: JSONBody[SchemeCreate], caller: CallerOf, db_session: Session
    ) -> SchemeOut:
        scheme = await CompensationService(db_session).create_scheme(caller, data)
        return scheme_out(scheme, 0)

    @get("/schemes")
    async def schemes(self, db_session: Session, list_params: Listing) -> Page[SchemeOut]:
        """Every scheme with its balance (public)."""
        service = CompensationService(db_session)
        found = await service.schemes(limit=list_params.limit, cursor=list_params.cursor)
        balances = await service.balances([s.id for s in found])
        return page_of([scheme_out(s, balances.get(s.id, 0)) for s in found], list_params.limit)

    @get("/schemes/{scheme_id:str}")
    async def get_scheme(self, scheme_id: FromPath[str], db_session: Session) -> SchemeOut:
        service = CompensationService(db_session)
        scheme = await service.scheme(scheme_id)
        return scheme_out(scheme, (await service.balances([scheme.id])).get(scheme.id, 0))

    @post("/schemes/{scheme_id:str}/fund", status_code=200)
    async def fund(
        self,
        scheme_id: FromPath[str],
        data: JSONBody[FundIn],
        caller: CallerOf,
        db_session: Session,
    ) -> SchemeOut:
        service = CompensationService(db_session)
        scheme = await service.fund(caller, scheme_id, data)
        return scheme_out(scheme, (await service.balances([scheme.id]))[scheme.id])

    @post(
        "/schemes/{scheme_id:str}/periods",
        status_code=201,
        responses={
            200: ResponseSpec(data_container=PreviewOut, description="the preview (`preview`)")
        },
    )
    async def settle(
        self,
        scheme_id: FromPath[str],
        data: JSONBody[PeriodIn],
        caller: CallerOf,
        db_session: Session,
    ) -> Response[PeriodOut | PreviewOut]:
        """`preview: true` → 200 with what execution would pay and exclude; else 201 with the
        settled period's certified payments."""
        result = await CompensationService(db_session).settle(caller, scheme_id, data)
        if isinstance(result, Plan):
            preview = preview_out(scheme_id, data.period_start, data.period_end, result)
            return Response(preview, status_code=200, media_type=MediaType.JSON)
        return Response(period_out(result), status_code=201, media_type=MediaType.JSON)

    @get("/payments")
    async def payments(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        party_id: Annotated[str | None, QueryParameter(min_length=1, max_length=64)] = None,
    ) -> Page[PaymentOut]:
        """Payments the party received or paid (its own by default); regulators see all."""
        found = await CompensationService(db_session).payments(
            caller, party_id, limit=list_params.limit, cursor=list_params.cursor
        )
        return page_of([payment_out(p) for p in found], list_params.limit)
