"""Callers are remembered for a second per process, and forgotten at once on a revocation."""

from __future__ import annotations

import pytest

from market.parties import caller_cache
from market.parties.roles import Caller


def test_a_caller_is_remembered_until_its_time_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(caller_cache.time, "monotonic", lambda: now[0])
    caller_cache.forget_all()
    caller = Caller(party_id="pty_1", kind="enterprise", status="active")
    caller_cache.remember("hash-1", caller)
    assert caller_cache.cached("hash-1") == caller
    now[0] += caller_cache.TTL_SECONDS - 0.01
    assert caller_cache.cached("hash-1") == caller
    now[0] += 0.02
    assert caller_cache.cached("hash-1") is None  # expired: looked up again
    caller_cache.remember("hash-1", caller)
    caller_cache.forget_all()  # a revocation or a freeze in this process
    assert caller_cache.cached("hash-1") is None
    assert caller_cache.cached("never-seen") is None
