"""Product types, eco-products and batches over HTTP (API.md "Registry")."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of
from market.registry.product_service import ProductService
from market.registry.schemas import (
    BatchCreate,
    BatchOut,
    CertifyIn,
    EcoProductCreate,
    EcoProductOut,
    ProductTypeOut,
    ReasonIn,
)
from market.registry.views import eco_product_out

ProductStatus = Literal["pending", "certified", "rejected", "revoked"]


class ProductController(Controller):
    path = "/v1"
    tags = ["registry"]  # noqa: RUF012

    @get("/product-types")
    async def product_types(
        self, caller: CallerOf, db_session: Session
    ) -> dict[str, list[ProductTypeOut]]:
        rows = await ProductService(db_session).product_types()
        return {"items": [ProductTypeOut.model_validate(r) for r in rows]}

    @post("/eco-products", status_code=201)
    async def apply(
        self, data: JSONBody[EcoProductCreate], caller: CallerOf, db_session: Session
    ) -> EcoProductOut:
        return eco_product_out(*await ProductService(db_session).apply(caller, data))

    @get("/eco-products/{product_id:str}")
    async def get_product(
        self, product_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> EcoProductOut:
        return eco_product_out(*await ProductService(db_session).get(caller, product_id))

    @get("/eco-products")
    async def list_products(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        status: Annotated[ProductStatus | None, QueryParameter()] = None,
    ) -> Page[EcoProductOut]:
        rows = await ProductService(db_session).list_products(
            caller, limit=list_params.limit, cursor=list_params.cursor, status=status
        )
        return page_of([eco_product_out(p, a) for p, a in rows], list_params.limit)

    @post("/eco-products/{product_id:str}/certify", status_code=200)
    async def certify(
        self,
        product_id: FromPath[str],
        data: JSONBody[CertifyIn],
        caller: CallerOf,
        db_session: Session,
    ) -> EcoProductOut:
        return eco_product_out(*await ProductService(db_session).certify(caller, product_id, data))

    @post("/eco-products/{product_id:str}/reject", status_code=200)
    async def reject(
        self,
        product_id: FromPath[str],
        data: JSONBody[ReasonIn],
        caller: CallerOf,
        db_session: Session,
    ) -> EcoProductOut:
        service = ProductService(db_session)
        return eco_product_out(
            *await service.decide_against(caller, product_id, data.reason, revoke=False)
        )

    @post("/eco-products/{product_id:str}/revoke", status_code=200)
    async def revoke(
        self,
        product_id: FromPath[str],
        data: JSONBody[ReasonIn],
        caller: CallerOf,
        db_session: Session,
    ) -> EcoProductOut:
        service = ProductService(db_session)
        return eco_product_out(
            *await service.decide_against(caller, product_id, data.reason, revoke=True)
        )

    @post("/eco-products/{product_id:str}/batches", status_code=201)
    async def issue_batch(
        self,
        product_id: FromPath[str],
        data: JSONBody[BatchCreate],
        caller: CallerOf,
        db_session: Session,
    ) -> BatchOut:
        batch = await ProductService(db_session).issue_batch(caller, product_id, data)
        return BatchOut.model_validate(batch)

    @get("/batches/{batch_id:str}")
    async def get_batch(
        self, batch_id: FromPath[str], caller: CallerOf, db_session: Session
    ) -> BatchOut:
        return BatchOut.model_validate(await ProductService(db_session).batch(batch_id))
