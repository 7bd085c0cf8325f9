"""Payment refusals, each with its stable code (API.md "Cash and payments")."""

from __future__ import annotations

from market.cash.errors import StripeNotConfigured
from market.kit.errors import Conflict, DomainError, Unavailable

__all__ = [
    "InvalidSignature",
    "MalformedEvent",
    "NoConnectedAccount",
    "StripeNotConfigured",
    "StripeRefused",
    "StripeUnavailable",
]


class InvalidSignature(DomainError):
    """A webhook whose `Stripe-Signature` is missing, wrong, or too old / too far ahead (400)."""

    code = "invalid_signature"


class MalformedEvent(DomainError):
    """A correctly signed webhook body that is not a Stripe event (400)."""

    code = "malformed_event"


class StripeUnavailable(Unavailable):
    """Stripe did not answer usably; nothing was changed here, retrying is safe (same key)."""

    code = "stripe_unavailable"


class StripeRefused(Conflict):
    """Stripe refused to create the PaymentIntent."""

    code = "stripe_refused"


class NoConnectedAccount(Conflict):
    """The party has no Stripe Connect account to pay out to (the operator sets one)."""

    code = "no_connected_account"
