"""Assets over HTTP (API.md "Registry")."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of
from market.kit.schema import ID_PATTERN
from market.registry.asset_service import AssetService
from market.registry.schemas import AssetCreate, AssetEventOut, AssetOut, ReasonIn
from market.registry.views import asset_out

AssetStatus = Literal["applied", "confirmed", "rejected", "cancelled"]


class AssetController(Controller):
    path = "/v1/assets"
    tags = ["registry"]  # noqa: RUF012

    @post("/", status_code=201)
    async def apply(
        self, data: JSONBody[AssetCreate], caller: CallerOf, db_session: Session
    ) -> AssetOut:
        return asset_out(*await AssetService(db_session).apply(caller, data))

    @get("/{asset_id:str}")
    async def get_asset(
        self, asset_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> AssetOut:
        return asset_out(*await AssetService(db_session).get(caller, asset_id))

    @get("/")
    async def list_assets(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        status: Annotated[AssetStatus | None, QueryParameter()] = None,
        resource_type: Annotated[str | None, QueryParameter(max_length=20)] = None,
        holder_id: Annotated[str | None, QueryParameter(pattern=ID_PATTERN)] = None,
        region_code: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{2,6}$")] = None,
    ) -> Page[AssetOut]:
        rows = await AssetService(db_session).list_assets(
            caller,
            limit=list_params.limit,
            cursor=list_params.cursor,
            status=status,
            resource_type=resource_type,
            holder_id=holder_id,
            region_code=region_code,
        )
        return page_of([asset_out(a, r) for a, r in rows], list_params.limit)

    @get("/{asset_id:str}/events")
    async def events(
        self, asset_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> dict[str, list[AssetEventOut]]:
        events = await AssetService(db_session).events(caller, asset_id)
        return {"items": [AssetEventOut.model_validate(e) for e in events]}

    @post("/{asset_id:str}/confirm", status_code=200)
    async def confirm(
        self, asset_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> AssetOut:
        return asset_out(*await AssetService(db_session).confirm(caller, asset_id))

    @post("/{asset_id:str}/reject", status_code=200)
    async def reject(
        self,
        asset_id: FromPath[str],
        data: JSONBody[ReasonIn],
        caller: CallerOf,
        db_session: Session,
    ) -> AssetOut:
        return asset_out(*await AssetService(db_session).reject(caller, asset_id, data.reason))

    @post("/{asset_id:str}/cancel", status_code=200)
    async def cancel(
        self,
        asset_id: FromPath[str],
        data: JSONBody[ReasonIn],
        caller: CallerOf,
        db_session: Session,
    ) -> AssetOut:
        return asset_out(*await AssetService(db_session).cancel(caller, asset_id, data.reason))
