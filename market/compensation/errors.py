"""Compensation refusals, each with its stable code (API.md)."""

from __future__ import annotations

from market.cash.errors import InsufficientFunds, InsufficientSchemeFunds
from market.kit.errors import Conflict, InvalidInput

__all__ = ["InsufficientFunds", "InsufficientSchemeFunds"]


class PeriodAlreadySettled(Conflict):
    code = "period_already_settled"


class SchemeHasNoAccount(Conflict):
    """Horizontal schemes move cash between their two parties; nothing funds them."""

    code = "scheme_has_no_account"


class MonitoringRecordMissing(Conflict):
    code = "monitoring_record_missing"


class CompensationBasisMissing(Conflict):
    """No weighted indicator has any data for the recipients in the period."""

    code = "compensation_basis_missing"


class UnknownRecipient(InvalidInput):
    code = "unknown_party"
