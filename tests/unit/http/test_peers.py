"""Workers hand orders to each other over Unix sockets: requests and replies pair up by id,
many at once on one connection; an unreachable worker is reported, not waited for."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest

from market.http.peers import Peers, PeerUnavailable
from market.kit.errors import DomainError, error_from_json, error_to_json
from market.registry.errors import InsufficientUnits


async def test_requests_reach_the_home_worker_and_replies_pair_up() -> None:
    with tempfile.TemporaryDirectory(prefix="peers-") as directory:
        seen: list[int] = []

        async def answer(message: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(0.001 * (50 - message["n"] % 50))  # replies out of order
            seen.append(message["n"])
            return {"double": message["n"] * 2}

        async def refuse(message: dict[str, Any]) -> dict[str, Any]:
            raise AssertionError("worker 0 is never asked")

        first = Peers(Path(directory), 0, 2, refuse)
        second = Peers(Path(directory), 1, 2, answer)
        await first.start()
        await second.start()
        try:
            replies = await asyncio.gather(*(first.call(1, {"n": n}) for n in range(200)))
            assert [r["double"] for r in replies] == [2 * n for n in range(200)]
            assert sorted(seen) == list(range(200))
        finally:
            await first.close()
            await second.close()


async def test_an_unreachable_worker_is_reported() -> None:
    with tempfile.TemporaryDirectory(prefix="peers-") as directory:

        async def never(message: dict[str, Any]) -> dict[str, Any]:
            raise AssertionError

        alone = Peers(Path(directory), 0, 2, never)
        await alone.start()
        try:
            with pytest.raises(PeerUnavailable):
                await alone.call(1, {"n": 1})
        finally:
            await alone.close()


async def test_a_failing_handler_still_answers() -> None:
    with tempfile.TemporaryDirectory(prefix="peers-") as directory:

        async def broken(message: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("boom")

        first = Peers(Path(directory), 0, 2, broken)
        second = Peers(Path(directory), 1, 2, broken)
        await first.start()
        await second.start()
        try:
            assert await first.call(1, {}) == {"unavailable": True}
        finally:
            await first.close()
            await second.close()


def test_domain_errors_cross_processes_intact() -> None:
    error = InsufficientUnits("10 units requested, 3 available", requested=10, available=3)
    again = error_from_json(error_to_json(error))
    assert type(again) is InsufficientUnits
    assert (again.code, again.detail, again.extra) == (error.code, error.detail, error.extra)
    unknown = error_from_json({"module": "nowhere", "name": "X", "code": "c", "detail": "d",
                               "extra": {}})  # fmt: skip
    assert type(unknown) is DomainError and unknown.code == "c"
