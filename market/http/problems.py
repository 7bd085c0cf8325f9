"""One mapper from errors to RFC 9457 problem details with stable codes."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from market.db.outage import RETRY_AFTER_SECONDS, handled_as_unavailable
from market.http.idempotency import IdempotentReplay
from market.kit.errors import DatabaseUnavailable, DomainError, status_for

log = structlog.get_logger()
PROBLEM_JSON = "application/problem+json"

CODE_BY_STATUS = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


def problem(status: int, code: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def on_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    response = problem(status_for(exc), exc.code, exc.detail, **exc.extra)
    if response.status_code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def on_replay(_: Request[Any, Any, Any], exc: IdempotentReplay) -> Response[bytes]:
    stored = exc.stored
    return Response(stored.body, status_code=stored.status_code, media_type=MediaType.JSON)


def _field_errors(extra: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                {
                    "field": str(item.get("key") or item.get("loc") or ""),
                    "message": str(item.get("message") or item.get("msg") or ""),
                    "source": str(item.get("source") or "body"),
                }
            )
    return errors


def on_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra)
        if not errors:
            # Undecodable bodies (bad JSON, wrong encoding) also land here.
            return problem(400, "malformed_request", str(exc.detail))
        return problem(422, "validation_error", "the request is invalid", errors=errors)
    status = exc.status_code
    return problem(status, CODE_BY_STATUS.get(status, "http_error"), str(exc.detail))


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if handled_as_unavailable(exc, request.app.state.engine):
        return on_domain_error(request, DatabaseUnavailable("the database cannot be reached"))
    log.exception("unhandled_error", error=repr(exc))
    return problem(500, "internal_error", "an unexpected error occurred; nothing was changed")


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: on_domain_error,
    IdempotentReplay: on_replay,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}
