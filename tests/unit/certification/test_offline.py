"""Offline verification of certificates, tree heads and proofs (no server, no database)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from market.certification import merkle, offline, signing

REGISTRAR = "pty_registrar"
PLATFORM = "pty_platform"
T0 = "2026-01-01T00:00:00.000000Z"
ISSUED = "2026-11-23T19:20:50.123456Z"


def key_entry(
    key: Ed25519PrivateKey,
    party_id: str,
    status: str = "active",
    revoked_at: str | None = None,
    not_before: str = T0,
) -> dict[str, Any]:
    public = signing.public_key_bytes(key)
    entry: dict[str, Any] = {
        "key_id": signing.key_id_for(public),
        "party_id": party_id,
        "alg": "Ed25519",
        "public_key": signing.b64u_encode(public),
        "status": status,
        "not_before": not_before,
    }
    if revoked_at is not None:
        entry["revoked_at"] = revoked_at
    return entry


def make_cert(
    key: Ed25519PrivateKey, issuer: str = REGISTRAR, issued_at: str = ISSUED, log_index: int = 0
) -> dict[str, Any]:
    payload = {
        "kind": "rights_confirmation",
        "id": "crt_abc",
        "issued_at": issued_at,
        "issuer": issuer,
        "quantity": "100",
        "serial_range": ["1", "100"],
    }
    return {
        "id": "crt_abc",
        "kind": "rights_confirmation",
        "payload": payload,
        "signature": signing.b64u_encode(signing.sign_payload(key, payload)),
        "alg": "Ed25519",
        "key_id": signing.key_id_for(signing.public_key_bytes(key)),
        "log_index": log_index,
    }


@pytest.fixture(scope="module")
def reg_key() -> Ed25519PrivateKey:
    return signing.private_key_from_seed(bytes([1]) * 32)


@pytest.fixture(scope="module")
def platform_key() -> Ed25519PrivateKey:
    return signing.private_key_from_seed(bytes([2]) * 32)


@pytest.fixture
def keys(reg_key: Ed25519PrivateKey, platform_key: Ed25519PrivateKey) -> dict[str, Any]:
    return {"keys": [key_entry(reg_key, REGISTRAR), key_entry(platform_key, PLATFORM)]}


def result(valid: bool, reason: str | None, key_status: str) -> offline.VerificationResult:
    return offline.VerificationResult(valid, reason, key_status)


# --------------------------------------------------------------------------- certificates


def test_valid(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    r = offline.verify_certificate(make_cert(reg_key), keys)
    assert r == result(True, None, "active")
    assert r.to_json() == {"valid": True, "key_status": "active"}


def test_rotated_key_still_verifies(reg_key: Ed25519PrivateKey) -> None:
    keys = {"keys": [key_entry(reg_key, REGISTRAR, status="rotated")]}
    assert offline.verify_certificate(make_cert(reg_key), keys) == result(True, None, "rotated")


def test_tampered_payload(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    cert = make_cert(reg_key)
    cert["payload"]["quantity"] = "101"
    r = offline.verify_certificate(cert, keys)
    assert r == result(False, "bad_signature", "active")
    assert r.to_json() == {"valid": False, "reason": "bad_signature", "key_status": "active"}


def test_tampered_signature_every_char(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    cert = make_cert(reg_key)
    sig = signing.b64u_decode(cert["signature"])
    for i in range(len(sig)):
        bad = bytearray(sig)
        bad[i] ^= 0x04
        c = dict(cert, signature=signing.b64u_encode(bytes(bad)))
        assert offline.verify_certificate(c, keys).reason == "bad_signature"


def test_unknown_key(reg_key: Ed25519PrivateKey, platform_key: Ed25519PrivateKey) -> None:
    cert = make_cert(reg_key)
    only_platform = {"keys": [key_entry(platform_key, PLATFORM)]}
    assert offline.verify_certificate(cert, only_platform) == result(
        False, "unknown_key", "unknown"
    )
    assert offline.verify_certificate(cert, None).reason == "unknown_key"
    assert offline.verify_certificate(cert, {"keys": []}).reason == "unknown_key"


def test_revoked_after_signing_is_valid(reg_key: Ed25519PrivateKey) -> None:
    keys = {
        "keys": [
            key_entry(
                reg_key, REGISTRAR, status="revoked", revoked_at="2026-11-23T19:20:50.123457Z"
            )
        ]
    }
    assert offline.verify_certificate(make_cert(reg_key), keys) == result(True, None, "revoked")


@pytest.mark.parametrize(
    "revoked_at",
    [
        ISSUED,  # at the same instant: not before -> invalid
        "2026-11-23T19:20:50.123455Z",
        "2026-11-23T20:20:50.000000+01:00",  # earlier instant in another offset
        None,  # revoked with no instant: trust nothing
    ],
)
def test_signed_after_revocation(reg_key: Ed25519PrivateKey, revoked_at: str | None) -> None:
    keys = {"keys": [key_entry(reg_key, REGISTRAR, status="revoked", revoked_at=revoked_at)]}
    r = offline.verify_certificate(make_cert(reg_key), keys)
    assert r == result(False, "signed_after_revocation", "revoked")


def test_signed_before_key_valid(reg_key: Ed25519PrivateKey) -> None:
    keys = {"keys": [key_entry(reg_key, REGISTRAR, not_before="2026-11-24T00:00:00.000000Z")]}
    r = offline.verify_certificate(make_cert(reg_key), keys)
    assert r == result(False, "signed_before_key_valid", "active")


def test_issuer_mismatch(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    cert = make_cert(reg_key, issuer="pty_someone_else")
    assert offline.verify_certificate(cert, keys) == result(False, "issuer_mismatch", "active")


def test_payload_mismatch(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    cert = make_cert(reg_key)
    assert offline.verify_certificate(dict(cert, id="crt_other"), keys).reason == "payload_mismatch"
    assert offline.verify_certificate(dict(cert, kind="trade"), keys).reason == "payload_mismatch"


def test_unsupported_alg(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    cert = dict(make_cert(reg_key), alg="ES256")
    assert offline.verify_certificate(cert, keys).reason == "unsupported_alg"


def _mutations(cert: dict[str, Any]) -> list[Any]:
    out: list[Any] = [None, [], "x", {}]
    for field in ["payload", "signature", "alg", "key_id", "id", "kind"]:
        c = copy.deepcopy(cert)
        del c[field]
        out.append(c)
        out.append(dict(copy.deepcopy(cert), **{field: 12}))
    for field in ["id", "kind", "issuer", "issued_at"]:
        c = copy.deepcopy(cert)
        del c["payload"][field]
        out.append(c)
    for bad in ["not a time", "2026-11-23T19:20:50", 5]:
        c = copy.deepcopy(cert)
        c["payload"]["issued_at"] = bad
        out.append(c)
    c = copy.deepcopy(cert)
    c["payload"]["amount"] = 1.5
    out.append(c)
    out.append(dict(copy.deepcopy(cert), signature="!!!"))
    out.append(dict(copy.deepcopy(cert), signature="abc="))
    return out


def test_malformed(reg_key: Ed25519PrivateKey, keys: dict[str, Any]) -> None:
    for bad in _mutations(make_cert(reg_key)):
        r = offline.verify_certificate(bad, keys)
        assert r == result(False, "malformed", "unknown"), bad


def test_malformed_key_list(reg_key: Ed25519PrivateKey) -> None:
    cert = make_cert(reg_key)
    entry = key_entry(reg_key, REGISTRAR)
    bad_key_lists: list[dict[str, Any]] = [
        {"keys": "nope"},
        {"keys": [dict(entry, public_key="***")]},
        {"keys": [dict(entry, status="weird")]},
        {"keys": [dict(entry, not_before="yesterday")]},
    ]
    for bad_keys in bad_key_lists:
        assert offline.verify_certificate(cert, bad_keys).reason == "malformed"


# --------------------------------------------------------------------------- inclusion bundles


def build_log(
    certs: list[dict[str, Any]], platform_key: Ed25519PrivateKey, ts: str = ISSUED
) -> tuple[merkle.InMemoryNodeStore, dict[str, Any]]:
    store = merkle.InMemoryNodeStore()
    store.append_many([merkle.leaf_hash(signing.canonical_bytes(c["payload"])) for c in certs])
    root_hex = store.root().hex()
    head = {
        "tree_size": store.size,
        "root_hash": root_hex,
        "timestamp": ts,
        "signature": signing.b64u_encode(
            signing.sign_tree_head(platform_key, store.size, root_hex, ts)
        ),
        "key_id": signing.key_id_for(signing.public_key_bytes(platform_key)),
    }
    return store, head


def test_inclusion_bundle(
    reg_key: Ed25519PrivateKey, platform_key: Ed25519PrivateKey, keys: dict[str, Any]
) -> None:
    certs = [make_cert(reg_key, issued_at=ISSUED, log_index=i) for i in range(5)]
    for i, c in enumerate(certs):  # make payloads distinct
        c["payload"]["serial_range"] = [str(i), str(i)]
        c["signature"] = signing.b64u_encode(signing.sign_payload(reg_key, c["payload"]))
    store, head = build_log(certs, platform_key)
    for i, cert in enumerate(certs):
        proof: dict[str, Any] = {
            "leaf_index": i,
            "tree_size": store.size,
            "audit_path": [h.hex() for h in store.inclusion_proof(i)],
        }
        ok = offline.verify_inclusion_bundle(cert, head, proof, keys, platform_party_id=PLATFORM)
        assert ok == result(True, None, "active")
        assert offline.verify_tree_head(head, keys).valid
        # wrong leaf index / proof of another certificate
        other = (i + 1) % len(certs)
        wrong = dict(proof, leaf_index=other)
        assert offline.verify_inclusion_bundle(cert, head, wrong, keys).reason == "proof_mismatch"
        wrong_cert = dict(cert, log_index=other)
        wrong_path = dict(
            proof, leaf_index=other, audit_path=[h.hex() for h in store.inclusion_proof(other)]
        )
        r = offline.verify_inclusion_bundle(wrong_cert, head, wrong_path, keys)
        assert r.reason == "inclusion_failed"
        # tampered path element
        if proof["audit_path"]:
            tampered = dict(proof, audit_path=["00" * 32, *proof["audit_path"][1:]])
            r = offline.verify_inclusion_bundle(cert, head, tampered, keys)
            assert r.reason == "inclusion_failed"
    cert, proof = (
        certs[0],
        {
            "leaf_index": 0,
            "tree_size": store.size,
            "audit_path": [h.hex() for h in store.inclusion_proof(0)],
        },
    )
    # head signature / shape problems
    bad_head = dict(head, root_hash="11" * 32)
    assert offline.verify_inclusion_bundle(cert, bad_head, proof, keys).reason == (
        "tree_head_bad_signature"
    )
    assert offline.verify_inclusion_bundle(cert, dict(head, tree_size="5"), proof, keys).reason == (
        "tree_head_malformed"
    )
    unknown = dict(head, key_id="0" * 16)
    assert offline.verify_inclusion_bundle(cert, unknown, proof, keys).reason == (
        "tree_head_unknown_key"
    )
    assert offline.verify_inclusion_bundle(
        cert, head, proof, keys, platform_party_id="pty_other"
    ).reason == ("tree_head_issuer_mismatch")
    # head signed by a key that was revoked before the head's timestamp
    revoked_keys = {
        "keys": [
            key_entry(reg_key, REGISTRAR),
            key_entry(platform_key, PLATFORM, status="revoked", revoked_at=T0),
        ]
    }
    assert offline.verify_inclusion_bundle(cert, head, proof, revoked_keys).reason == (
        "tree_head_signed_after_revocation"
    )
    # proof shape / size mismatch
    assert offline.verify_inclusion_bundle(
        cert, head, dict(proof, audit_path="x"), keys
    ).reason == ("proof_malformed")
    assert offline.verify_inclusion_bundle(cert, head, dict(proof, tree_size=4), keys).reason == (
        "proof_mismatch"
    )
    # an invalid certificate is reported as such
    tampered_cert = copy.deepcopy(cert)
    tampered_cert["payload"]["quantity"] = "1"
    r = offline.verify_inclusion_bundle(tampered_cert, head, proof, keys)
    assert r.reason == "bad_signature"


def test_head_consistency(
    reg_key: Ed25519PrivateKey, platform_key: Ed25519PrivateKey, keys: dict[str, Any]
) -> None:
    certs = [make_cert(reg_key, log_index=i) for i in range(11)]
    for i, c in enumerate(certs):
        c["payload"]["quantity"] = str(i)
    _store_small, head3 = build_log(certs[:3], platform_key)
    store, head11 = build_log(certs, platform_key, ts="2026-11-24T00:00:00.000000Z")
    hashes = [h.hex() for h in store.consistency_proof(3, 11)]
    body = {"first": 3, "second": 11, "proof": hashes}
    assert offline.verify_head_consistency(head3, head11, body, keys).valid
    assert offline.verify_head_consistency(head3, head11, hashes, keys).valid
    assert offline.verify_head_consistency(head11, head11, [], keys).valid
    bad = {"first": 3, "second": 11, "proof": ["00" * 32, *hashes[1:]]}
    assert offline.verify_head_consistency(head3, head11, bad, keys).reason == "consistency_failed"
    mismatch = dict(body, first=4)
    assert offline.verify_head_consistency(head3, head11, mismatch, keys).reason == "proof_mismatch"
    assert offline.verify_head_consistency(head11, head3, [], keys).reason == "consistency_failed"
