"""An order's trail (API.md `GET /v1/oversight/orders/{id}/trail`), derived from what is stored
anyway: the order's row — where in its instrument's command log it entered and ended, and why it
ended — and its trades. Nothing is written for the trail itself.

Each item's `seq` is the `book_commands.seq` of the command during which it happened, the number
that replays the book: `new` — the order's submit; `fill` — the submit of the trade's taker (the
order itself, or the one that took it from the book); `cancel`, `expire`, `reject` — the command
that ended it (an owner's cancel, an expiry, or the order's own submit: IOC remainder, STP, a
market buy's budget, an engine rejection). An order rejected before it reached the book has no
command: both its items carry the seq of the last command logged before it. Items of one
command share its seq; the list is in the order they happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from market.trading.models import AnyOrder

TrailKind = Literal["new", "fill", "cancel", "expire", "reject"]

# An order's final status → its trail's last item (a filled order's last fill says it all).
END_KINDS: dict[str, TrailKind] = {"cancelled": "cancel", "expired": "expire", "rejected": "reject"}


@dataclass(frozen=True, slots=True)
class TrailFill:
    """A trade of the order, with the seq of the command it happened in."""

    trade_id: str
    price_fen: int
    quantity: int
    seq: int
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class TrailEntry:
    seq: int
    kind: TrailKind
    quantity: int  # new: the order's; fill: the trade's; the end: what left the book
    price_fen: int | None
    trade_id: str | None
    reason: str | None
    created_at: datetime


def end_reason(order: AnyOrder, ended_by: str | None) -> str | None:
    """Why the order ended: its `reject_reason` when it has one (rejections, STP, a market
    buy's budget); else `expired`, `user` (an owner's cancel command) or `ioc_remainder` (a
    cancel during its own submit). `ended_by` is the op of the command it ended in."""
    if order.reject_reason is not None:
        return order.reject_reason
    if order.status == "expired":
        return "expired"
    if order.status == "cancelled":
        return "user" if ended_by == "cancel" else "ioc_remainder"
    return None


def trail_of(order: AnyOrder, fills: list[TrailFill], ended_by: str | None) -> list[TrailEntry]:
    """The order's trail, oldest first: cancels, expiries and rejections carry the quantity that
    left the book (what remained), so replaying an instrument's trails rebuilds its book."""
    entered = order.entered_seq if order.entered_seq is not None else order.ended_seq
    assert entered is not None, order.id
    entries = [
        TrailEntry(entered, "new", order.quantity, order.price_fen, None, None, order.created_at)
    ]
    entries += [
        TrailEntry(f.seq, "fill", f.quantity, f.price_fen, f.trade_id, None, f.executed_at)
        for f in fills
    ]
    kind = END_KINDS.get(order.status)
    if kind is not None:
        assert order.ended_seq is not None, order.id
        left = order.quantity - sum(f.quantity for f in fills)
        reason = end_reason(order, ended_by)
        entries.append(
            TrailEntry(order.ended_seq, kind, left, order.price_fen, None, reason, order.updated_at)
        )
    return entries
