"""Worker processes talk to each other over Unix sockets, so each instrument has one home.

With `market serve --workers N`, an order may arrive at any worker. Each instrument has a home
worker (`market.workers.homes`); a worker that receives an order for another worker's
instrument hands it over this channel and relays the answer. The home worker's sequencer then
sees all of the instrument's orders: its batches are larger and no other process has to replay
them. Correctness never depends on this — the instrument's PostgreSQL advisory lock still
serializes every batch — so when the home worker cannot be reached the order runs locally.

Frames are a 4-byte big-endian length and a body (`market.workers.codec`): a typed request
(`market.workers.messages`) with an `id` that its reply repeats, so many requests share one
connection. A request that cannot be read is answered with a `RefusedReply`; a frame without
a readable id (or a frame too large) cannot be answered and closes the connection, as does a
reply without one: the asking worker's waiting orders then run where they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from market.workers.codec import (
    MalformedMessage,
    decode_reply,
    decode_request,
    encode_reply,
    encode_request,
)
from market.workers.messages import RefusedReply, Reply, Request, UnavailableReply

log = structlog.get_logger()
_FRAME = struct.Struct("!I")
MAX_FRAME = 16 * 1024 * 1024

Handler = Callable[[Request], Awaitable[Reply]]


class PeerUnavailable(Exception):
    """The home worker could not be reached (or went away before it answered)."""


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
    if size > MAX_FRAME:
        raise ValueError("frame too large")
    return await reader.readexactly(size)


def _remove_stale(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()


def _frame(body: bytes) -> bytes:
    return _FRAME.pack(len(body)) + body


class _Link:
    """One connection to a peer, shared by every request this worker sends it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        self.task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            while True:
                body = await _read_frame(self.reader)
                try:
                    request_id, reply = decode_reply(body)
                except MalformedMessage as malformed:
                    log.warning("peer_reply_malformed", reason=str(malformed))
                    if malformed.request_id is None:
                        break  # nothing to pair it with: close, failing every waiting call
                    future = self.pending.pop(malformed.request_id, None)
                    if future is not None and not future.done():
                        future.set_exception(PeerUnavailable(f"unreadable reply: {malformed}"))
                    continue
                future = self.pending.pop(request_id, None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (OSError, EOFError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(PeerUnavailable("the peer connection closed"))
        self.pending.clear()
        self.writer.close()

    @property
    def open(self) -> bool:
        return not self.task.done()


class Peers:
    def __init__(self, directory: Path, index: int, workers: int, handler: Handler) -> None:
        self.directory = directory
        self.index = index
        self.workers = workers
        self.handler = handler
        self._ids = itertools.count(1)
        self._links: dict[int, _Link] = {}
        self._connecting: dict[int, asyncio.Lock] = {}
        self._server: asyncio.AbstractServer | None = None
        self._serving: set[asyncio.Task[None]] = set()

    def socket_path(self, index: int) -> str:
        return str(self.directory / f"worker-{index}.sock")

    async def start(self) -> None:
        path = self.socket_path(self.index)
        _remove_stale(path)  # left by a worker that died: this index's socket is ours now
        self._server = await asyncio.start_unix_server(self._serve, path=path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in self._links.values():
            link.close()
        for task in list(self._serving):
            task.cancel()
        self._links.clear()

    async def call(self, index: int, request: Request) -> Reply:
        """Send `request` to worker `index` and wait for its reply."""
        request_id = next(self._ids)
        frame = _frame(encode_request(request_id, request))
        link = await self._link(index)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = future
        try:
            link.writer.write(frame)
        except (OSError, RuntimeError) as error:
            link.pending.pop(request_id, None)
            raise PeerUnavailable(str(error)) from error
        return await future

    async def _link(self, index: int) -> _Link:
        link = self._links.get(index)
        if link is not None and link.open:
            return link
        lock = self._connecting.setdefault(index, asyncio.Lock())
        async with lock:
            link = self._links.get(index)
            if link is not None and link.open:
                return link
            try:
                reader, writer = await asyncio.open_unix_connection(self.socket_path(index))
            except OSError as error:
                raise PeerUnavailable(str(error)) from error
            link = self._links[index] = _Link(reader, writer)
            return link

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                body = await _read_frame(reader)
                try:
                    request_id, request = decode_request(body)
                except MalformedMessage as malformed:
                    log.warning("peer_request_malformed", reason=str(malformed))
                    if malformed.request_id is None:
                        break  # no id to answer: close (the asking worker runs its orders)
                    writer.write(
                        _frame(encode_reply(malformed.request_id, RefusedReply(str(malformed))))
                    )
                    continue
                task = asyncio.create_task(self._answer(request_id, request, writer))
                self._serving.add(task)
                task.add_done_callback(self._serving.discard)
        except (OSError, EOFError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(
        self, request_id: int, request: Request, writer: asyncio.StreamWriter
    ) -> None:
        try:
            frame = _frame(encode_reply(request_id, await self.handler(request)))
        except Exception:  # the peer must always get an answer
            log.exception("peer_request_failed")
            reply = UnavailableReply("the home worker failed to answer")
            frame = _frame(encode_reply(request_id, reply))
        if not writer.is_closing():
            writer.write(frame)
