"""Worker processes talk to each other over Unix sockets, so each instrument has one home.

With `market serve --workers N`, an order may arrive at any worker. Each instrument has a home
worker (`market.trading.homes`); a worker that receives an order for another worker's
instrument hands it over this channel and relays the answer. The home worker's sequencer then
sees all of the instrument's orders: its batches are larger and no other process has to replay
them. Correctness never depends on this — the instrument's PostgreSQL advisory lock still
serializes every batch — so when the home worker cannot be reached the order runs locally.

Frames are a 4-byte big-endian length and a JSON object; requests carry an `id` that their
reply repeats, so many requests share one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger()
_FRAME = struct.Struct("!I")
MAX_FRAME = 16 * 1024 * 1024

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class PeerUnavailable(Exception):
    """The home worker could not be reached (or went away before it answered)."""


async def _read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
    if size > MAX_FRAME:
        raise ValueError("frame too large")
    message: dict[str, Any] = json.loads(await reader.readexactly(size))
    return message


def _remove_stale(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return _FRAME.pack(len(body)) + body


class _Link:
    """One connection to a peer, shared by every request this worker sends it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.task = asyncio.create_task(self._receive())

    async def _receive(self) -> None:
        try:
            while True:
                reply = await _read_frame(self.reader)
                future = self.pending.pop(int(reply.pop("id")), None)
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

    def _path(self, index: int) -> str:
        return str(self.directory / f"worker-{index}.sock")

    async def start(self) -> None:
        path = self._path(self.index)
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

    async def call(self, index: int, message: dict[str, Any]) -> dict[str, Any]:
        """Send `message` to worker `index` and wait for its reply."""
        link = await self._link(index)
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        link.pending[request_id] = future
        try:
            link.writer.write(_frame({**message, "id": request_id}))
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
                reader, writer = await asyncio.open_unix_connection(self._path(index))
            except OSError as error:
                raise PeerUnavailable(str(error)) from error
            link = self._links[index] = _Link(reader, writer)
            return link

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                message = await _read_frame(reader)
                task = asyncio.create_task(self._answer(message, writer))
                self._serving.add(task)
                task.add_done_callback(self._serving.discard)
        except (OSError, EOFError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    async def _answer(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        request_id = message.pop("id")
        try:
            reply = await self.handler(message)
        except Exception:  # the peer must always get an answer
            log.exception("peer_request_failed")
            reply = {"unavailable": True}
        if not writer.is_closing():
            writer.write(_frame({**reply, "id": request_id}))
