"""Workers hand orders to each other over Unix sockets: requests and replies pair up by id,
many at once on one connection; an unreachable worker is reported, not waited for."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from market.http.peers import Handler, Peers, PeerUnavailable
from market.kit.errors import DomainError, error_from_json, error_to_json
from market.registry.errors import InsufficientUnits


@contextlib.asynccontextmanager
async def workers(*handlers: Handler) -> AsyncIterator[list[Peers]]:
    """One started `Peers` per handler (worker i answers with handlers[i])."""
    with tempfile.TemporaryDirectory(prefix="peers-") as directory:
        peers = [Peers(Path(directory), i, 2, h) for i, h in enumerate(handlers)]
        for worker in peers:
            await worker.start()
        try:
            yield peers
        finally:
            for worker in peers:
                await worker.close()


async def test_requests_reach_the_home_worker_and_replies_pair_up() -> None:
    seen: list[int] = []

    async def answer(message: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.001 * (50 - message["n"] % 50))  # replies out of order
        seen.append(message["n"])
        return {"double": message["n"] * 2}

    async def refuse(message: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("worker 0 is never asked")

    async with workers(refuse, answer) as (first, _):
        replies = await asyncio.gather(*(first.call(1, {"n": n}) for n in range(200)))
        assert [r["double"] for r in replies] == [2 * n for n in range(200)]
        assert sorted(seen) == list(range(200))


async def test_an_unreachable_worker_is_reported() -> None:
    async def never(message: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError

    async with workers(never) as (alone,):
        with pytest.raises(PeerUnavailable):
            await alone.call(1, {"n": 1})


async def test_a_failing_handler_still_answers() -> None:
    async def broken(message: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("boom")

    async with workers(broken, broken) as (first, _):
        assert await first.call(1, {}) == {"unavailable": True}


def test_domain_errors_cross_processes_intact() -> None:
    error = InsufficientUnits("10 units requested, 3 available", requested=10, available=3)
    again = error_from_json(error_to_json(error))
    assert type(again) is InsufficientUnits
    assert (again.code, again.detail, again.extra) == (error.code, error.detail, error.extra)
    unknown = error_from_json({"module": "nowhere", "name": "X", "code": "c", "detail": "d",
                               "extra": {}})  # fmt: skip
    assert type(unknown) is DomainError and unknown.code == "c"
