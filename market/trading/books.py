"""This process's copy of each instrument's book, kept in step with the database.

Every engine command is appended to `book_commands` in the transaction that applied it. Before
a batch runs (holding the instrument's advisory lock) the copy replays the commands other
processes appended since it last looked; after a restart, a rules change or a failed commit it
is rebuilt from the resting orders instead. The engine is deterministic, so both give the book
the database describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from market.trading.engine import (
    CancelOrder,
    Command,
    ExpireOrder,
    InstrumentRules,
    NewOrder,
    OrderBook,
    OrderType,
    RestoreOrder,
    Side,
    Stp,
    TimeInForce,
)
from market.trading.models import Instrument
from market.trading.repository import TradingRepository

REBUILD_AFTER = 20_000  # commands behind: rebuilding from resting orders is cheaper


def rules_of(instrument: Instrument) -> InstrumentRules:
    return InstrumentRules.from_reference(
        instrument.reference_price_fen,
        instrument.price_band_bps,
        tick_size_fen=instrument.tick_size_fen,
        lot_size=instrument.lot_size,
    )


def command_json(command: Command) -> dict[str, Any]:
    if isinstance(command, NewOrder):
        return {
            "op": "submit",
            "order_id": command.order_id,
            "party_id": command.party_id,
            "side": command.side.value,
            "quantity": command.quantity,
            "price": command.price,
            "type": command.order_type.value,
            "tif": command.time_in_force.value,
            "stp": command.stp.value,
            "budget": command.max_notional_fen,
        }
    if isinstance(command, CancelOrder):
        return {"op": "cancel", "order_id": command.order_id}
    if isinstance(command, ExpireOrder):
        return {"op": "expire", "order_id": command.order_id}
    raise TypeError(f"not a logged command: {command!r}")


def command_from_json(data: dict[str, Any]) -> Command:
    op = data["op"]
    if op == "submit":
        return NewOrder(
            order_id=data["order_id"],
            party_id=data["party_id"],
            side=Side(data["side"]),
            quantity=int(data["quantity"]),
            price=data["price"],
            order_type=OrderType(data["type"]),
            time_in_force=TimeInForce(data["tif"]),
            stp=Stp(data["stp"]),
            max_notional_fen=data["budget"],
        )
    if op == "cancel":
        return CancelOrder(data["order_id"])
    if op == "expire":
        return ExpireOrder(data["order_id"])
    raise ValueError(f"unknown book command {op!r}")


@dataclass
class BookCopy:
    book: OrderBook
    applied_seq: int
    rules_version: int


class BookRegistry:
    """Per-process books, one per instrument; only touched under the instrument's lock."""

    def __init__(self) -> None:
        self._copies: dict[str, BookCopy] = {}

    def invalidate(self, symbol: str) -> None:
        self._copies.pop(symbol, None)

    def mark_applied(self, symbol: str, command_seq: int) -> None:
        copy = self._copies.get(symbol)
        if copy is not None:
            copy.applied_seq = command_seq

    async def synced(self, repo: TradingRepository, instrument: Instrument) -> OrderBook:
        copy = self._copies.get(instrument.symbol)
        behind = instrument.command_seq - copy.applied_seq if copy else None
        if (
            copy is None
            or behind is None
            or behind < 0
            or behind > REBUILD_AFTER
            or copy.rules_version != instrument.rules_version
        ):
            copy = await self._rebuild(repo, instrument)
        elif behind:
            for data in await repo.commands_after(instrument.symbol, copy.applied_seq):
                copy.book.process(command_from_json(data))
            copy.applied_seq = instrument.command_seq
        # Block and auction trades take trade numbers without a book command (`off_book.py`):
        # the instrument's counter, read under its lock, is where the tape stands.
        copy.book.next_trade_seq = instrument.trade_seq + 1
        return copy.book

    async def _rebuild(self, repo: TradingRepository, instrument: Instrument) -> BookCopy:
        book = OrderBook(
            rules_of(instrument),
            next_order_seq=instrument.next_order_seq,
            next_trade_seq=instrument.trade_seq + 1,
        )
        for order in await repo.resting_orders(instrument.symbol):
            assert order.price_fen is not None and order.engine_seq is not None
            book.restore(
                RestoreOrder(
                    order_id=order.id,
                    party_id=order.party_id,
                    side=Side(order.side),
                    price=order.price_fen,
                    quantity=order.remaining_quantity,
                    seq=order.engine_seq,
                    time_in_force=TimeInForce(order.time_in_force),
                    stp=Stp(order.stp),
                )
            )
        copy = BookCopy(book, instrument.command_seq, instrument.rules_version)
        self._copies[instrument.symbol] = copy
        return copy
