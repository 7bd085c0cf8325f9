"""`WS /v1/instruments/{symbol}/stream`: book snapshots and trades, each with the instrument's seq.

The stream polls the database (every 200 ms, only when the instrument's `seq` moved), so it
shows every process's trades when the server runs several workers. The first message is a book
snapshot; then a `trade` message per new trade (oldest first; `trade_seq` is its number on
the tape) and a new `book` snapshot whenever the book changed. Every message's `seq` is the
instrument's `seq` (the market data's version: one per book command and per off-book trade
print) at the time it was read. The stream ends when the client leaves.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath

from market.kit.errors import NotFound
from market.trading.controllers import book_snapshot
from market.trading.repository import TradingRepository
from market.trading.views import tape_item

POLL_S = 0.2
DEPTH = 10


async def _until_disconnect(socket: WebSocket[Any, Any, Any]) -> None:
    """Read (and ignore) what the client sends; return when it leaves."""
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return


@websocket("/v1/instruments/{symbol:str}/stream")
async def instrument_stream(
    socket: WebSocket[Any, Any, Any], symbol: FromPath[str], state: State
) -> None:
    await socket.accept()
    gone = asyncio.create_task(_until_disconnect(socket))
    try:
        await _stream(socket, symbol, state, gone)
    except (WebSocketDisconnect, NotFound):
        return
    finally:
        gone.cancel()


async def _stream(
    socket: WebSocket[Any, Any, Any], symbol: str, state: State, gone: asyncio.Task[None]
) -> None:
    last_seq, last_trade_seq = -1, None
    while not gone.done():
        async with state.session_factory() as session:
            repo = TradingRepository(session)
            instrument = await repo.instrument(symbol)
            if instrument is None:
                await socket.send_json({"type": "error", "code": "not_found", "symbol": symbol})
                await socket.close(code=4404)
                return
            if last_trade_seq is None:
                last_trade_seq = instrument.trade_seq
            if instrument.seq != last_seq:
                trades = [t for t in await repo.tape(symbol, 500, None) if t.seq > last_trade_seq]
                for trade in sorted(trades, key=lambda t: t.seq):
                    item = tape_item(trade).model_dump(mode="json")
                    item["trade_seq"] = item.pop("seq")
                    await socket.send_json(
                        {"type": "trade", "symbol": symbol, "seq": instrument.seq, **item}
                    )
                    last_trade_seq = trade.seq
                book = await book_snapshot(session, symbol, DEPTH)
                await socket.send_json({"type": "book", **book.model_dump(mode="json")})
                last_seq = instrument.seq
        await asyncio.wait({gone}, timeout=POLL_S)
