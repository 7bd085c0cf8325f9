"""Parties and API keys over HTTP (API.md "Parties and keys")."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of
from market.parties.schemas import ApiKeyOut, PartyCreate, PartyCreated, PartyOut
from market.parties.service import PartyService


class PartyController(Controller):
    path = "/v1"
    tags = ["parties"]  # noqa: RUF012

    @post("/parties", status_code=201)
    async def create_party(
        self, data: JSONBody[PartyCreate], caller: CallerOf, db_session: Session
    ) -> PartyCreated:
        party, key, token = await PartyService(db_session).create(caller, data)
        return PartyCreated(party=PartyOut.model_validate(party), api_key=token, api_key_id=key.id)

    @get("/parties/{party_id:str}")
    async def get_party(
        self, party_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> PartyOut:
        return PartyOut.model_validate(await PartyService(db_session).get(caller, party_id))

    @get("/parties")
    async def list_parties(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        kind: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Page[PartyOut]:
        rows = await PartyService(db_session).list_parties(
            caller, limit=list_params.limit, cursor=list_params.cursor, kind=kind
        )
        return page_of([PartyOut.model_validate(p) for p in rows], list_params.limit)

    @get("/me")
    async def me(self, caller: CallerOf, db_session: Session) -> PartyOut:
        return PartyOut.model_validate(await PartyService(db_session).get(caller, caller.party_id))

    @post("/parties/{party_id:str}/api-keys", status_code=201)
    async def create_api_key(
        self, party_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> ApiKeyOut:
        key, token = await PartyService(db_session).create_key(caller, party_id)
        return ApiKeyOut(id=key.id, party_id=key.party_id, api_key=token, created_at=key.created_at)

    @delete("/api-keys/{key_id:str}", status_code=200)
    async def revoke_api_key(
        self, key_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> dict[str, str | None]:
        key = await PartyService(db_session).revoke_key(caller, key_id)
        return {"id": key.id, "party_id": key.party_id, "revoked_at": str(key.revoked_at)}
