"""The one place hand-over messages (`market.workers.messages`) become bytes and bytes become
messages again.

A frame's body is a JSON object: `id` (the request's number, which its reply repeats), `type`,
and the message's fields. Decoding checks every field and refuses anything else — bad JSON, an
unknown type, a missing, extra or mistyped field — with `MalformedMessage`, which says what was
wrong and carries the id when it could be read, so that the refusal can still be answered.

A domain error crosses as its class's module and name, code, detail and extra, and is raised
again as the same class (a plain `DomainError` with the same code when this process cannot
find the class; only `market` modules are looked up).
"""

from __future__ import annotations

import importlib
import json
from typing import Any, assert_never

from market.kit.errors import DomainError
from market.workers.messages import (
    ErrorReply,
    OrderReply,
    PlaceOrderRequest,
    RefusedReply,
    Reply,
    Request,
    UnavailableReply,
)


class MalformedMessage(Exception):
    """A frame that is not a message this version can read."""

    def __init__(self, reason: str, request_id: int | None = None) -> None:
        super().__init__(reason)
        self.request_id = request_id


def encode_request(request_id: int, request: Request) -> bytes:
    if isinstance(request, PlaceOrderRequest):
        fields: dict[str, Any] = {
            "type": "place_order",
            "party_id": request.party_id,
            "party_kind": request.party_kind,
            "party_status": request.party_status,
            "order": request.order,
            "idempotency": None if request.idempotency is None else list(request.idempotency),
        }
    else:
        assert_never(request)
    return _dump(request_id, fields)


def decode_request(body: bytes) -> tuple[int, Request]:
    request_id, fields = _load(body)
    try:
        kind = fields.text("type")
        if kind != "place_order":
            raise _Invalid(f"unknown request type {kind!r}")
        request = PlaceOrderRequest(
            party_id=fields.text("party_id"),
            party_kind=fields.text("party_kind"),
            party_status=fields.text("party_status"),
            order=fields.text("order"),
            idempotency=fields.optional_text_pair("idempotency"),
        )
        fields.finish()
    except _Invalid as invalid:
        raise MalformedMessage(f"request {request_id}: {invalid}", request_id) from None
    return request_id, request


def encode_reply(request_id: int, reply: Reply) -> bytes:
    fields: dict[str, Any]
    if isinstance(reply, OrderReply):
        fields = {"type": "order", "status": reply.status, "body": reply.body}
    elif isinstance(reply, ErrorReply):
        cls = type(reply.error)
        fields = {
            "type": "error",
            "module": cls.__module__,
            "name": cls.__qualname__,
            "code": reply.error.code,
            "detail": reply.error.detail,
            "extra": reply.error.extra,
        }
    elif isinstance(reply, UnavailableReply):
        fields = {"type": "unavailable", "reason": reply.reason}
    elif isinstance(reply, RefusedReply):
        fields = {"type": "refused", "reason": reply.reason}
    else:
        assert_never(reply)
    return _dump(request_id, fields)


def decode_reply(body: bytes) -> tuple[int, Reply]:
    request_id, fields = _load(body)
    reply: Reply
    try:
        kind = fields.text("type")
        if kind == "order":
            reply = OrderReply(fields.status("status"), fields.text("body"))
        elif kind == "error":
            reply = ErrorReply(
                _domain_error(
                    fields.text("module"),
                    fields.text("name"),
                    fields.text("code"),
                    fields.text("detail"),
                    fields.mapping("extra"),
                )
            )
        elif kind == "unavailable":
            reply = UnavailableReply(fields.text("reason"))
        elif kind == "refused":
            reply = RefusedReply(fields.text("reason"))
        else:
            raise _Invalid(f"unknown reply type {kind!r}")
        fields.finish()
    except _Invalid as invalid:
        raise MalformedMessage(f"reply to {request_id}: {invalid}", request_id) from None
    return request_id, reply


class _Invalid(Exception):
    """A field is missing, mistyped or unexpected."""


class _Fields:
    """A decoded object's fields, each taken once and checked; `finish` refuses the rest."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def _take(self, name: str) -> Any:
        if name not in self._data:
            raise _Invalid(f"missing field {name!r}")
        return self._data.pop(name)

    def text(self, name: str) -> str:
        value = self._take(name)
        if not isinstance(value, str):
            raise _Invalid(f"field {name!r} must be a string")
        return value

    def status(self, name: str) -> int:
        value = self._take(name)
        if type(value) is not int or not 100 <= value <= 599:
            raise _Invalid(f"field {name!r} must be an HTTP status code")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self._take(name)
        if not isinstance(value, dict):
            raise _Invalid(f"field {name!r} must be an object")
        return value

    def optional_text_pair(self, name: str) -> tuple[str, str] | None:
        value = self._take(name)
        if value is None:
            return None
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
        ):
            raise _Invalid(f"field {name!r} must be null or two strings")
        return value[0], value[1]

    def finish(self) -> None:
        if self._data:
            raise _Invalid(f"unexpected fields {sorted(self._data)}")


def _dump(request_id: int, fields: dict[str, Any]) -> bytes:
    return json.dumps({"id": request_id, **fields}, separators=(",", ":")).encode()


def _load(body: bytes) -> tuple[int, _Fields]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON; absurdly deep nesting
        raise MalformedMessage(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise MalformedMessage("not a JSON object")
    request_id = data.pop("id", None)
    if type(request_id) is not int or request_id < 0:
        raise MalformedMessage("no request id")
    return request_id, _Fields(data)


def _domain_error(
    module: str, name: str, code: str, detail: str, extra: dict[str, Any]
) -> DomainError:
    cls: type[DomainError] = DomainError
    if module == "market" or module.startswith("market."):
        try:
            found = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            found = None
        if isinstance(found, type) and issubclass(found, DomainError):
            cls = found
    # Built without the class's own __init__ (its arguments are not known here).
    error = cls.__new__(cls)
    DomainError.__init__(error, detail, code=code)
    error.extra = extra
    return error
