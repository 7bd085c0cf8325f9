"""PostgreSQL refuses NUL in text: answer a NUL in the path (404) or query (400) up front."""

from __future__ import annotations

import json

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send


def _problem(status: int, code: str, detail: str) -> bytes:
    title = "Not Found" if status == 404 else "Bad Request"
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    ).encode()


class NulGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            query = scope.get("query_string", b"").lower()
            if "\x00" in scope["path"]:
                status, body = 404, _problem(404, "not_found", "no such resource")
            elif b"%00" in query or b"\x00" in query:
                status, body = 400, _problem(400, "malformed_request", "NUL in a query parameter")
            else:
                await self.app(scope, receive, send)
                return
            if scope["type"] == ScopeType.WEBSOCKET:
                await send({"type": "websocket.close", "code": 4400, "reason": ""})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/problem+json")],
                }
            )
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self.app(scope, receive, send)
