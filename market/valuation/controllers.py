"""GEP methodologies, accounts and monitoring records over HTTP (API.md "Value accounting and
compensation")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.http.dependencies import CallerOf, Listing, Session, provide_caller
from market.kit.pagination import Page, page_of
from market.parties.roles import Caller
from market.valuation.monitoring_service import MonitoringService
from market.valuation.schemas import (
    AccountCreate,
    AccountOut,
    MethodologyCreate,
    MethodologyOut,
    MonitoringCreate,
    MonitoringOut,
)
from market.valuation.service import ValuationService
from market.valuation.views import account_out, methodology_out, record_out

AccountStatus = Literal["draft", "published", "superseded"]


async def provide_reader(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Caller | None:
    """The caller if the request names one (drafts are visible to it), else an anonymous reader."""
    if "authorization" not in request.headers:
        return None
    return await provide_caller(request, db_session)


Reader = NamedDependency[Caller | None]


class ValuationController(Controller):
    path = "/v1/gep"
    tags = ["valuation"]  # noqa: RUF012
    dependencies = {"reader": Provide(provide_reader)}  # noqa: RUF012

    @get("/methodologies")
    async def methodologies(
        self, db_session: Session, list_params: Listing
    ) -> Page[MethodologyOut]:
        """Every methodology version with its indicators (public)."""
        rows = await ValuationService(db_session).methodologies(
            limit=list_params.limit, cursor=list_params.cursor
        )
        return page_of([methodology_out(*r) for r in rows], list_params.limit)

    @post("/methodologies", status_code=201)
    async def create_methodology(
        self, data: JSONBody[MethodologyCreate], caller: CallerOf, db_session: Session
    ) -> MethodologyOut:
        return methodology_out(*await ValuationService(db_session).create_methodology(caller, data))

    @post("/accounts", status_code=201)
    async def draft_account(
        self, data: JSONBody[AccountCreate], caller: CallerOf, db_session: Session
    ) -> AccountOut:
        return account_out(await ValuationService(db_session).draft_account(caller, data))

    @post("/accounts/{account_id:str}/publish", status_code=200)
    async def publish(
        self, account_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> AccountOut:
        return account_out(await ValuationService(db_session).publish(caller, account_id))

    @get("/accounts/{account_id:str}")
    async def get_account(
        self, account_id: FromPath[str], reader: Reader, db_session: Session
    ) -> AccountOut:
        return account_out(await ValuationService(db_session).account(reader, account_id))

    @get("/accounts")
    async def accounts(
        self,
        reader: Reader,
        db_session: Session,
        list_params: Listing,
        region_code: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{6}$")] = None,
        year: Annotated[int | None, QueryParameter(ge=1990, le=2100)] = None,
        status: Annotated[AccountStatus | None, QueryParameter()] = None,
    ) -> Page[AccountOut]:
        """Current (published) accounts, ordered by region then year: `?region_code=` alone is
        the region's series. `?status=` lists drafts (drafter, regulator) or superseded ones."""
        views = await ValuationService(db_session).accounts(
            reader,
            limit=list_params.limit,
            cursor=list_params.cursor,
            region_code=region_code,
            year=year,
            status=status,
        )
        kept = views[: list_params.limit]
        last = kept[-1].account if len(views) > list_params.limit else None
        return Page[AccountOut](
            items=[account_out(v) for v in kept],
            next_cursor=f"{last.region_code}:{last.year}:{last.id}" if last else None,
        )


class MonitoringController(Controller):
    path = "/v1/monitoring"
    tags = ["valuation"]  # noqa: RUF012

    @post("/records", status_code=201)
    async def record(
        self, data: JSONBody[MonitoringCreate], caller: CallerOf, db_session: Session
    ) -> MonitoringOut:
        return record_out(await MonitoringService(db_session).record(caller, data))

    @get("/records")
    async def records(
        self,
        db_session: Session,
        list_params: Listing,
        subject: Annotated[
            str | None, QueryParameter(pattern=r"^(section|asset|region):[^\u0000]{1,200}$")
        ] = None,
        indicator: Annotated[str | None, QueryParameter(pattern=r"^[a-z][a-z0-9_]{0,63}$")] = None,
        from_: Annotated[date | None, QueryParameter(name="from")] = None,
        to: Annotated[date | None, QueryParameter()] = None,
    ) -> Page[MonitoringOut]:
        """Records (public), oldest first: `subject=section:{name}|asset:{id}|region:{code}`;
        `from`/`to` keep records whose period overlaps them."""
        rows = await MonitoringService(db_session).records(
            limit=list_params.limit,
            cursor=list_params.cursor,
            subject=subject,
            indicator=indicator,
            since=from_,
            until=to,
        )
        return page_of([record_out(r) for r in rows], list_params.limit)
