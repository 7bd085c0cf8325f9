"""Ed25519 private keys encrypted at rest with AES-256-GCM under a master key.

Blob layout (bytes)::

    0x01 (format version) || nonce (12 random bytes) || AES-256-GCM(seed, aad) (32 + 16 tag)

The associated data is ``ASSOCIATED_DATA`` followed by an optional caller-supplied ``context``
(e.g. the key id), which binds a blob to its row so blobs cannot be swapped between keys.
The master key is 32 random bytes, exchanged as base64url without padding.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from market.certification.signing import b64u_decode, b64u_encode

__all__ = [
    "ASSOCIATED_DATA",
    "MASTER_KEY_LEN",
    "KeyDecryptionError",
    "decode_master_key",
    "decrypt_private_key",
    "encode_master_key",
    "encrypt_private_key",
    "generate_master_key",
]

ASSOCIATED_DATA = b"market.certification.keycrypt/ed25519-seed/v1"
MASTER_KEY_LEN = 32
NONCE_LEN = 12
_VERSION = b"\x01"
_SEED_LEN = 32
_TAG_LEN = 16
_BLOB_LEN = len(_VERSION) + NONCE_LEN + _SEED_LEN + _TAG_LEN


class KeyDecryptionError(Exception):
    """The blob could not be decrypted: wrong master key, wrong context, or corrupted blob."""


def _check_master_key(master_key: bytes) -> None:
    if not isinstance(master_key, bytes) or len(master_key) != MASTER_KEY_LEN:
        raise ValueError(f"master key must be {MASTER_KEY_LEN} bytes")


def generate_master_key() -> bytes:
    """32 random bytes for AES-256-GCM."""
    return AESGCM.generate_key(bit_length=256)


def encode_master_key(master_key: bytes) -> str:
    """base64url (no padding) text form of a master key."""
    _check_master_key(master_key)
    return b64u_encode(master_key)


def decode_master_key(text: str) -> bytes:
    """Parse :func:`encode_master_key` output; ``ValueError`` if invalid or not 32 bytes."""
    key = b64u_decode(text.strip())
    _check_master_key(key)
    return key


def encrypt_private_key(
    private_key: Ed25519PrivateKey, master_key: bytes, *, context: bytes = b""
) -> bytes:
    """Encrypt the private key's 32-byte seed; returns the blob described in the module doc."""
    _check_master_key(master_key)
    nonce = os.urandom(NONCE_LEN)
    seed = private_key.private_bytes_raw()
    ciphertext = AESGCM(master_key).encrypt(nonce, seed, ASSOCIATED_DATA + context)
    return _VERSION + nonce + ciphertext


def decrypt_private_key(
    blob: bytes, master_key: bytes, *, context: bytes = b""
) -> Ed25519PrivateKey:
    """Decrypt :func:`encrypt_private_key` output; raises :class:`KeyDecryptionError`."""
    _check_master_key(master_key)
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise KeyDecryptionError("encrypted key blob must be bytes")
    data = bytes(blob)
    if len(data) != _BLOB_LEN or data[:1] != _VERSION:
        raise KeyDecryptionError("unrecognised encrypted key blob format")
    nonce = data[1 : 1 + NONCE_LEN]
    ciphertext = data[1 + NONCE_LEN :]
    try:
        seed = AESGCM(master_key).decrypt(nonce, ciphertext, ASSOCIATED_DATA + context)
    except InvalidTag as exc:
        raise KeyDecryptionError(
            "cannot decrypt private key (wrong master key or corrupted blob)"
        ) from exc
    return Ed25519PrivateKey.from_private_bytes(seed)
