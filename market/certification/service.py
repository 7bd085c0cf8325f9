"""Signing keys, certificate issuance and the public Merkle log.

A certificate is signed and stored in the same transaction as the fact it certifies, with no
log index yet (pending): the commit's pre-commit step (`db.unit_of_work`, registered below)
inserts the transaction's certificates in one statement. After the commit the writer waits for
the process's log integrator (`log_integrator.py`), which appends every pending certificate to
the Merkle log in one short transaction of its own: no writer holds the log through its commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from market.certification import merkle
from market.certification.errors import (
    CertificateNotYetLogged,
    InvalidProofRequest,
    KeyAlreadyRevoked,
    LogNotReady,
    SigningKeyChanged,
)
from market.certification.keyring import keyring
from market.certification.models import Certificate, SignedCertificate, SigningKey
from market.certification.offline import VerificationResult, verify_certificate
from market.certification.payloads import build_payload
from market.certification.repository import CertificateRepository, KeyRepository, LogRepository
from market.certification.signing import (
    ALG,
    b64u_encode,
    canonical_bytes,
    generate_private_key,
    key_id_for,
    public_key_bytes,
    sign_bytes,
    sign_tree_head,
)
from market.db.locking import advisory_xact_lock
from market.db.remembered import forget, recall, remember
from market.db.unit_of_work import PreCommitStep, register_pre_commit
from market.kit.errors import Forbidden, NotFound
from market.kit.ids import new_id
from market.kit.time import isoformat, utcnow
from market.parties.roles import Caller, require
from market.parties.service import PartyService

SIGNERS = ("registrar", "certifier", "operator")
Signer = tuple[str, Ed25519PrivateKey]  # key id, private key
PENDING = "pending_certificates"  # session.info key: signed, not yet stored
STORED = "stored_certificates"  # session.info key: ids stored by this transaction's commit


@dataclass(frozen=True, slots=True)
class LogTip:
    """A state of the log: its size, root and peaks (the complete nodes the root folds)."""

    size: int
    root: bytes
    peaks: dict[merkle.NodeRef, bytes]

    def extend(self, leaves: list[bytes]) -> tuple[list[tuple[merkle.NodeRef, bytes]], LogTip]:
        """The nodes to store to append `leaves`, and the log's state afterwards."""
        nodes = merkle.append_many(self.size, leaves, self.peaks)
        known = {**self.peaks, **dict(nodes)}
        size = self.size + len(leaves)
        peaks = {ref: known[ref] for ref in merkle.root_plan(size)}
        return nodes, LogTip(size, merkle.root_from(size, peaks), peaks)


def has_pending_certificates(session: Session) -> bool:
    """Signed in this transaction and not stored yet."""
    return bool(session.info.get(PENDING))


async def store_pending_certificates(session: AsyncSession) -> None:
    """The pre-commit step: store this transaction's signed certificates (pending, one
    statement) and remember their ids for `stored_certificate_ids`."""
    pending: list[SignedCertificate] = session.info.pop(PENDING, [])
    if not pending:
        return
    repository = CertificateRepository(session)
    stored = await repository.insert_pending(pending)
    refused = [c for c in pending if c.id not in stored]
    if refused:  # signed with a remembered key another process rotated or revoked meanwhile
        resigned = await CertificateService(session).sign_again(refused)
        if len(await repository.insert_pending(resigned)) != len(resigned):
            raise SigningKeyChanged("the signing key changed twice during this request; retry")
    session.info.setdefault(STORED, []).extend(c.id for c in pending)


def stored_certificate_ids(session: AsyncSession | Session) -> list[str]:
    """The certificates the session's commit stored (pending): what the writer must wait for
    the log integrator to append (`LogIntegrator.integrated`) before acknowledging."""
    ids: list[str] = session.info.pop(STORED, [])
    return ids


def _signed(
    subject_id: str, payload: dict[str, Any], issued_at: datetime, signer: Signer
) -> SignedCertificate:
    key_id, private_key = signer
    canonical = canonical_bytes(payload)
    return SignedCertificate(
        id=payload["id"],
        kind=payload["kind"],
        subject_id=subject_id,
        issuer_id=payload["issuer"],
        key_id=key_id,
        canonical=canonical,
        payload_hash=hashlib.sha256(canonical).hexdigest(),
        signature=sign_bytes(private_key, canonical),
        log_index=None,
        issued_at=issued_at,
    )


register_pre_commit(
    PreCommitStep("certificates", store_pending_certificates, has_pending_certificates)
)


