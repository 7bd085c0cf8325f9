"""Workers hand orders to each other over Unix sockets: requests and replies pair up by id,
many at once on one connection; an unreachable worker is reported, not waited for; a request
that cannot be read is refused and a reply that cannot be read fails its call, and neither
stops the worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from market.workers.codec import decode_reply, encode_request
from market.workers.messages import (
    OrderReply,
    PlaceOrderRequest,
    RefusedReply,
    Reply,
    UnavailableReply,
)
from market.workers.peers import Handler, Peers, PeerUnavailable

FRAME = struct.Struct("!I")


def order(n: int) -> PlaceOrderRequest:
    return PlaceOrderRequest("party", "enterprise", "active", str(n))


async def doubles(request: PlaceOrderRequest) -> Reply:
    return OrderReply(200, str(2 * int(request.order)))


async def never(request: PlaceOrderRequest) -> Reply:
    raise AssertionError("this worker is never asked")


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

    async def answer(request: PlaceOrderRequest) -> Reply:
        n = int(request.order)
        await asyncio.sleep(0.001 * (50 - n % 50))  # replies out of order
        seen.append(n)
        return await doubles(request)

    async with workers(never, answer) as (first, _):
        replies = await asyncio.gather(*(first.call(1, order(n)) for n in range(200)))
        assert replies == [OrderReply(200, str(2 * n)) for n in range(200)]
        assert sorted(seen) == list(range(200))


async def test_an_unreachable_worker_is_reported() -> None:
    async with workers(never) as (alone,):
        with pytest.raises(PeerUnavailable):
            await alone.call(1, order(1))


async def test_a_failing_handler_still_answers() -> None:
    async def broken(request: PlaceOrderRequest) -> Reply:
        raise RuntimeError("boom")

    async with workers(broken, broken) as (first, _):
        assert isinstance(await first.call(1, order(1)), UnavailableReply)


async def send(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(FRAME.pack(len(body)) + body)
    await writer.drain()


async def receive(reader: asyncio.StreamReader) -> tuple[int, Reply]:
    (size,) = FRAME.unpack(await reader.readexactly(FRAME.size))
    return decode_reply(await reader.readexactly(size))


async def test_a_malformed_request_is_refused_and_the_worker_serves_on() -> None:
    async with workers(never, doubles) as (first, home):
        reader, writer = await asyncio.open_unix_connection(home.socket_path(1))
        try:
            await send(writer, json.dumps({"id": 7, "type": "cancel_order"}).encode())
            request_id, reply = await receive(reader)
            assert request_id == 7 and isinstance(reply, RefusedReply)
            assert "unknown request type 'cancel_order'" in reply.reason
            await send(writer, encode_request(8, order(21)))  # the same connection goes on
            assert await receive(reader) == (8, OrderReply(200, "42"))
            await send(writer, b"{not json")  # no id to answer: the connection closes
            assert await reader.read() == b""
        finally:
            writer.close()
        assert await first.call(1, order(5)) == OrderReply(200, "10")  # the worker serves on


async def fake_home(
    directory: Path, answer: Callable[[int], bytes]
) -> Callable[[], Awaitable[None]]:
    """Worker 1's socket, answering each request with `answer(request id)`; returns a closer."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (size,) = FRAME.unpack(await reader.readexactly(FRAME.size))
                request_id = json.loads(await reader.readexactly(size))["id"]
                await send(writer, answer(request_id))
        writer.close()

    server = await asyncio.start_unix_server(serve, path=str(directory / "worker-1.sock"))

    async def close() -> None:
        server.close()
        await server.wait_closed()

    return close


@pytest.mark.parametrize(
    "answer",
    [
        lambda i: json.dumps({"id": i, "type": "order", "status": "201", "body": "{}"}).encode(),
        lambda i: json.dumps({"type": "order", "status": 201, "body": "{}"}).encode(),
        lambda i: b"\x00garbage",
    ],
    ids=["mistyped field", "no id", "not JSON"],
)
async def test_a_malformed_reply_fails_its_call(answer: Callable[[int], bytes]) -> None:
    with tempfile.TemporaryDirectory(prefix="peers-") as directory:
        close_home = await fake_home(Path(directory), answer)
        asking = Peers(Path(directory), 0, 2, never)
        try:
            with pytest.raises(PeerUnavailable):
                await asyncio.wait_for(asking.call(1, order(1)), 5)
        finally:
            await asking.close()
            await close_home()
