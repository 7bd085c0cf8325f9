"""Certification refusals."""

from __future__ import annotations

from market.kit.errors import Conflict, InvalidInput


class InvalidProofRequest(InvalidInput):
    code = "invalid_proof_request"


class LogNotReady(Conflict):
    code = "log_not_ready"


class KeyAlreadyRevoked(Conflict):
    code = "key_already_revoked"
