"""Registry refusals, each with its stable code (API.md)."""

from __future__ import annotations

from market.kit.errors import Conflict, Forbidden, InvalidInput, NotFound


class BoundaryOverlap(Conflict):
    code = "boundary_overlap"


class InvalidBoundary(InvalidInput):
    code = "invalid_boundary"


class InvalidRights(InvalidInput):
    code = "invalid_rights"


class InvalidStatus(Conflict):
    """The object is not in a state that allows this action (e.g. confirming a rejected asset)."""

    code = "invalid_status"


class NotRightHolder(Forbidden):
    code = "not_right_holder"


class AssetNotConfirmed(Conflict):
    code = "asset_not_confirmed"


class EcoProductNotCertified(Conflict):
    code = "eco_product_not_certified"


class DoubleIssuance(Conflict):
    code = "double_issuance"


class InsufficientUnits(Conflict):
    code = "insufficient_units"


class NotRetirable(Conflict):
    code = "not_retirable"


class BatchExpired(Conflict):
    code = "batch_expired"


class UnknownProductType(NotFound):
    code = "unknown_product_type"


class UnknownParty(NotFound):
    code = "unknown_party"


class DoubleClaim(Conflict):
    """The asset's ecosystem service is already claimed for an overlapping period."""

    code = "double_claim"
