"""Canonical bytes, Ed25519 signing (cross-checked with PyNaCl), base64url, tree heads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from market.certification import signing

VECTOR = Path("/work/shared/testdata/ed25519_rfc8032_test1.json")

PAYLOAD: dict[str, Any] = {
    "kind": "trade",
    "id": "crt_1",
    "issued_at": "2026-11-23T19:20:50.123456Z",
    "issuer": "pty_x",
    "price": "52.00",
    "quantity": "3",
    "名": "碳汇",
}


def nacl_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def test_rfc8032_test1() -> None:
    vec = json.loads(VECTOR.read_text())
    key = signing.private_key_from_seed(bytes.fromhex(vec["secret_key"]))
    public = signing.public_key_bytes(key)
    assert public.hex() == vec["public_key"]
    assert signing.public_key_bytes(key.public_key()) == public
    assert signing.private_key_seed(key).hex() == vec["secret_key"]
    message = bytes.fromhex(vec["message"])
    sig = signing.sign_bytes(key, message)
    assert sig.hex() == vec["signature"]
    assert signing.verify_bytes(public, message, sig)
    assert nacl_verify(public, message, sig)


def test_canonical_bytes_is_rfc8785() -> None:
    assert signing.canonical_bytes(PAYLOAD) == rfc8785.dumps(PAYLOAD)
    assert signing.canonical_bytes({"b": 1, "a": [True, None]}) == b'{"a":[true,null],"b":1}'
    assert signing.payload_hash(PAYLOAD) == hashlib.sha256(rfc8785.dumps(PAYLOAD)).hexdigest()


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": 1.5},
        {"nested": {"deep": [1, 2.0]}},
        {"x": float("nan")},
        {"big": 2**60},
        {1: "non-string key"},
        {"obj": object()},
    ],
)
def test_canonical_bytes_rejects(bad: dict[Any, Any]) -> None:
    with pytest.raises(ValueError):
        signing.canonical_bytes(bad)


def test_sign_then_verify_with_pynacl_and_every_byte_flip() -> None:
    key = signing.generate_private_key()
    public = signing.public_key_bytes(key)
    sig = signing.sign_payload(key, PAYLOAD)
    assert len(sig) == 64
    assert signing.verify_payload(public, PAYLOAD, sig)
    message = rfc8785.dumps(PAYLOAD)
    assert nacl_verify(public, message, sig)
    for i in range(len(message)):
        flipped = bytearray(message)
        flipped[i] ^= 0x01
        assert not signing.verify_bytes(public, bytes(flipped), sig), i
        assert not nacl_verify(public, bytes(flipped), sig)
    for i in range(len(sig)):
        bad = bytearray(sig)
        bad[i] ^= 0x80
        assert not signing.verify_bytes(public, message, bytes(bad)), i
    other = signing.public_key_bytes(signing.generate_private_key())
    assert not signing.verify_payload(other, PAYLOAD, sig)
    assert not signing.verify_payload(public, {**PAYLOAD, "quantity": "4"}, sig)
    assert not signing.verify_bytes(public[:31], message, sig)
    assert not signing.verify_bytes(public, message, sig[:63])


def test_key_id() -> None:
    public = bytes(range(32))
    kid = signing.key_id_for(public)
    assert kid == hashlib.sha256(public).hexdigest()[:16]
    assert len(kid) == 16 and kid == kid.lower()
    with pytest.raises(ValueError):
        signing.key_id_for(b"short")


@given(st.binary(max_size=100))
def test_b64u_roundtrip(data: bytes) -> None:
    text = signing.b64u_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert signing.b64u_decode(text) == data


@pytest.mark.parametrize("bad", ["a", "ab=", "a+b/", "ab c", "abc=", "ab\n", "é", "AB"])
def test_b64u_decode_rejects(bad: str) -> None:
    # "AB" has non-zero trailing bits (canonical is "AA") -> rejected as non-canonical.
    with pytest.raises(ValueError):
        signing.b64u_decode(bad)


def test_tree_head_sign_verify() -> None:
    key = signing.generate_private_key()
    public = signing.public_key_bytes(key)
    root = "ab" * 32
    ts = "2026-11-23T19:20:50.123456Z"
    payload = signing.signed_tree_head_payload(7, root, ts)
    assert payload == {"root_hash": root, "timestamp": ts, "tree_size": 7}
    assert rfc8785.dumps(payload) == (
        b'{"root_hash":"' + root.encode() + b'","timestamp":"' + ts.encode() + b'","tree_size":7}'
    )
    sig = signing.sign_tree_head(key, 7, root, ts)
    assert nacl_verify(public, rfc8785.dumps(payload), sig)
    assert signing.verify_tree_head(public, 7, root, ts, sig)
    assert not signing.verify_tree_head(public, 8, root, ts, sig)
    assert not signing.verify_tree_head(public, 7, "cd" * 32, ts, sig)
    assert not signing.verify_tree_head(public, 7, root, "2026-11-23T19:20:50.123457Z", sig)
    assert not signing.verify_tree_head(public, 7, root.upper(), ts, sig)
    for bad in [(-1, root, ts), (True, root, ts), (1, "ab", ts), (1, root, "")]:
        with pytest.raises(ValueError):
            signing.signed_tree_head_payload(*bad)


@settings(max_examples=30, deadline=None)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=5), children, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=5,
    )
)
def test_sign_verify_property(payload: dict[str, Any]) -> None:
    key = signing.private_key_from_seed(bytes(32))
    sig = signing.sign_payload(key, payload)
    public = signing.public_key_bytes(key)
    assert nacl_verify(public, rfc8785.dumps(payload), sig)
    assert signing.verify_payload(public, payload, sig)
