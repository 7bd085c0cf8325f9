"""What the sequencer queues for an instrument's order batch, and what a placed order answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from market.http.idempotency import IdempotencyClaim
from market.kit.ids import new_id
from market.kit.money import parse_money
from market.parties.roles import Caller
from market.trading.models import OrderState
from market.trading.rows import OrderFill
from market.trading.schemas import OrderCreate


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    caller: Caller
    data: OrderCreate
    idempotency: IdempotencyClaim | None = None  # its first response is stored by the batch

    def new_order(self, symbol: str, now: datetime) -> OrderState:
        """The order as it arrives: open, nothing filled or held yet."""
        data = self.data
        return OrderState(
            id=new_id("ord"),
            instrument=symbol,
            party_id=self.caller.party_id,
            client_order_id=data.client_order_id,
            side=data.side,
            type=data.type,
            price_fen=parse_money(data.price) if data.price is not None else None,
            quantity=data.quantity,
            filled_quantity=0,
            remaining_quantity=data.quantity,
            filled_notional_fen=0,
            status="open",
            reject_reason=None,
            time_in_force=data.time_in_force,
            expires_at=data.expires_at,
            stp=data.stp,
            batch_id=data.batch_id,
            engine_seq=None,
            entered_seq=None,
            ended_seq=None,
            reserved_cash_fen=0,
            escrowed_units=0,
            created_at=now,
            updated_at=now,
        )


@dataclass(frozen=True, slots=True)
class CancelRequest:
    caller: Caller
    order_id: str


@dataclass(frozen=True, slots=True)
class ExpireDue:
    """The background timer's nudge: expire whatever is due (every batch does that anyway)."""


BatchCommand = PlaceOrder | CancelRequest | ExpireDue


@dataclass(slots=True)
class Placed:
    order: OrderState
    replayed: bool
    fills: list[OrderFill] | None = None  # known for a new order; read for a replay

    @property
    def status_code(self) -> int:
        """201 for a new order, 200 for a repeated `client_order_id`."""
        return 200 if self.replayed else 201
