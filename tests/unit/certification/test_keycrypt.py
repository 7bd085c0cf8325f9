"""Private keys encrypted at rest (AES-256-GCM)."""

from __future__ import annotations

import pytest

from market.certification import keycrypt, signing


def test_round_trip() -> None:
    master = keycrypt.generate_master_key()
    assert len(master) == 32
    key = signing.generate_private_key()
    blob = keycrypt.encrypt_private_key(key, master)
    assert signing.private_key_seed(key) not in blob
    again = keycrypt.decrypt_private_key(blob, master)
    assert signing.private_key_seed(again) == signing.private_key_seed(key)
    # fresh nonce each time
    assert keycrypt.encrypt_private_key(key, master) != blob


def test_wrong_key_or_tamper_fails() -> None:
    master = keycrypt.generate_master_key()
    blob = keycrypt.encrypt_private_key(signing.generate_private_key(), master)
    with pytest.raises(keycrypt.KeyDecryptionError):
        keycrypt.decrypt_private_key(blob, keycrypt.generate_master_key())
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(keycrypt.KeyDecryptionError):
            keycrypt.decrypt_private_key(bytes(bad), master)
    for bad_blob in [b"", blob[:-1], blob + b"\x00"]:
        with pytest.raises(keycrypt.KeyDecryptionError):
            keycrypt.decrypt_private_key(bad_blob, master)


def test_context_binding() -> None:
    master = keycrypt.generate_master_key()
    key = signing.generate_private_key()
    blob = keycrypt.encrypt_private_key(key, master, context=b"key-a")
    assert keycrypt.decrypt_private_key(blob, master, context=b"key-a")
    with pytest.raises(keycrypt.KeyDecryptionError):
        keycrypt.decrypt_private_key(blob, master, context=b"key-b")
    with pytest.raises(keycrypt.KeyDecryptionError):
        keycrypt.decrypt_private_key(blob, master)


def test_master_key_encoding() -> None:
    master = keycrypt.generate_master_key()
    text = keycrypt.encode_master_key(master)
    assert len(text) == 43 and "=" not in text
    assert keycrypt.decode_master_key(text) == master
    assert keycrypt.decode_master_key(f" {text}\n") == master
    with pytest.raises(ValueError):
        keycrypt.decode_master_key(text[:-2])
    with pytest.raises(ValueError):
        keycrypt.decode_master_key("not base64!")
    with pytest.raises(ValueError):
        keycrypt.encode_master_key(b"short")
    with pytest.raises(ValueError):
        keycrypt.encrypt_private_key(signing.generate_private_key(), b"short")
