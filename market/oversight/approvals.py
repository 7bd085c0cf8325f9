"""A regulator's queue of held transfers and trades, and the decision on each.

Oversight dispatches: the registry decides a held transfer, trading a trade that settled into
`pending_approval`; neither knows about the other.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.kit.errors import NotFound
from market.kit.time import utcnow
from market.parties.roles import Caller, require
from market.registry.errors import InvalidStatus
from market.registry.models import Approval
from market.registry.repository import RegistryRepository
from market.registry.unit_service import UnitService
from market.trading.approvals import decide_trade


class ApprovalService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = RegistryRepository(session)

    async def list(
        self, caller: Caller, status: str | None, limit: int, cursor: str | None
    ) -> list[Approval]:
        require(caller, "regulator")
        return await self.repo.list_approvals(status, limit, cursor)

    async def decide(
        self, caller: Caller, approval_id: str, approve: bool, reason: str | None
    ) -> Approval:
        """Approving settles the held transfer or trade; rejecting returns units (and a
        trade's reserved cash) exactly."""
        require(caller, "regulator")
        approval = await self.repo.get(Approval, approval_id, lock=True)
        if approval is None:
            raise NotFound("approval not found")
        if approval.status != "pending":
            raise InvalidStatus(f"approval is {approval.status}")
        if approval.kind == "trade":
            await decide_trade(self.session, approval.subject_id, approve)
        else:
            await UnitService(self.session).decide_transfer(approval.subject_id, approve)
        approval.status = "approved" if approve else "rejected"
        approval.decided_by = caller.party_id
        approval.decided_at = utcnow()
        approval.reason = reason
        await self.repo.add(approval)
        return approval
