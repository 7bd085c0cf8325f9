"""Verification of certificates, tree heads and proofs with no server and no database.

Inputs are the JSON shapes of API.md ("Certificates and the public log"):

* certificate: ``{id, kind, payload: {kind, id, issued_at, issuer, ...}, signature, alg, key_id,
  log_index}`` (signature base64url without padding, Ed25519 over RFC 8785 bytes of ``payload``);
* keys: ``{"keys": [{key_id, party_id, alg, public_key, status, not_before, revoked_at?}]}``;
* tree head: ``{tree_size, root_hash, timestamp, signature, key_id}``;
* inclusion proof: ``{leaf_index, tree_size, audit_path: [hex]}``;
* consistency proof: ``{first, second, proof: [hex]}``.

Key validity rules (timestamps are RFC 3339 with an offset, compared as instants):

* ``issued_at < not_before`` → invalid, ``signed_before_key_valid``.
* A revoked key (``status == "revoked"`` or ``revoked_at`` set) still verifies what it signed
  strictly before ``revoked_at`` (valid, ``key_status == "revoked"``); anything issued at or after
  ``revoked_at`` — or any signature by a revoked key with no ``revoked_at`` — is invalid,
  ``signed_after_revocation``.
* A rotated key keeps verifying what it signed (``key_status == "rotated"``).

``key_status`` is one of ``active``, ``rotated``, ``revoked`` or ``unknown`` (key not found or
the certificate is too malformed to name one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from market.certification import merkle
from market.certification.signing import (
    ALG,
    b64u_decode,
    canonical_bytes,
    signed_tree_head_payload,
    verify_bytes,
)

__all__ = [
    "KeyStatus",
    "Reason",
    "VerificationResult",
    "verify_certificate",
    "verify_head_consistency",
    "verify_inclusion_bundle",
    "verify_tree_head",
]


class Reason(StrEnum):
    """Stable machine-readable reasons for an invalid result."""

    MALFORMED = "malformed"
    UNSUPPORTED_ALG = "unsupported_alg"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    ISSUER_MISMATCH = "issuer_mismatch"
    PAYLOAD_MISMATCH = "payload_mismatch"
    SIGNED_BEFORE_KEY_VALID = "signed_before_key_valid"
    SIGNED_AFTER_REVOCATION = "signed_after_revocation"
    # tree heads and proofs
    TREE_HEAD_MALFORMED = "tree_head_malformed"
    TREE_HEAD_UNKNOWN_KEY = "tree_head_unknown_key"
    TREE_HEAD_UNSUPPORTED_ALG = "tree_head_unsupported_alg"
    TREE_HEAD_ISSUER_MISMATCH = "tree_head_issuer_mismatch"
    TREE_HEAD_BAD_SIGNATURE = "tree_head_bad_signature"
    TREE_HEAD_SIGNED_BEFORE_KEY_VALID = "tree_head_signed_before_key_valid"
    TREE_HEAD_SIGNED_AFTER_REVOCATION = "tree_head_signed_after_revocation"
    PROOF_MALFORMED = "proof_malformed"
    PROOF_MISMATCH = "proof_mismatch"
    INCLUSION_FAILED = "inclusion_failed"
    CONSISTENCY_FAILED = "consistency_failed"


class KeyStatus(StrEnum):
    ACTIVE = "active"
    ROTATED = "rotated"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class VerificationResult:
    valid: bool
    reason: str | None
    key_status: str

    def to_json(self) -> dict[str, Any]:
        """The ``POST /v1/certificates/verify`` response body: ``{valid, reason?, key_status}``."""
        body: dict[str, Any] = {"valid": self.valid, "key_status": str(self.key_status)}
        if self.reason is not None:
            body["reason"] = str(self.reason)
        return body


def _fail(reason: Reason, key_status: KeyStatus = KeyStatus.UNKNOWN) -> VerificationResult:
    return VerificationResult(False, reason.value, key_status.value)


class _Malformed(Exception):
    pass


_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_STATUSES = {s.value: s for s in (KeyStatus.ACTIVE, KeyStatus.ROTATED, KeyStatus.REVOKED)}


def _parse_ts(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Malformed("timestamp must be a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _Malformed(f"bad timestamp {value!r}") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Malformed("timestamp must carry a UTC offset")
    return parsed


def _str(mapping: Mapping[str, Any], field: str) -> str:
    value = mapping.get(field)
    if not isinstance(value, str) or not value:
        raise _Malformed(f"{field} must be a non-empty string")
    return value


def _int(mapping: Mapping[str, Any], field: str) -> int:
    value = mapping.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Malformed(f"{field} must be a non-negative integer")
    return value


def _hex_hash(value: Any) -> bytes:
    if not isinstance(value, str) or _HEX64_RE.fullmatch(value) is None:
        raise _Malformed("hash must be 64 lowercase hex characters")
    return bytes.fromhex(value)


def _hex_list(value: Any) -> list[bytes]:
    if not isinstance(value, list):
        raise _Malformed("proof must be a list of hex hashes")
    return [_hex_hash(v) for v in value]


def _signature(value: Any) -> bytes:
    if not isinstance(value, str):
        raise _Malformed("signature must be a base64url string")
    try:
        return b64u_decode(value)
    except ValueError as exc:
        raise _Malformed("signature is not valid base64url") from exc


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: str
    party_id: str
    alg: str
    public_key: bytes
    status: KeyStatus
    not_before: datetime | None
    revoked_at: datetime | None


def _find_key(keys: Mapping[str, Any] | None, key_id: str) -> _Key | None:
    """The parsed entry for ``key_id``; ``None`` if absent; ``_Malformed`` if the entry is bad."""
    if keys is None:
        return None
    if not isinstance(keys, Mapping):
        raise _Malformed("keys must be an object")
    entries = keys.get("keys")
    if not isinstance(entries, list):
        raise _Malformed("keys.keys must be a list")
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("key_id") != key_id:
            continue
        status_text = _str(entry, "status")
        status = _STATUSES.get(status_text)
        if status is None:
            raise _Malformed(f"unknown key status {status_text!r}")
        try:
            public_key = b64u_decode(_str(entry, "public_key"))
        except ValueError as exc:
            raise _Malformed("public_key is not valid base64url") from exc
        not_before = entry.get("not_before")
        revoked_at = entry.get("revoked_at")
        return _Key(
            key_id=key_id,
            party_id=_str(entry, "party_id"),
            alg=_str(entry, "alg"),
            public_key=public_key,
            status=status,
            not_before=None if not_before is None else _parse_ts(not_before),
            revoked_at=None if revoked_at is None else _parse_ts(revoked_at),
        )
    return None


def _key_status(key: _Key) -> KeyStatus:
    return KeyStatus.REVOKED if key.revoked_at is not None else key.status


def _time_check(key: _Key, signed_at: datetime) -> str | None:
    """``"not_yet_valid"``, ``"revoked"`` or ``None`` for a signature made at ``signed_at``."""
    if key.not_before is not None and signed_at < key.not_before:
        return "not_yet_valid"
    if key.revoked_at is not None:
        return "revoked" if signed_at >= key.revoked_at else None
    if key.status is KeyStatus.REVOKED:  # revoked with no revocation instant: trust nothing
        return "revoked"
    return None


# --------------------------------------------------------------------------- certificates


def verify_certificate(
    certificate: Mapping[str, Any], keys: Mapping[str, Any] | None
) -> VerificationResult:
    """Verify a certificate against the published keys (``GET /v1/keys`` body) offline.

    Checks, in order: shape (``malformed``), ``alg`` (``unsupported_alg``), envelope ``id``/``kind``
    equal to the payload's (``payload_mismatch``), key known (``unknown_key``), signature
    (``bad_signature``), ``payload.issuer`` equal to the key's ``party_id`` (``issuer_mismatch``),
    key validity at ``payload.issued_at`` (``signed_before_key_valid``,
    ``signed_after_revocation``). ``keys=None`` means no key list: ``unknown_key``.
    """
    try:
        if not isinstance(certificate, Mapping):
            raise _Malformed("certificate must be an object")
        payload = certificate.get("payload")
        if not isinstance(payload, Mapping):
            raise _Malformed("payload must be an object")
        alg = _str(certificate, "alg")
        key_id = _str(certificate, "key_id")
        signature = _signature(certificate.get("signature"))
        envelope_id = _str(certificate, "id")
        envelope_kind = _str(certificate, "kind")
        payload_id = _str(payload, "id")
        payload_kind = _str(payload, "kind")
        issuer = _str(payload, "issuer")
        issued_at = _parse_ts(payload.get("issued_at"))
        message = canonical_bytes(payload)
    except (_Malformed, ValueError):
        return _fail(Reason.MALFORMED)
    if alg != ALG:
        return _fail(Reason.UNSUPPORTED_ALG)
    if envelope_id != payload_id or envelope_kind != payload_kind:
        return _fail(Reason.PAYLOAD_MISMATCH)
    try:
        key = _find_key(keys, key_id)
    except _Malformed:
        return _fail(Reason.MALFORMED)
    if key is None:
        return _fail(Reason.UNKNOWN_KEY)
    status = _key_status(key)
    if key.alg != ALG:
        return _fail(Reason.UNSUPPORTED_ALG, status)
    if not verify_bytes(key.public_key, message, signature):
        return _fail(Reason.BAD_SIGNATURE, status)
    if issuer != key.party_id:
        return _fail(Reason.ISSUER_MISMATCH, status)
    problem = _time_check(key, issued_at)
    if problem == "not_yet_valid":
        return _fail(Reason.SIGNED_BEFORE_KEY_VALID, status)
    if problem == "revoked":
        return _fail(Reason.SIGNED_AFTER_REVOCATION, status)
    return VerificationResult(True, None, status.value)


# --------------------------------------------------------------------------- tree heads


@dataclass(frozen=True, slots=True)
class _Head:
    tree_size: int
    root_hash: bytes
    timestamp: str


def _check_head(
    tree_head: Mapping[str, Any],
    keys: Mapping[str, Any] | None,
    platform_party_id: str | None,
) -> tuple[_Head | None, VerificationResult]:
    try:
        if not isinstance(tree_head, Mapping):
            raise _Malformed("tree head must be an object")
        tree_size = _int(tree_head, "tree_size")
        root_hex = _str(tree_head, "root_hash")
        root_hash = _hex_hash(root_hex)
        timestamp = _str(tree_head, "timestamp")
        signed_at = _parse_ts(timestamp)
        key_id = _str(tree_head, "key_id")
        signature = _signature(tree_head.get("signature"))
        message = canonical_bytes(signed_tree_head_payload(tree_size, root_hex, timestamp))
    except (_Malformed, ValueError):
        return None, _fail(Reason.TREE_HEAD_MALFORMED)
    try:
        key = _find_key(keys, key_id)
    except _Malformed:
        return None, _fail(Reason.MALFORMED)
    if key is None:
        return None, _fail(Reason.TREE_HEAD_UNKNOWN_KEY)
    status = _key_status(key)
    if key.alg != ALG:
        return None, _fail(Reason.TREE_HEAD_UNSUPPORTED_ALG, status)
    if platform_party_id is not None and key.party_id != platform_party_id:
        return None, _fail(Reason.TREE_HEAD_ISSUER_MISMATCH, status)
    if not verify_bytes(key.public_key, message, signature):
        return None, _fail(Reason.TREE_HEAD_BAD_SIGNATURE, status)
    problem = _time_check(key, signed_at)
    if problem == "not_yet_valid":
        return None, _fail(Reason.TREE_HEAD_SIGNED_BEFORE_KEY_VALID, status)
    if problem == "revoked":
        return None, _fail(Reason.TREE_HEAD_SIGNED_AFTER_REVOCATION, status)
    head = _Head(tree_size, root_hash, timestamp)
    return head, VerificationResult(True, None, status.value)


def verify_tree_head(
    tree_head: Mapping[str, Any],
    keys: Mapping[str, Any] | None,
    *,
    platform_party_id: str | None = None,
) -> VerificationResult:
    """Verify a signed tree head (``GET /v1/log/head`` body) with the platform key from ``keys``.

    If ``platform_party_id`` is given the signing key must belong to that party.
    """
    return _check_head(tree_head, keys, platform_party_id)[1]


def verify_inclusion_bundle(
    certificate: Mapping[str, Any],
    tree_head: Mapping[str, Any],
    proof: Mapping[str, Any],
    keys: Mapping[str, Any] | None,
    *,
    platform_party_id: str | None = None,
) -> VerificationResult:
    """Verify a certificate, a signed tree head and the certificate's inclusion proof together.

    The leaf is ``leaf_hash(canonical_bytes(payload))``; ``proof.tree_size`` must equal the head's
    and ``proof.leaf_index`` the certificate's ``log_index`` (if present), else
    ``proof_mismatch``. The result's ``key_status`` is the certificate key's.
    """
    cert_result = verify_certificate(certificate, keys)
    if not cert_result.valid:
        return cert_result
    head, head_result = _check_head(tree_head, keys, platform_party_id)
    if head is None:
        return head_result
    try:
        if not isinstance(proof, Mapping):
            raise _Malformed("proof must be an object")
        leaf_index = _int(proof, "leaf_index")
        proof_size = _int(proof, "tree_size")
        path = _hex_list(proof.get("audit_path"))
    except _Malformed:
        return _fail(Reason.PROOF_MALFORMED, KeyStatus(cert_result.key_status))
    status = KeyStatus(cert_result.key_status)
    log_index = certificate.get("log_index")
    if proof_size != head.tree_size:
        return _fail(Reason.PROOF_MISMATCH, status)
    if log_index is not None and log_index != leaf_index:
        return _fail(Reason.PROOF_MISMATCH, status)
    leaf = merkle.leaf_hash(canonical_bytes(certificate["payload"]))
    if not merkle.verify_inclusion(leaf, leaf_index, head.tree_size, path, head.root_hash):
        return _fail(Reason.INCLUSION_FAILED, status)
    return cert_result


def verify_head_consistency(
    first_head: Mapping[str, Any],
    second_head: Mapping[str, Any],
    proof: Mapping[str, Any] | Sequence[str],
    keys: Mapping[str, Any] | None,
    *,
    platform_party_id: str | None = None,
) -> VerificationResult:
    """Verify two signed tree heads and the consistency proof between them.

    ``proof`` is the ``GET /v1/log/proof/consistency`` body (``{first, second, proof}``, whose sizes
    must match the heads') or just the list of hex hashes. ``key_status`` is the second head key's.
    """
    first, first_result = _check_head(first_head, keys, platform_party_id)
    if first is None:
        return first_result
    second, second_result = _check_head(second_head, keys, platform_party_id)
    if second is None:
        return second_result
    status = KeyStatus(second_result.key_status)
    try:
        if isinstance(proof, Mapping):
            if _int(proof, "first") != first.tree_size or _int(proof, "second") != second.tree_size:
                return _fail(Reason.PROOF_MISMATCH, status)
            hashes = _hex_list(proof.get("proof"))
        else:
            hashes = _hex_list(list(proof))
    except _Malformed:
        return _fail(Reason.PROOF_MALFORMED, status)
    if not merkle.verify_consistency(
        first.tree_size, second.tree_size, first.root_hash, second.root_hash, hashes
    ):
        return _fail(Reason.CONSISTENCY_FAILED, status)
    return second_result
