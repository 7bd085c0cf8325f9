"""Holdings, transfers, retirements (and their public lookup) and pledges over HTTP."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Session
from market.kit.schema import ID_PATTERN
from market.registry.schemas import (
    HoldingOut,
    HoldingsOut,
    PledgeCreate,
    PledgeOut,
    RetirementCreate,
    RetirementOut,
    TransferCreate,
    TransferOut,
)
from market.registry.unit_service import UnitService

PartyQuery = Annotated[str | None, QueryParameter(pattern=ID_PATTERN)]


class UnitController(Controller):
    path = "/v1"
    tags = ["registry"]  # noqa: RUF012

    @get("/holdings")
    async def holdings(
        self, caller: CallerOf, db_session: Session, party_id: PartyQuery = None
    ) -> HoldingsOut:
        owner, items = await UnitService(db_session).holdings(caller, party_id)
        return HoldingsOut(party_id=owner, items=[HoldingOut.model_validate(i) for i in items])

    @post("/transfers", status_code=201)
    async def transfer(
        self, data: JSONBody[TransferCreate], caller: CallerOf, db_session: Session
    ) -> TransferOut:
        return TransferOut.model_validate(await UnitService(db_session).transfer(caller, data))

    @get("/transfers/{transfer_id:str}")
    async def get_transfer(
        self, transfer_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> TransferOut:
        return TransferOut.model_validate(
            await UnitService(db_session).get_transfer(caller, transfer_id)
        )

    @post("/retirements", status_code=201)
    async def retire(
        self, data: JSONBody[RetirementCreate], caller: CallerOf, db_session: Session
    ) -> RetirementOut:
        return RetirementOut.model_validate(await UnitService(db_session).retire(caller, data))

    @get("/retirements/{retirement_id:str}")
    async def get_retirement(
        self, retirement_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> RetirementOut:
        retirement = await UnitService(db_session).get_retirement(caller, retirement_id)
        return RetirementOut.model_validate(retirement)

    @post("/pledges", status_code=201)
    async def pledge(
        self, data: JSONBody[PledgeCreate], caller: CallerOf, db_session: Session
    ) -> PledgeOut:
        return PledgeOut.model_validate(await UnitService(db_session).pledge(caller, data))

    @post("/pledges/{pledge_id:str}/release", status_code=200)
    async def release(
        self, pledge_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> PledgeOut:
        return PledgeOut.model_validate(
            await UnitService(db_session).release_pledge(caller, pledge_id)
        )

    @get("/pledges/{pledge_id:str}")
    async def get_pledge(
        self, pledge_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> PledgeOut:
        return PledgeOut.model_validate(await UnitService(db_session).get_pledge(caller, pledge_id))


class PublicRetirementController(Controller):
    """Anyone, without a key, can look up a retirement by one of its serials."""

    path = "/v1/public"
    tags = ["public"]  # noqa: RUF012

    @get("/retirements")
    async def lookup(
        self,
        db_session: Session,
        batch_id: Annotated[str, QueryParameter(min_length=1, max_length=64)],
        serial: Annotated[int | None, QueryParameter(ge=1, le=10**15)] = None,
    ) -> dict[str, list[RetirementOut]]:
        rows = await UnitService(db_session).public_retirements(batch_id, serial)
        return {"items": [RetirementOut.model_validate(r) for r in rows]}
