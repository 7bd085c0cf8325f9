"""The master key that encrypts signing keys at rest, and decrypted keys cached per process.

The master key comes from `MARKET_KEY_ENCRYPTION_KEY`, or is generated once into
`MARKET_DATA_DIR/key-encryption.key` (mode 0600). It is never logged or returned.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market.certification.keycrypt import (
    decode_master_key,
    decrypt_private_key,
    encode_master_key,
    encrypt_private_key,
    generate_master_key,
)
from market.settings import Settings

MASTER_KEY_FILE = "key-encryption.key"


def load_master_key(settings: Settings) -> bytes:
    if settings.market_key_encryption_key is not None:
        return decode_master_key(settings.market_key_encryption_key.get_secret_value())
    path = Path(settings.market_data_dir) / MASTER_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process won the race; read its key below
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(encode_master_key(generate_master_key()))
    return decode_master_key(path.read_text())


class Keyring:
    """Encrypts new private keys and caches decrypted ones by key id."""

    def __init__(self, master_key: bytes) -> None:
        self._master_key = master_key
        self._cache: dict[str, Ed25519PrivateKey] = {}

    def seal(self, key_id: str, private_key: Ed25519PrivateKey) -> bytes:
        self._cache[key_id] = private_key
        return encrypt_private_key(private_key, self._master_key, context=key_id.encode())

    def open(self, key_id: str, blob: bytes) -> Ed25519PrivateKey:
        cached = self._cache.get(key_id)
        if cached is None:
            cached = decrypt_private_key(blob, self._master_key, context=key_id.encode())
            self._cache[key_id] = cached
        return cached

    def __repr__(self) -> str:  # never show key material
        return f"Keyring(cached={len(self._cache)})"


_keyring: Keyring | None = None


def install_keyring(settings: Settings) -> Keyring:
    global _keyring
    _keyring = Keyring(load_master_key(settings))
    return _keyring


def keyring() -> Keyring:
    if _keyring is None:
        raise RuntimeError("the keyring is not installed (create_app installs it)")
    return _keyring
