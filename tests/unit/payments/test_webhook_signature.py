"""The webhook signature window at its edges: 300 s either way, pinned to a given clock."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from market.payments.gateway import InvalidWebhook, verify_webhook

SECRET = "whsec_unit"
PAYLOAD = b'{"id":"evt_1","type":"payment_intent.succeeded"}'


def _header(timestamp: int, payload: bytes = PAYLOAD, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def test_a_timestamp_up_to_300_s_ahead_is_accepted_and_one_second_more_is_not() -> None:
    now = int(time.time())
    verify_webhook(PAYLOAD, _header(now + 300), SECRET, now=now)
    with pytest.raises(InvalidWebhook, match="future"):
        verify_webhook(PAYLOAD, _header(now + 301), SECRET, now=now)


def test_an_old_timestamp_is_refused_past_the_tolerance() -> None:
    now = int(time.time())
    verify_webhook(PAYLOAD, _header(now - 240), SECRET, now=now)
    with pytest.raises(InvalidWebhook):
        verify_webhook(PAYLOAD, _header(now - 360), SECRET, now=now)


def test_a_signature_over_another_body_is_refused() -> None:
    now = int(time.time())
    with pytest.raises(InvalidWebhook):
        verify_webhook(PAYLOAD + b" ", _header(now), SECRET, now=now)
