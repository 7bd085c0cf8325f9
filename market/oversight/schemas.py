"""Oversight request and response models (API.md "Oversight")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import StringConstraints

from market.kit.schema import Input, Output, Timestamp

AlertKind = Literal[
    "circular_trading", "price_spike", "concentration", "layering", "invariant_violation"
]
AlertStatus = Literal["open", "reviewed"]
ExportKind = Literal["trades", "orders", "retirements", "ledger", "compensation"]
ExportFormat = Literal["csv", "jsonl"]
TrailKind = Literal["new", "fill", "cancel", "expire", "reject"]


class AlertOut(Output):
    id: str
    kind: AlertKind
    severity: Literal["low", "medium", "high", "critical"]
    instrument: str | None
    parties: list[str]
    trade_ids: list[str]
    order_ids: list[str]
    detail: str
    status: AlertStatus
    created_at: Timestamp
    observed_at: Timestamp
    review_note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: Timestamp | None = None


class ReviewIn(Input):
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class TrailItem(Output):
    seq: int
    kind: TrailKind
    quantity: int
    price: str | None
    trade_id: str | None = None
    reason: str | None = None
    created_at: Timestamp


class TrailOut(Output):
    order_id: str
    side: Literal["buy", "sell"]
    instrument: str
    party_id: str
    type: str
    items: list[TrailItem]
