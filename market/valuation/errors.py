"""Value accounting refusals, each with its stable code."""

from __future__ import annotations

from market.kit.errors import Conflict, InvalidInput


class MethodologyExists(Conflict):
    code = "methodology_exists"


class UnknownMethodology(InvalidInput):
    code = "unknown_methodology"


class UnknownIndicator(InvalidInput):
    code = "unknown_indicator"


class UnknownAsset(InvalidInput):
    code = "unknown_asset"


class AccountNotDraft(Conflict):
    code = "account_not_draft"


class InvalidCorrection(Conflict):
    """`supersedes` does not name the current published account of the same region and year."""

    code = "invalid_correction"
