"""Cash refusals, each with its stable code (API.md)."""

from __future__ import annotations

from market.kit.errors import Conflict


class InsufficientFunds(Conflict):
    """The account's bucket does not cover the amount; nothing was changed."""

    code = "insufficient_funds"


class StripeNotConfigured(Conflict):
    code = "stripe_not_configured"


class InvalidStatus(Conflict):
    """The withdrawal is not in a state that allows this action (e.g. cancelling a paid one)."""

    code = "invalid_status"


class InsufficientSchemeFunds(Conflict):
    code = "insufficient_scheme_funds"
