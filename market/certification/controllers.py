"""Certificates, keys, the public log and the verification page (API.md "Certificates")."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.certification import merkle
from market.certification.page import render_verify_page
from market.certification.schemas import CertificateIn, RevokeIn, VerificationOut
from market.certification.service import CertificateService, certificate_json, key_json
from market.http.dependencies import CallerOf, Session
from market.parties.repository import PartyRepository

Index = Annotated[int, QueryParameter(ge=0, le=2**53)]
Size = Annotated[int, QueryParameter(ge=1, le=2**53)]
OptionalSize = Annotated[int | None, QueryParameter(ge=1, le=2**53)]


class CertificateController(Controller):
    path = "/v1"
    tags = ["certificates"]  # noqa: RUF012

    @get("/certificates/{certificate_id:str}")
    async def get_certificate(
        self, certificate_id: FromPath[str], db_session: Session
    ) -> dict[str, Any]:
        return certificate_json(await CertificateService(db_session).get(certificate_id))

    @get("/certificates/{certificate_id:str}/bundle")
    async def bundle(self, certificate_id: FromPath[str], db_session: Session) -> dict[str, Any]:
        """Everything `market verify` needs offline: certificate, signed head, proof, keys."""
        service = CertificateService(db_session)
        certificate = await service.logged(certificate_id)
        assert certificate.log_index is not None
        head = await service.head()
        proof = await service.inclusion_proof(certificate.log_index, head["tree_size"])
        return {
            "certificate": certificate_json(certificate),
            "tree_head": head,
            "inclusion_proof": proof,
            "keys": await service.published_keys(),
        }

    @post("/certificates/verify", status_code=200)
    async def verify(self, data: JSONBody[CertificateIn], db_session: Session) -> VerificationOut:
        result = await CertificateService(db_session).verify(data.model_dump())
        return VerificationOut(
            valid=result.valid, reason=result.reason, key_status=result.key_status
        )

    @get("/keys")
    async def keys(self, db_session: Session) -> dict[str, Any]:
        return await CertificateService(db_session).published_keys()

    @post("/keys/rotate", status_code=201)
    async def rotate(self, caller: CallerOf, db_session: Session) -> dict[str, Any]:
        return key_json(await CertificateService(db_session).rotate(caller))

    @post("/keys/{key_id:str}/revoke", status_code=200)
    async def revoke(
        self, key_id: FromPath[str], caller: CallerOf, db_session: Session,
        data: JSONBody[RevokeIn | None] = None,
    ) -> dict[str, Any]:  # fmt: skip
        at = data.revoked_at if data else None
        return key_json(await CertificateService(db_session).revoke(caller, key_id, at))

    @get("/log/head")
    async def head(self, db_session: Session) -> dict[str, Any]:
        return await CertificateService(db_session).head()

    @get("/log/proof/inclusion")
    async def inclusion(
        self, db_session: Session, leaf_index: Index, tree_size: OptionalSize = None
    ) -> dict[str, Any]:
        return await CertificateService(db_session).inclusion_proof(leaf_index, tree_size)

    @get("/log/proof/consistency")
    async def consistency(
        self, db_session: Session, first: Size, second: OptionalSize = None
    ) -> dict[str, Any]:
        return await CertificateService(db_session).consistency_proof(first, second)


class VerifyPageController(Controller):
    path = "/verify"
    tags = ["certificates"]  # noqa: RUF012
    include_in_schema = False

    @get("/{certificate_id:str}", media_type=MediaType.HTML)
    async def page(
        self, certificate_id: FromPath[str], db_session: Session, request: Request[Any, Any, Any]
    ) -> str:
        service = CertificateService(db_session)
        certificate = certificate_json(await service.logged(certificate_id))
        keys = await service.published_keys()
        result = await service.verify(certificate)
        head = await service.head()
        proof = await service.inclusion_proof(certificate["log_index"], head["tree_size"])
        leaf = merkle.leaf_hash((await service.get(certificate_id)).canonical)
        included = merkle.verify_inclusion(
            leaf,
            certificate["log_index"],
            head["tree_size"],
            [bytes.fromhex(h) for h in proof["audit_path"]],
            bytes.fromhex(head["root_hash"]),
        )
        issuer = await PartyRepository(db_session).get(certificate["payload"]["issuer"])
        public_key = next(
            (k["public_key"] for k in keys["keys"] if k["key_id"] == certificate["key_id"]), "?"
        )
        return render_verify_page(
            certificate=certificate,
            result=result,
            issuer_name=issuer.name if issuer else "unknown",
            public_key=public_key,
            head=head,
            included=included,
            page_url=str(request.url),
        )
