"""Certification refusals."""

from __future__ import annotations

from market.kit.errors import Conflict


class InvalidProofRequest(Conflict):
    """Indices the log, at its current size, has no proof for (a 409: it depends on the log,
    not on the request's shape)."""

    code = "invalid_proof_request"


class LogNotReady(Conflict):
    code = "log_not_ready"


class KeyAlreadyRevoked(Conflict):
    code = "key_already_revoked"


class CertificateNotYetLogged(Conflict):
    """The certificate is stored but the log has not appended it yet (only between a write's
    commit and its append, e.g. after a crash there; the next integrator run appends it)."""

    code = "certificate_not_yet_logged"


class SigningKeyChanged(Conflict):
    """The issuer's key was rotated or revoked twice while one request signed with it."""

    code = "signing_key_changed"
