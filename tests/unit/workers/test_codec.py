"""The hand-over codec: every message survives the trip; anything else is refused with a
`MalformedMessage` that says what was wrong (and the request's id, where it could be read)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.kit.errors import DomainError
from market.registry.errors import InsufficientUnits
from market.trading.errors import ExpiryPassed
from market.workers.codec import (
    MalformedMessage,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)
from market.workers.messages import (
    ErrorReply,
    OrderReply,
    PlaceOrderRequest,
    RefusedReply,
    Reply,
    UnavailableReply,
)

ids = st.integers(min_value=0, max_value=2**53)
requests = st.builds(
    PlaceOrderRequest,
    party_id=st.text(),
    party_kind=st.text(),
    party_status=st.text(),
    order=st.text(),
    idempotency=st.none() | st.tuples(st.text(), st.text()),
)
replies: st.SearchStrategy[Reply] = st.one_of(
    st.builds(OrderReply, status=st.integers(100, 599), body=st.text()),
    st.builds(UnavailableReply, reason=st.text()),
    st.builds(RefusedReply, reason=st.text()),
)


@given(ids, requests)
def test_every_request_round_trips(request_id: int, request: PlaceOrderRequest) -> None:
    assert decode_request(encode_request(request_id, request)) == (request_id, request)


@given(ids, replies)
def test_every_reply_round_trips(request_id: int, reply: Reply) -> None:
    assert decode_reply(encode_reply(request_id, reply)) == (request_id, reply)


@pytest.mark.parametrize(
    "error",
    [
        InsufficientUnits("10 units requested, 3 available", requested=10, available=3),
        ExpiryPassed("expires_at is in the past"),
        DomainError("custom", code="some_code", nested={"a": [1, "b", None]}),
    ],
)
def test_domain_errors_come_back_as_the_same_class(error: DomainError) -> None:
    request_id, reply = decode_reply(encode_reply(9, ErrorReply(error)))
    assert request_id == 9 and isinstance(reply, ErrorReply)
    again = reply.error
    assert type(again) is type(error)
    assert (again.code, again.detail, again.extra) == (error.code, error.detail, error.extra)
    assert str(again) == str(error)


class NotOurs(DomainError):
    code = "not_ours"


def error_body(module: str, name: str) -> bytes:
    return json.dumps({"id": 1, "type": "error", "module": module, "name": name,
                       "code": "c", "detail": "d", "extra": {"k": 1}}).encode()  # fmt: skip


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("nowhere", "X"),  # no such module
        ("market.registry.errors", "NoSuchError"),  # no such class
        ("market.kit.errors", "status_for"),  # not a class
        ("market.settings", "Settings"),  # not a domain error
        (__name__, "NotOurs"),  # a domain error, but only market modules are looked up
    ],
)
def test_an_error_class_this_process_will_not_find_comes_back_plain(module: str, name: str) -> None:
    _, reply = decode_reply(error_body(module, name))
    assert isinstance(reply, ErrorReply) and type(reply.error) is DomainError
    assert (reply.error.code, reply.error.detail, reply.error.extra) == ("c", "d", {"k": 1})


PLACE = {"id": 4, "type": "place_order", "party_id": "p", "party_kind": "enterprise",
         "party_status": "active", "order": "{}", "idempotency": None}  # fmt: skip


def changed(base: dict[str, Any], **changes: Any) -> bytes:
    """`base` with fields replaced (a value of `...` removes the field)."""
    fields = {**base, **changes}
    return json.dumps({k: v for k, v in fields.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("body", "request_id", "reason"),
    [
        (b"", None, "not JSON"),
        (b"\xff\xfe", None, "not JSON"),
        (b'{"id": 1, "type": ', None, "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, None, "not JSON"),
        (b'[1, "place_order"]', None, "not a JSON object"),
        (changed(PLACE, id=...), None, "no request id"),
        (changed(PLACE, id="4"), None, "no request id"),
        (changed(PLACE, id=True), None, "no request id"),
        (changed(PLACE, id=-1), None, "no request id"),
        (changed(PLACE, id=1.5), None, "no request id"),
        (changed(PLACE, type="cancel_order"), 4, "unknown request type 'cancel_order'"),
        (changed(PLACE, type=...), 4, "missing field 'type'"),
        (changed(PLACE, order=...), 4, "missing field 'order'"),
        (changed(PLACE, party_id=7), 4, "field 'party_id' must be a string"),
        (changed(PLACE, order={"instrument": "X"}), 4, "field 'order' must be a string"),
        (changed(PLACE, idempotency=["scope"]), 4, "field 'idempotency' must be null or two"),
        (changed(PLACE, idempotency=["a", 1]), 4, "field 'idempotency' must be null or two"),
        (changed(PLACE, idempotency="a"), 4, "field 'idempotency' must be null or two"),
        (changed(PLACE, op="place"), 4, "unexpected fields ['op']"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(
    body: bytes, request_id: int | None, reason: str
) -> None:
    with pytest.raises(MalformedMessage, match=reason.replace("[", r"\[")) as refused:
        decode_request(body)
    assert refused.value.request_id == request_id


ORDER = {"id": 5, "type": "order", "status": 201, "body": "{}"}
ERROR = {"id": 5, "type": "error", "module": "m", "name": "n", "code": "c", "detail": "d",
         "extra": {}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "request_id", "reason"),
    [
        (b"null", None, "not a JSON object"),
        (changed(ORDER, id=None), None, "no request id"),
        (changed(ORDER, type="placed"), 5, "unknown reply type 'placed'"),
        (changed(ORDER, status="201"), 5, "field 'status' must be an HTTP status code"),
        (changed(ORDER, status=42), 5, "field 'status' must be an HTTP status code"),
        (changed(ORDER, status=True), 5, "field 'status' must be an HTTP status code"),
        (changed(ORDER, body=None), 5, "field 'body' must be a string"),
        (changed(ORDER, extra=1), 5, "unexpected fields ['extra']"),
        (changed(ERROR, extra=[]), 5, "field 'extra' must be an object"),
        (changed(ERROR, code=...), 5, "missing field 'code'"),
        (changed({"id": 5, "type": "unavailable"}), 5, "missing field 'reason'"),
        (changed({"id": 5, "type": "refused", "reason": None}), 5, "'reason' must be a string"),
    ],
)
def test_malformed_replies_are_refused_with_a_reason(
    body: bytes, request_id: int | None, reason: str
) -> None:
    with pytest.raises(MalformedMessage, match=reason.replace("[", r"\[")) as refused:
        decode_reply(body)
    assert refused.value.request_id == request_id


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@given(st.binary() | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_any_bytes_decode_or_are_refused(body: bytes) -> None:
    for decode in (decode_request, decode_reply):
        with contextlib.suppress(MalformedMessage):
            decode(body)


@given(
    st.dictionaries(st.sampled_from(sorted({*PLACE, *ORDER, *ERROR, "reason"})), json_values),
    st.sampled_from(["place_order", "order", "error", "unavailable", "refused"]),
)
def test_any_fields_of_a_known_type_decode_or_are_refused(
    fields: dict[str, Any], kind: str
) -> None:
    body = json.dumps({**fields, "id": 3, "type": kind}).encode()
    for decode in (decode_request, decode_reply):
        try:
            decode(body)
        except MalformedMessage as refused:
            assert refused.request_id == 3
