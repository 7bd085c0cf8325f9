"""The reference the end-to-end figures are ratios to: a bare Litestar + asyncpg app outside the
product. `GET /hello` answers a constant; `POST /insert` reads the JSON body, refuses a request
without an `Authorization` header, stores the body as jsonb in one INSERT and answers 201.

Served by uvicorn with the same worker count as `market serve`, on the same database:

    BARE_DATABASE_URL=postgresql://... uvicorn bare_app:app --app-dir bench --workers 2
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State

CREATED = b'{"ok":true}'


async def open_pool(app: Litestar) -> None:
    app.state.pool = await asyncpg.create_pool(
        os.environ["BARE_DATABASE_URL"], min_size=4, max_size=10
    )


async def close_pool(app: Litestar) -> None:
    await app.state.pool.close()


@get("/hello", media_type=MediaType.JSON)
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@post("/insert")
async def insert(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    if "authorization" not in request.headers:
        return Response(b'{"error":"unauthenticated"}', status_code=401, media_type=MediaType.JSON)
    body = await request.body()
    async with state.pool.acquire() as connection:
        await connection.execute("INSERT INTO bare_pings (body) VALUES ($1::jsonb)", body.decode())
    return Response(CREATED, status_code=201, media_type=MediaType.JSON)


app = Litestar([hello, insert], on_startup=[open_pool], on_shutdown=[close_pool])
