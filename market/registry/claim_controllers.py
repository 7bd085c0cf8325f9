"""Claims on an asset's ecosystem services over HTTP (API.md "Value accounting and
compensation")."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from market.http.dependencies import CallerOf, Session
from market.registry.claim_service import ClaimService
from market.registry.schemas import ClaimOut


class ClaimController(Controller):
    path = "/v1/claims"
    tags = ["registry"]  # noqa: RUF012

    @get("/")
    async def claims(
        self,
        caller: CallerOf,
        db_session: Session,
        asset_id: Annotated[str, QueryParameter(min_length=1, max_length=64)],
    ) -> dict[str, list[ClaimOut]]:
        """Every claim on the asset, oldest first: batches and compensation payments."""
        rows = await ClaimService(db_session).claims_of(caller, asset_id)
        return {"items": [ClaimOut.model_validate(r) for r in rows]}
