"""Oversight refusals, each with a stable code."""

from __future__ import annotations

from market.kit.errors import Conflict, InvalidInput


class AlertAlreadyReviewed(Conflict):
    code = "alert_already_reviewed"


class ExportKindUnavailable(InvalidInput):
    """A kind the contract names but this deployment cannot export yet (compensation)."""

    code = "export_kind_unavailable"


class InvalidPeriod(InvalidInput):
    code = "invalid_period"
