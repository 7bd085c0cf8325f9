"""What workers say to each other: a request handed to an instrument's home worker, and its reply.

`market.workers.codec` is the one place these become bytes and bytes become these again.
"""

from __future__ import annotations

from dataclasses import dataclass

from market.kit.errors import DomainError


@dataclass(frozen=True, slots=True)
class PlaceOrderRequest:
    """Place an order on the receiving worker, its instrument's home.

    The caller is as the asking worker authenticated it (`market.parties.roles.Caller`'s
    fields); `order` is the validated `OrderCreate` as JSON; `idempotency` is the request's
    `Idempotency-Key` claim (scope, request hash), if it carried one.
    """

    party_id: str
    party_kind: str
    party_status: str
    order: str
    idempotency: tuple[str, str] | None = None


Request = PlaceOrderRequest


@dataclass(frozen=True, slots=True)
class OrderReply:
    """The home worker placed the order (or found it placed): its rendered response, to be
    relayed as it is."""

    status: int
    body: str


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """The home worker refused the order with a domain error: the asking worker raises it."""

    error: DomainError


@dataclass(frozen=True, slots=True)
class UnavailableReply:
    """The home worker could not place the order (it failed): the order runs where it arrived."""

    reason: str


@dataclass(frozen=True, slots=True)
class RefusedReply:
    """The home worker could not read the request (unknown or malformed): the order runs where
    it arrived, and `reason` says what was wrong."""

    reason: str


Reply = OrderReply | ErrorReply | UnavailableReply | RefusedReply