def certificate_json(certificate: Certificate) -> dict[str, Any]:
    """The API shape: `{id, kind, payload, signature, alg, key_id, log_index}`."""
    import json

    return {
        "id": certificate.id,
        "kind": certificate.kind,
        "payload": json.loads(certificate.canonical),
        "signature": b64u_encode(certificate.signature),
        "alg": ALG,
        "key_id": certificate.key_id,
        "log_index": certificate.log_index,
    }


def key_json(key: SigningKey) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "key_id": key.key_id,
        "party_id": key.party_id,
        "alg": key.alg,
        "public_key": b64u_encode(key.public_key),
        "status": key.status,
        "not_before": isoformat(key.not_before),
    }
    if key.rotated_at is not None:
        entry["rotated_at"] = isoformat(key.rotated_at)
    if key.revoked_at is not None:
        entry["revoked_at"] = isoformat(key.revoked_at)
    return entry


class CertificateService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.keys = KeyRepository(session)
        self.log = LogRepository(session)
        self.certificates = CertificateRepository(session)
        self._platform: str | None = None

    # keys -----------------------------------------------------------------------------------

    async def _create_key(self, party_id: str) -> SigningKey:
        private_key = generate_private_key()
        public = public_key_bytes(private_key)
        key_id = key_id_for(public)
        key = SigningKey(
            key_id=key_id,
            party_id=party_id,
            public_key=public,
            encrypted_private_key=keyring().seal(key_id, private_key),
            not_before=utcnow(),
        )
        await self.keys.add(key)
        return key

    async def signing_key(self, party_id: str) -> SigningKey:
        """The party's active key, created on first use."""
        key = await self.keys.active_for(party_id)
        if key is None:
            await advisory_xact_lock(self.session, "signing-key", party_id)
            key = await self.keys.active_for(party_id) or await self._create_key(party_id)
        return key

    async def platform_party_id(self) -> str:
        if self._platform is None:
            party_id = await PartyService(self.session).platform_party_id()
            if party_id is None:
                raise LogNotReady("the platform operator does not exist yet")
            self._platform = party_id
        return self._platform

    async def ensure_platform(self) -> str:
        """Create the platform operator and its key if missing (start-up)."""
        party = await PartyService(self.session).ensure_platform_operator()
        await self.signing_key(party.id)
        return party.id

    async def rotate(self, caller: Caller) -> SigningKey:
        require(caller, *SIGNERS)
        await advisory_xact_lock(self.session, "signing-key", caller.party_id)
        current = await self.keys.active_for(caller.party_id)
        if current is not None:
            await self.keys.retire(current.key_id, "rotated", utcnow(), "rotated_at")
        forget(self.session, ("signer", caller.party_id))
        return await self._create_key(caller.party_id)

    async def revoke(self, caller: Caller, key_id: str, revoked_at: datetime | None) -> SigningKey:
        """Mark a key compromised from `revoked_at` (default now; may be backdated)."""
        key = await self.keys.get(key_id, lock=True)
        if key is None:
            raise NotFound("key not found")
        if caller.kind != "operator" and caller.party_id != key.party_id:
            raise Forbidden("only the key's owner or the operator can revoke it")
        if key.status == "revoked":
            raise KeyAlreadyRevoked("the key is already revoked")
        now = utcnow()
        at = min(revoked_at or now, now)
        await self.keys.retire(key.key_id, "revoked", at, "revoked_at")
        forget(self.session, ("signer", key.party_id))
        key.status, key.revoked_at = "revoked", at
        return key

    async def published_keys(self) -> dict[str, Any]:
        return {"keys": [key_json(k) for k in await self.keys.all()]}

    # certificates ---------------------------------------------------------------------------

    async def issue(
        self, kind: str, subject_id: str, issuer_id: str, facts: Mapping[str, Any]
    ) -> SignedCertificate:
        """Sign `facts` as `issuer_id`; stored at commit, appended to the log right after."""
        return (await self.issue_many([(kind, subject_id, issuer_id, facts)]))[0]

    async def issue_many(
        self, items: list[tuple[str, str, str, Mapping[str, Any]]]
    ) -> list[SignedCertificate]:
        """Sign several facts now; they are stored when the transaction commits (the
        pre-commit step) and join the log right after, through the log integrator."""
        signers = await self._signers_of(sorted({item[2] for item in items}))
        prepared = []
        for kind, subject_id, issuer_id, facts in items:
            certificate_id = new_id("crt")
            issued_at = utcnow()
            payload = build_payload(kind, certificate_id, isoformat(issued_at), issuer_id, facts)
            prepared.append(_signed(subject_id, payload, issued_at, signers[issuer_id]))
        self.session.info.setdefault(PENDING, []).extend(prepared)
        return prepared

    async def _signers_of(self, issuer_ids: list[str]) -> dict[str, Signer]:
        """Each issuer's active key (created on first use), as this process remembers it; the
        certificate's INSERT checks it is still active (`store_pending_certificates`)."""
        signers: dict[str, Signer] = {}
        for issuer_id in issuer_ids:
            known = recall(self.session, ("signer", issuer_id))
            if known is not None:
                signers[issuer_id] = cast(Signer, known)
        missing = [i for i in issuer_ids if i not in signers]
        if missing:
            found = await self.keys.active_signers(missing)
            for issuer_id in missing:
                if issuer_id not in found:
                    key = await self.signing_key(issuer_id)
                    found[issuer_id] = (key.key_id, key.encrypted_private_key)
                key_id, sealed = found[issuer_id]
                signers[issuer_id] = (key_id, keyring().open(key_id, sealed))
                remember(self.session, ("signer", issuer_id), signers[issuer_id])
        return signers

    async def sign_again(self, refused: list[SignedCertificate]) -> list[SignedCertificate]:
        """The same certificates (id, facts) issued again now by their issuers' current keys."""
        issuers = sorted({c.issuer_id for c in refused})
        for issuer_id in issuers:
            forget(self.session, ("signer", issuer_id))
        signers = await self._signers_of(issuers)
        again = []
        for certificate in refused:
            issued_at = utcnow()  # after the new key's `not_before`
            payload = {**json.loads(certificate.canonical), "issued_at": isoformat(issued_at)}
            again.append(
                _signed(certificate.subject_id, payload, issued_at, signers[certificate.issuer_id])
            )
        return again

    async def issue_as_platform(
        self, kind: str, subject_id: str, facts: Mapping[str, Any]
    ) -> SignedCertificate:
        return await self.issue(kind, subject_id, await self.platform_party_id(), facts)

    async def get(self, certificate_id: str) -> Certificate:
        certificate = await self.certificates.get(certificate_id)
        if certificate is None:
            raise NotFound("certificate not found")
        return certificate

    async def logged(self, certificate_id: str) -> Certificate:
        """The certificate, which must be in the log already (409 while it is pending)."""
        certificate = await self.get(certificate_id)
        if certificate.log_index is None:
            raise CertificateNotYetLogged("the certificate is not in the log yet; retry shortly")
        return certificate

    async def verify(self, certificate: Mapping[str, Any]) -> VerificationResult:
        return verify_certificate(certificate, await self.published_keys())

    # the log --------------------------------------------------------------------------------

    async def head(self) -> dict[str, Any]:
        """The current signed tree head, signed now by the platform key."""
        size, root = await self.log.state()
        platform = await self.platform_party_id()
        key = await self.keys.active_for(platform)
        if key is None:
            raise LogNotReady("the platform signing key does not exist yet")
        timestamp = isoformat(utcnow())
        signature = sign_tree_head(
            keyring().open(key.key_id, key.encrypted_private_key), size, root.hex(), timestamp
        )
        return {
            "tree_size": size,
            "root_hash": root.hex(),
            "timestamp": timestamp,
            "signature": b64u_encode(signature),
            "key_id": key.key_id,
        }

    async def inclusion_proof(self, leaf_index: int, tree_size: int | None) -> dict[str, Any]:
        size, _ = await self.log.state()
        tree_size = size if tree_size is None else tree_size
        if not 0 <= leaf_index < tree_size <= size:
            raise InvalidProofRequest(
                f"need 0 <= leaf_index < tree_size <= {size} (the log's size)"
            )
        fetched = await self.log.fetch(merkle.inclusion_plan(leaf_index, tree_size))
        path = merkle.inclusion_proof(leaf_index, tree_size, fetched)
        return {
            "leaf_index": leaf_index,
            "tree_size": tree_size,
            "audit_path": [h.hex() for h in path],
        }

    async def consistency_proof(self, first: int, second: int | None) -> dict[str, Any]:
        size, _ = await self.log.state()
        second = size if second is None else second
        if not 1 <= first <= second <= size:
            raise InvalidProofRequest(f"need 1 <= first <= second <= {size} (the log's size)")
        fetched = await self.log.fetch(merkle.consistency_plan(first, second))
        proof = merkle.consistency_proof(first, second, fetched)
        return {"first": first, "second": second, "proof": [h.hex() for h in proof]}
