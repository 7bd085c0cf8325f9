"""Holdings, transfers (with regulator approval where the product type needs it),
retirements and their public lookup, pledges and their release."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.certification.service import CertificateService
from market.kit.errors import Forbidden, InvalidInput, NotFound
from market.kit.ids import new_id
from market.kit.time import utcnow
from market.parties.repository import PartyRepository
from market.parties.roles import TRADERS, Caller, require
from market.parties.service import PartyService
from market.registry.errors import BatchExpired, InvalidStatus, NotRetirable, UnknownParty
from market.registry.facts import pledge_facts, retirement_facts, transfer_facts
from market.registry.models import (
    Approval,
    Batch,
    Pledge,
    ProductType,
    Retirement,
    RetirementRange,
    Transfer,
)
from market.registry.repository import RegistryRepository
from market.registry.schemas import PledgeCreate, RetirementCreate, TransferCreate
from market.registry.unit_repository import Owner, UnitRepository
from market.registry.units import SerialRange, UnitLedger


def ranges_json(ranges: list[SerialRange]) -> list[dict[str, int]]:
    return [r.as_dict() for r in ranges]


class UnitService:
    def __init__(self, session: AsyncSession) -> None:
        self.repo = RegistryRepository(session)
        self.units = UnitLedger(session)
        self.unit_rows = UnitRepository(session)
        self.parties = PartyRepository(session)
        self.party_service = PartyService(session)
        self.certificates = CertificateService(session)

    # holdings -------------------------------------------------------------------------------

    async def holdings(
        self, caller: Caller, party_id: str | None
    ) -> tuple[str, list[dict[str, object]]]:
        party_id = party_id or caller.party_id
        if party_id != caller.party_id and not caller.oversees:
            raise NotFound("party not found")
        rows = await self.unit_rows.holdings_of(party_id)
        ranges = await self.unit_rows.all_ranges_of(party_id, [r["batch_id"] for r in rows])
        items = []
        for row in rows:
            items.append(
                {
                    **row,
                    "ranges": [
                        {"start": r["serial_start"], "end": r["serial_end"], "bucket": r["bucket"]}
                        for r in ranges
                        if r["batch_id"] == row["batch_id"]
                    ],
                }
            )
        return party_id, items

    async def _batch_for_holder(self, caller: Caller, batch_id: str) -> tuple[Batch, ProductType]:
        require(caller, *TRADERS)
        await self.party_service.require_active(caller)
        batch = await self.repo.get(Batch, batch_id)
        if batch is None:
            raise NotFound("batch not found")
        product_type = await self.repo.product_type(batch.product_type)
        assert product_type is not None
        if product_type.expires and batch.period_end < utcnow().date():
            raise BatchExpired(f"batch {batch.id} expired on {batch.period_end}")
        return batch, product_type

    async def _counterparty(self, party_id: str, caller: Caller, role: str) -> None:
        if party_id == caller.party_id:
            raise InvalidInput(f"the {role} must be another party")
        if await self.parties.get(party_id) is None:
            raise UnknownParty(f"unknown {role} {party_id}")

    # transfers ------------------------------------------------------------------------------

    async def transfer(self, caller: Caller, data: TransferCreate) -> Transfer:
        """Move units to another party, oldest serials first; held for approval if required."""
        batch, product_type = await self._batch_for_holder(caller, data.batch_id)
        await self._counterparty(data.to_party_id, caller, "recipient")
        recipient = await self.parties.get(data.to_party_id)
        assert recipient is not None
        if recipient.kind not in TRADERS:
            raise UnknownParty("units go only to a collective, an enterprise or a government")
        transfer_id = new_id("trf")
        source = Owner(batch.id, caller.party_id, "available")
        now = utcnow()
        if product_type.transfer_requires_approval:
            target = Owner(batch.id, caller.party_id, "escrowed", hold_ref=transfer_id)
            status = "pending_approval"
        else:
            target = Owner(batch.id, data.to_party_id, "available")
            status = "completed"
        moved = await self.units.move(
            source, target, data.quantity, reason="transfer", ref_id=transfer_id
        )
        transfer = Transfer(
            id=transfer_id,
            batch_id=batch.id,
            from_party_id=caller.party_id,
            to_party_id=data.to_party_id,
            quantity=data.quantity,
            reference=data.reference,
            status=status,
            ranges=ranges_json(moved),
            created_at=now,
            decided_at=now if status == "completed" else None,
        )
        if status == "completed":
            await self._certify_transfer(transfer)
        await self.repo.add(transfer)
        if status == "pending_approval":
            await self.repo.add(
                Approval(
                    id=new_id("apv"),
                    kind="transfer",
                    subject_id=transfer.id,
                    product_type=batch.product_type,
                    quantity=data.quantity,
                    from_party_id=caller.party_id,
                    to_party_id=data.to_party_id,
                    created_at=now,
                )
            )
        return transfer

    async def get_transfer(self, caller: Caller, transfer_id: str) -> Transfer:
        transfer = await self.repo.get(Transfer, transfer_id)
        if transfer is None or not (
            caller.oversees or caller.party_id in (transfer.from_party_id, transfer.to_party_id)
        ):
            raise NotFound("transfer not found")
        return transfer

    async def decide_transfer(self, transfer_id: str, approve: bool) -> None:
        """A regulator's decision on a held transfer: approving delivers the units (and
        certifies the transfer); rejecting returns them to the sender, exactly."""
        transfer = await self.repo.get(Transfer, transfer_id, lock=True)
        assert transfer is not None and transfer.status == "pending_approval"
        held = Owner(transfer.batch_id, transfer.from_party_id, "escrowed", hold_ref=transfer.id)
        destination = transfer.to_party_id if approve else transfer.from_party_id
        await self.units.move(
            held,
            Owner(transfer.batch_id, destination, "available"),
            transfer.quantity,
            reason="transfer_approved" if approve else "transfer_rejected",
            ref_id=transfer.id,
        )
        transfer.status = "completed" if approve else "rejected"
        transfer.decided_at = utcnow()
        if approve:
            await self._certify_transfer(transfer)
        await self.repo.add(transfer)

    async def _certify_transfer(self, transfer: Transfer) -> None:
        certificate = await self.certificates.issue_as_platform(
            "transfer", transfer.id, transfer_facts(transfer)
        )
        transfer.certificate_id = certificate.id

    async def _set_aside(
        self, batch_id: str, party_id: str, quantity: int, bucket: str, ref_id: str, reason: str
    ) -> list[SerialRange]:
        """Move the holder's oldest available serials into `bucket`, held by `ref_id`."""
        return await self.units.move(
            Owner(batch_id, party_id, "available"),
            Owner(batch_id, party_id, bucket, hold_ref=ref_id),
            quantity,
            reason=reason,
            ref_id=ref_id,
        )

    # retirements ----------------------------------------------------------------------------

    async def retire(self, caller: Caller, data: RetirementCreate) -> Retirement:
        """Final: the serials leave circulation for the beneficiary's claim."""
        batch, product_type = await self._batch_for_holder(caller, data.batch_id)
        if not product_type.retirable:
            raise NotRetirable(f"{product_type.code} units cannot be retired")
        retirement_id = new_id("ret")
        moved = await self._set_aside(
            batch.id, caller.party_id, data.quantity, "retired", retirement_id, "retirement"
        )
        retirement = Retirement(
            id=retirement_id,
            batch_id=batch.id,
            party_id=caller.party_id,
            quantity=data.quantity,
            ranges=ranges_json(moved),
            beneficiary=data.beneficiary,
            reason=data.reason,
            period=data.period,
            retired_at=utcnow(),
        )
        certificate = await self.certificates.issue_as_platform(
            "retirement", retirement.id, retirement_facts(retirement)
        )
        retirement.certificate_id = certificate.id
        await self.repo.insert_retirement(
            retirement,
            [
                RetirementRange(
                    retirement_id=retirement.id,
                    batch_id=batch.id,
                    serial_start=r.start,
                    serial_end=r.end,
                )
                for r in moved
            ],
        )
        return retirement

    async def public_retirements(self, batch_id: str, serial: int | None) -> list[Retirement]:
        if serial is None:
            return await self.repo.retirements_of_batch(batch_id, 500)
        return await self.repo.retirements_covering(batch_id, serial)

    async def get_retirement(self, caller: Caller, retirement_id: str) -> Retirement:
        retirement = await self.repo.get(Retirement, retirement_id)
        if retirement is None or not (caller.oversees or caller.party_id == retirement.party_id):
            raise NotFound("retirement not found")
        return retirement

    # pledges --------------------------------------------------------------------------------

    async def pledge(self, caller: Caller, data: PledgeCreate) -> Pledge:
        """Encumber units in favour of a pledgee; only the pledgee can release them."""
        batch, _ = await self._batch_for_holder(caller, data.batch_id)
        await self._counterparty(data.pledgee_id, caller, "pledgee")
        pledge_id = new_id("plg")
        moved = await self._set_aside(
            batch.id, caller.party_id, data.quantity, "pledged", pledge_id, "pledge"
        )
        pledge = Pledge(
            id=pledge_id,
            batch_id=batch.id,
            party_id=caller.party_id,
            pledgee_id=data.pledgee_id,
            quantity=data.quantity,
            ranges=ranges_json(moved),
            reference=data.reference,
            created_at=utcnow(),
        )
        certificate = await self.certificates.issue_as_platform(
            "pledge", pledge.id, pledge_facts(pledge)
        )
        pledge.certificate_id = certificate.id
        await self.repo.add(pledge)
        return pledge

    async def release_pledge(self, caller: Caller, pledge_id: str) -> Pledge:
        pledge = await self.repo.get(Pledge, pledge_id, lock=True)
        if pledge is None or caller.party_id not in (pledge.party_id, pledge.pledgee_id):
            raise NotFound("pledge not found")
        if caller.party_id != pledge.pledgee_id:
            raise Forbidden("only the pledgee can release a pledge")
        if pledge.status != "active":
            raise InvalidStatus(f"pledge is {pledge.status}")
        await self.units.move(
            Owner(pledge.batch_id, pledge.party_id, "pledged", hold_ref=pledge.id),
            Owner(pledge.batch_id, pledge.party_id, "available"),
            pledge.quantity,
            reason="pledge_release",
            ref_id=pledge.id,
        )
        pledge.status = "released"
        pledge.released_at = utcnow()
        await self.certificates.issue_as_platform("pledge_release", pledge.id, pledge_facts(pledge))
        await self.repo.add(pledge)
        return pledge

    async def get_pledge(self, caller: Caller, pledge_id: str) -> Pledge:
        pledge = await self.repo.get(Pledge, pledge_id)
        if pledge is None or not (
            caller.oversees or caller.party_id in (pledge.party_id, pledge.pledgee_id)
        ):
            raise NotFound("pledge not found")
        return pledge
