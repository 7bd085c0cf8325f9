"""Party refusals."""

from __future__ import annotations

from market.kit.errors import Conflict, InvalidInput


class InvalidCreditCode(InvalidInput):
    code = "invalid_credit_code"


class PartyExists(Conflict):
    code = "party_exists"


class PartyFrozen(Conflict):
    code = "party_frozen"
