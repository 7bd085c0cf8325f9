"""Certificates for every registry fact, checked through an independent path (rfc8785 + PyNaCl),
the public log's proofs through an independent RFC 9162 verifier, keys, the page and the CLI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market.cli import main as cli_main
from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry
from tests.unit.certification.test_merkle import ref_verify_consistency, ref_verify_inclusion


def b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def independent_verify(certificate: dict[str, Any], keys: dict[str, Any]) -> bool:
    """Not our code: RFC 8785 bytes from `rfc8785`, Ed25519 from libsodium (PyNaCl)."""
    key = next(k for k in keys["keys"] if k["key_id"] == certificate["key_id"])
    message = rfc8785.dumps(certificate["payload"])
    try:
        VerifyKey(b64u(key["public_key"])).verify(message, b64u(certificate["signature"]))
    except BadSignatureError:
        return False
    return bool(key["party_id"] == certificate["payload"]["issuer"])


async def every_kind(registry: Registry) -> dict[str, str]:
    """Make one certificate of each registry kind; return kind → certificate id."""
    collective = await registry.trader("collective")
    enterprise = await registry.trader("enterprise")
    bank = await registry.trader("enterprise")
    asset = await registry.confirmed_asset(collective)
    product = await collective.post(
        "/v1/eco-products",
        json={"product_type": "CARBON_SINK", "name": "碳汇", "asset_ids": [asset["id"]]},
    )
    certified = await registry.certifier.post(
        f"/v1/eco-products/{product.json()['id']}/certify", json={"standard": "CCER"}
    )
    batch = await registry.certifier.post(
        f"/v1/eco-products/{product.json()['id']}/batches",
        json={
            "quantity": 500,
            "vintage": 2025,
            "period_start": "2025-01-01",
            "period_end": "2025-12-31",
        },
    )
    transfer = await collective.post(
        "/v1/transfers",
        json={"batch_id": batch.json()["id"], "quantity": 50, "to_party_id": enterprise.id},
    )
    retirement = await enterprise.post(
        "/v1/retirements",
        json={
            "batch_id": batch.json()["id"],
            "quantity": 5,
            "beneficiary": "某某公司",
            "reason": "offset",
        },
    )
    pledge = await collective.post(
        "/v1/pledges",
        json={
            "batch_id": batch.json()["id"],
            "quantity": 10,
            "pledgee_id": bank.id,
            "reference": "loan-1",
        },
    )
    released = await bank.post(f"/v1/pledges/{pledge.json()['id']}/release")
    assert released.status_code == 200, released.text
    ids = {
        "rights_confirmation": asset["certificate_id"],
        "eco_product_certification": certified.json()["certificate_id"],
        "batch_issuance": batch.json()["certificate_id"],
        "transfer": transfer.json()["certificate_id"],
        "retirement": retirement.json()["certificate_id"],
        "pledge": pledge.json()["certificate_id"],
    }
    assert all(ids.values()), ids
    return ids


async def test_every_kind_verifies_independently(registry: Registry) -> None:
    client = registry.operator.client
    ids = await every_kind(registry)
    keys = (await client.get("/v1/keys")).json()
    for kind, certificate_id in ids.items():
        response = await client.get(f"/v1/certificates/{certificate_id}")
        assert response.status_code == 200
        certificate = response.json()
        assert certificate["kind"] == kind == certificate["payload"]["kind"]
        assert certificate["alg"] == "Ed25519"
        assert independent_verify(certificate, keys), kind
        ours = await client.post("/v1/certificates/verify", json=certificate)
        assert ours.json() == {"valid": True, "reason": None, "key_status": "active"}
    rights = (await client.get(f"/v1/certificates/{ids['rights_confirmation']}")).json()
    assert rights["payload"]["issuer"] == registry.registrar.id
    batch = (await client.get(f"/v1/certificates/{ids['batch_issuance']}")).json()
    assert batch["payload"]["issuer"] == registry.certifier.id
    assert batch["payload"]["quantity"] == "500"  # quantities are strings


async def test_flipping_any_byte_fails(registry: Registry) -> None:
    client = registry.operator.client
    ids = await every_kind(registry)
    keys = (await client.get("/v1/keys")).json()
    certificate = (await client.get(f"/v1/certificates/{ids['retirement']}")).json()
    key = next(k for k in keys["keys"] if k["key_id"] == certificate["key_id"])
    verify_key = VerifyKey(b64u(key["public_key"]))
    message = rfc8785.dumps(certificate["payload"])
    signature = b64u(certificate["signature"])
    for i in range(len(message)):
        flipped = bytearray(message)
        flipped[i] ^= 0x01
        with pytest.raises(BadSignatureError):
            verify_key.verify(bytes(flipped), signature)
    for i in range(len(signature)):
        flipped = bytearray(signature)
        flipped[i] ^= 0x80
        with pytest.raises(BadSignatureError):
            verify_key.verify(message, bytes(flipped))
    # Our verify endpoint agrees on tampered payloads and signatures.
    tampered = json.loads(json.dumps(certificate))
    tampered["payload"]["quantity"] = "6"
    assert (await client.post("/v1/certificates/verify", json=tampered)).json()["valid"] is False
    bad_sig = dict(certificate)
    sig = bytearray(signature)
    sig[0] ^= 1
    bad_sig["signature"] = base64.urlsafe_b64encode(bytes(sig)).rstrip(b"=").decode()
    result = (await client.post("/v1/certificates/verify", json=bad_sig)).json()
    assert result["valid"] is False and result["reason"] == "bad_signature"


async def test_inclusion_and_consistency_proofs_verify_independently(registry: Registry) -> None:
    client = registry.operator.client
    first_head = (await client.get("/v1/log/head")).json()
    ids = await every_kind(registry)
    head = (await client.get("/v1/log/head")).json()
    assert head["tree_size"] >= first_head["tree_size"] + len(ids)
    keys = (await client.get("/v1/keys")).json()
    platform_key = next(k for k in keys["keys"] if k["key_id"] == head["key_id"])
    head_bytes = rfc8785.dumps(
        {
            "root_hash": head["root_hash"],
            "timestamp": head["timestamp"],
            "tree_size": head["tree_size"],
        }
    )
    VerifyKey(b64u(platform_key["public_key"])).verify(head_bytes, b64u(head["signature"]))
    root = bytes.fromhex(head["root_hash"])
    for certificate_id in ids.values():
        certificate = (await client.get(f"/v1/certificates/{certificate_id}")).json()
        leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(certificate["payload"])).digest()
        proof = (
            await client.get(
                "/v1/log/proof/inclusion",
                params={"leaf_index": certificate["log_index"], "tree_size": head["tree_size"]},
            )
        ).json()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert ref_verify_inclusion(leaf, certificate["log_index"], head["tree_size"], path, root)
    if first_head["tree_size"] > 0:
        consistency = (
            await client.get(
                "/v1/log/proof/consistency",
                params={"first": first_head["tree_size"], "second": head["tree_size"]},
            )
        ).json()
        assert ref_verify_consistency(
            first_head["tree_size"],
            head["tree_size"],
            bytes.fromhex(first_head["root_hash"]),
            root,
            [bytes.fromhex(h) for h in consistency["proof"]],
        )
    # Beyond the log: the request is well-formed, the log has no such leaf yet (409).
    bad = await client.get("/v1/log/proof/inclusion", params={"leaf_index": head["tree_size"]})
    assert bad.status_code == 409 and bad.json()["code"] == "invalid_proof_request"
    bad = await client.get("/v1/log/proof/consistency", params={"first": 0, "second": 1})
    assert bad.status_code == 422


async def test_concurrent_certificates_get_gap_free_indices(registry: Registry) -> None:
    client = registry.operator.client
    holder = await registry.trader("enterprise")
    collective = await registry.trader("collective")
    batch = await registry.batch(collective, 1_000)
    moved = await collective.post(
        "/v1/transfers", json={"batch_id": batch["id"], "quantity": 400, "to_party_id": holder.id}
    )
    assert moved.status_code == 201
    before = (await client.get("/v1/log/head")).json()["tree_size"]
    responses = await asyncio.gather(
        *(
            holder.post(
                "/v1/retirements",
                json={"batch_id": batch["id"], "quantity": 1, "beneficiary": "b", "reason": "r"},
            )
            for _ in range(200)
        )
    )
    assert [r.status_code for r in responses] == [201] * 200
    indices = []
    for response in responses:
        certificate = (
            await client.get(f"/v1/certificates/{response.json()['certificate_id']}")
        ).json()
        indices.append(certificate["log_index"])
    head = (await client.get("/v1/log/head")).json()
    keys = (await client.get("/v1/keys")).json()
    platform_key = next(k for k in keys["keys"] if k["key_id"] == head["key_id"])
    signed = rfc8785.dumps(
        {
            "root_hash": head["root_hash"],
            "timestamp": head["timestamp"],
            "tree_size": head["tree_size"],
        }
    )
    VerifyKey(b64u(platform_key["public_key"])).verify(signed, b64u(head["signature"]))
    root = bytes.fromhex(head["root_hash"])
    for response, index in zip(responses[:20], indices[:20], strict=True):
        certificate = (
            await client.get(f"/v1/certificates/{response.json()['certificate_id']}")
        ).json()
        leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(certificate["payload"])).digest()
        proof = (
            await client.get(
                "/v1/log/proof/inclusion",
                params={"leaf_index": index, "tree_size": head["tree_size"]},
            )
        ).json()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert ref_verify_inclusion(leaf, index, head["tree_size"], path, root)
    assert len(set(indices)) == 200
    assert sorted(indices) == list(range(min(indices), min(indices) + 200))
    assert min(indices) >= before and head["tree_size"] >= max(indices) + 1


async def assert_rotated(registry: Registry, before_id: str, after_id: str) -> dict[str, Any]:
    """The certificate signed after a rotation names the new active key, the one before it the
    rotated key, and both verify (independently and through the API); the later one."""
    client = registry.operator.client
    old = (await client.get(f"/v1/certificates/{before_id}")).json()
    new = (await client.get(f"/v1/certificates/{after_id}")).json()
    assert new["key_id"] != old["key_id"]
    keys = (await client.get("/v1/keys")).json()
    statuses = {k["key_id"]: k["status"] for k in keys["keys"]}
    assert statuses[old["key_id"]] == "rotated" and statuses[new["key_id"]] == "active"
    for certificate in (old, new):
        assert independent_verify(certificate, keys)
        assert (await client.post("/v1/certificates/verify", json=certificate)).json()["valid"]
    return dict(new)


async def test_rotation_keeps_old_certificates_valid(registry: Registry) -> None:
    collective = await registry.trader("collective")
    first = await registry.confirmed_asset(collective)
    rotated = await registry.registrar.post("/v1/keys/rotate")
    assert rotated.status_code == 201
    second = await registry.confirmed_asset(collective)
    new = await assert_rotated(registry, first["certificate_id"], second["certificate_id"])
    assert new["key_id"] == rotated.json()["key_id"]
    forbidden = await collective.post("/v1/keys/rotate")
    assert forbidden.status_code == 403


async def test_a_key_rotated_by_another_worker_signs_nothing_more(
    registry: Registry, engine: AsyncEngine
) -> None:
    """Each process remembers the active signing keys; when another process (here: another
    engine, as another worker would) rotates one, the next certificate this process signs with
    the remembered key is refused by its INSERT and signed again with the current key."""
    collective = await registry.trader("collective")
    first = await registry.confirmed_asset(collective)  # the registrar's key is now remembered
    async with AsyncSession(engine) as session:
        await session.execute(
            text(
                "UPDATE signing_keys SET status = 'rotated', rotated_at = now()"
                " WHERE party_id = :party AND status = 'active'"
            ),
            {"party": registry.registrar.id},
        )
        await session.commit()
    second = await registry.confirmed_asset(collective)
    await assert_rotated(registry, first["certificate_id"], second["certificate_id"])


async def test_revocation_invalidates_what_follows_it(registry: Registry) -> None:
    client = registry.operator.client
    collective = await registry.trader("collective")
    before = await registry.confirmed_asset(collective)
    revoke_at = (await client.get("/v1/log/head")).json()["timestamp"]
    after = await registry.confirmed_asset(collective)
    certificate_before = (await client.get(f"/v1/certificates/{before['certificate_id']}")).json()
    certificate_after = (await client.get(f"/v1/certificates/{after['certificate_id']}")).json()
    key_id = certificate_before["key_id"]
    assert certificate_after["key_id"] == key_id
    revoked = await registry.registrar.post(
        f"/v1/keys/{key_id}/revoke", json={"revoked_at": revoke_at}
    )
    assert revoked.status_code == 200, revoked.text
    earlier = (await client.post("/v1/certificates/verify", json=certificate_before)).json()
    assert earlier == {"valid": True, "reason": None, "key_status": "revoked"}
    later = (await client.post("/v1/certificates/verify", json=certificate_after)).json()
    assert later["valid"] is False and later["reason"] == "signed_after_revocation"
    # The registrar gets a fresh key on its next confirmation.
    fresh = await registry.confirmed_asset(collective)
    fresh_certificate = (await client.get(f"/v1/certificates/{fresh['certificate_id']}")).json()
    assert fresh_certificate["key_id"] != key_id
    assert (await client.post("/v1/certificates/verify", json=fresh_certificate)).json()["valid"]
    again = await registry.registrar.post(f"/v1/keys/{key_id}/revoke")
    assert again.status_code == 409 and again.json()["code"] == "key_already_revoked"


async def test_verify_page_and_offline_cli(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = registry.operator.client
    ids = await every_kind(registry)
    page = await client.get(f"/verify/{ids['retirement']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert ids["retirement"] in html and "Signature valid" in html
    assert "data:image/svg+xml" in html and "included in the signed tree head" in html
    assert (await client.get("/verify/crt_nope")).status_code == 404

    bundle = (await client.get(f"/v1/certificates/{ids['retirement']}/bundle")).json()
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    assert cli_main(["verify", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["certificate"]["valid"] and out["inclusion"]["valid"]

    bundle["certificate"]["payload"]["quantity"] = "999"
    path.write_text(json.dumps(bundle))
    assert cli_main(["verify", str(path)]) == 1
    capsys.readouterr()

    lone = tmp_path / "certificate.json"
    keys = tmp_path / "keys.json"
    lone.write_text(json.dumps((await client.get(f"/v1/certificates/{ids['transfer']}")).json()))
    keys.write_text(json.dumps((await client.get("/v1/keys")).json()))
    assert cli_main(["verify", str(lone), "--keys", str(keys)]) == 0
    assert cli_main(["verify", str(lone)]) == 1  # no keys: unknown key


async def test_certificate_endpoints_need_no_auth(registry: Registry, operator: Actor) -> None:
    client = operator.client
    ids = await every_kind(registry)
    for path in (f"/v1/certificates/{ids['transfer']}", "/v1/keys", "/v1/log/head"):
        assert (await client.get(path)).status_code == 200
    missing = await client.get("/v1/certificates/crt_missing")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
