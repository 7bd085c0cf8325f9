"""Canonical JSON signing: Ed25519 (RFC 8032) over RFC 8785 (JCS) bytes.

Pure module: no database, no HTTP, no clock. Timestamps are passed in as strings.

Conventions (see API.md): binary values are base64url *without* padding, hashes are lowercase hex.
A key id is :func:`key_id_for` — the first 16 lowercase hex characters (64 bits) of SHA-256 of the
raw 32-byte Ed25519 public key. It is derived from the key alone, so it is stable and anyone can
recompute it from a published public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "ALG",
    "KEY_ID_HEX_CHARS",
    "b64u_decode",
    "b64u_encode",
    "canonical_bytes",
    "generate_private_key",
    "key_id_for",
    "payload_hash",
    "private_key_from_seed",
    "private_key_seed",
    "public_key_bytes",
    "sign_bytes",
    "sign_payload",
    "sign_tree_head",
    "signed_tree_head_payload",
    "verify_bytes",
    "verify_payload",
    "verify_tree_head",
]

ALG = "Ed25519"
KEY_ID_HEX_CHARS = 16
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64

_B64U_RE = re.compile(r"[A-Za-z0-9_-]*")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")


# --------------------------------------------------------------------------- canonical JSON


def _reject_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise ValueError(f"float at {path or '$'}: amounts and quantities must be strings")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_floats(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _reject_floats(item, f"{path}[{i}]")


def canonical_bytes(payload: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical bytes of ``payload``.

    Raises ``ValueError`` if the payload holds a float anywhere (amounts and quantities must already
    be strings) or anything RFC 8785 cannot canonicalize (non-string keys, integers outside the
    IEEE-754 safe range, unsupported types).
    """
    if not isinstance(payload, Mapping):
        raise ValueError("payload must be a JSON object")
    _reject_floats(payload, "")
    try:
        result = rfc8785.dumps(payload)
    except rfc8785.CanonicalizationError as exc:  # a ValueError subclass already
        raise ValueError(f"payload cannot be canonicalized: {exc}") from exc
    except TypeError as exc:
        raise ValueError(f"payload cannot be canonicalized: {exc}") from exc
    if not isinstance(result, bytes):  # pragma: no cover - defensive, rfc8785 returns bytes
        raise ValueError("rfc8785.dumps returned a non-bytes value")
    return result


def payload_hash(payload: Mapping[str, Any]) -> str:
    """Lowercase hex SHA-256 of the canonical bytes of ``payload``."""
    return hashlib.sha256(canonical_bytes(payload)).hexdigest()


# --------------------------------------------------------------------------- base64url


def b64u_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode base64url without padding; raises ``ValueError`` on anything invalid.

    Padding characters, the standard alphabet's ``+``/``/``, whitespace, impossible lengths
    (``len % 4 == 1``) and non-canonical trailing bits are all rejected.
    """
    if not isinstance(text, str):
        raise ValueError("base64url value must be a string")
    if _B64U_RE.fullmatch(text) is None:
        raise ValueError("invalid base64url characters")
    if len(text) % 4 == 1:
        raise ValueError("invalid base64url length")
    padded = text + "=" * (-len(text) % 4)
    try:
        data = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64url: {exc}") from exc
    if b64u_encode(data) != text:
        raise ValueError("non-canonical base64url encoding")
    return data


# --------------------------------------------------------------------------- keys


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key (randomness from the OS via ``cryptography``)."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key for a 32-byte RFC 8032 secret key (seed)."""
    if len(seed) != 32:
        raise ValueError("Ed25519 seed must be 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_seed(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte RFC 8032 secret key (seed) of ``private_key``."""
    return private_key.private_bytes_raw()


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """Raw 32-byte Ed25519 public key of a private or public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes_raw()


def key_id_for(public_key: bytes) -> str:
    """Stable key id: first 16 lowercase hex chars of SHA-256 of the raw 32-byte public key."""
    if len(public_key) != PUBLIC_KEY_LEN:
        raise ValueError("Ed25519 public key must be 32 bytes")
    return hashlib.sha256(public_key).hexdigest()[:KEY_ID_HEX_CHARS]


# --------------------------------------------------------------------------- sign / verify


def sign_bytes(private_key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Raw 64-byte Ed25519 signature of ``message``."""
    return private_key.sign(message)


def verify_bytes(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``.

    A malformed public key or a signature of the wrong length gives ``False`` (never raises).
    """
    if len(public_key) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def sign_payload(private_key: Ed25519PrivateKey, payload: Mapping[str, Any]) -> bytes:
    """Raw Ed25519 signature over the RFC 8785 bytes of ``payload``."""
    return sign_bytes(private_key, canonical_bytes(payload))


def verify_payload(public_key: bytes, payload: Mapping[str, Any], signature: bytes) -> bool:
    """Verify an Ed25519 signature over the RFC 8785 bytes of ``payload``.

    Returns ``False`` for a bad signature or malformed key/signature; raises ``ValueError`` if the
    payload itself cannot be canonicalized (e.g. it holds a float).
    """
    return verify_bytes(public_key, canonical_bytes(payload), signature)


# --------------------------------------------------------------------------- tree heads


def signed_tree_head_payload(tree_size: int, root_hash_hex: str, timestamp: str) -> dict[str, Any]:
    """The object whose RFC 8785 bytes the platform key signs for a tree head.

    ``{"root_hash": <lowercase hex>, "timestamp": <RFC 3339 string>, "tree_size": <int>}``.
    """
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or tree_size < 0:
        raise ValueError("tree_size must be a non-negative integer")
    if not isinstance(root_hash_hex, str) or _HEX64_RE.fullmatch(root_hash_hex) is None:
        raise ValueError("root_hash must be 64 lowercase hex characters")
    if not isinstance(timestamp, str) or not timestamp:
        raise ValueError("timestamp must be a non-empty string")
    return {"root_hash": root_hash_hex, "timestamp": timestamp, "tree_size": tree_size}


def sign_tree_head(
    private_key: Ed25519PrivateKey, tree_size: int, root_hash_hex: str, timestamp: str
) -> bytes:
    """Raw Ed25519 signature of :func:`signed_tree_head_payload`."""
    return sign_payload(private_key, signed_tree_head_payload(tree_size, root_hash_hex, timestamp))


def verify_tree_head(
    public_key: bytes, tree_size: int, root_hash_hex: str, timestamp: str, signature: bytes
) -> bool:
    """Verify a tree head signature; malformed head fields give ``False``."""
    try:
        payload = signed_tree_head_payload(tree_size, root_hash_hex, timestamp)
    except ValueError:
        return False
    return verify_payload(public_key, payload, signature)
