"""`Idempotency-Key`: the scope a key is valid in, the stored first response, and the errors.

A key is scoped to the caller's `Authorization` header; a request is identified by its method,
path and body. The first 2xx response is stored in the same transaction as the request's effect:
by `TransactionMiddleware` for ordinary writes, by the order sequencer for orders (whose effect is
committed by the sequencer's batch, not by the request's session).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from market.kit.errors import Conflict


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """A request carrying an `Idempotency-Key`: its scope (the stored record's key) and the
    hash of the request it must match."""

    scope: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A rendered response, as stored for (and replayed to) an `Idempotency-Key`."""

    status_code: int
    body: bytes


class IdempotentReplay(Exception):
    """The request repeats an earlier one: answer with the stored response."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("idempotent replay")
        self.stored = stored


def claim_for(
    authorization: str, key: str, method: str, path: str, body: bytes
) -> IdempotencyClaim:
    scope = hashlib.sha256(f"{authorization}\n{key}".encode()).hexdigest()
    request_hash = hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()
    return IdempotencyClaim(scope, request_hash)


def replay_or_refuse(claim: IdempotencyClaim, stored: tuple[str, StoredResponse]) -> StoredResponse:
    """The stored response for a repeat of the same request; 409 for another request."""
    request_hash, response = stored
    if request_hash != claim.request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    return response
