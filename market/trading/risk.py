"""Risk: what an order must hold before it meets the book, and what it gives back when it ends.

A buy reserves price × quantity plus the most buyer fee it can owe; a market buy reserves all
the buyer's available cash, and the engine gets the notional that cash covers (fee included)
as its budget. A sell escrows its units from the seller's eligible holdings, oldest serials
first (only the batch it names, if it names one). An order that ends releases exactly what it
still holds. Everything here plans over the batch's running view of cash and units, read
without locks by the prefetch; the order batch applies the plans after matching, under locks,
where a stale read makes the batch fail as a whole (see `order_batch.py`).

Block trades and auctions escrow and release units with the same builders (`off_book.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from market.cash.ledger import Hold
from market.registry.unit_repository import Owner
from market.registry.units import UnitMove
from market.trading.models import OrderState
from market.trading.rows import DeliverableHolding, EscrowPart
from market.trading.rules import BPS, fee

Usable = Callable[[DeliverableHolding], bool]


@dataclass(frozen=True, slots=True)
class CashReservation:
    """A buy order's cash, available → reserved (a hold, no journal entry); `budget` caps a
    market buy's notional."""

    party_id: str
    amount: int
    budget: int | None = None

    def hold(self) -> Hold:
        return Hold(self.party_id, self.amount)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Why units cannot be escrowed: `batch_not_eligible` or `insufficient_units`."""

    reason: str
    available: int  # the eligible units there are


def buy_reservation(order: OrderState, available: int, fee_bps: int) -> CashReservation | None:
    """What a buy order reserves out of `available` cash; None when that is not enough."""
    if order.type == "market":
        amount, budget = available, available * BPS // (BPS + fee_bps)
        if budget <= 0:
            return None
    else:
        assert order.price_fen is not None
        notional = order.price_fen * order.quantity
        amount, budget = notional + fee(notional, fee_bps), None
    if amount > available:
        return None
    return CashReservation(order.party_id, amount, budget)


def allocate_units(
    quantity: int, batch_id: str | None, holdings: list[DeliverableHolding], usable: Usable
) -> list[EscrowPart] | Shortfall:
    """`quantity` units out of the usable `holdings` (the named batch only, if any), in the
    holdings' order (oldest serials first)."""
    chosen = [h for h in holdings if usable(h) and (batch_id is None or h.batch_id == batch_id)]
    available = sum(h.available for h in chosen)
    if batch_id is not None and not chosen:
        return Shortfall("batch_not_eligible", available)
    if available < quantity:
        return Shortfall("insufficient_units", available)
    parts: list[EscrowPart] = []
    for holding in chosen:
        take = min(quantity, holding.available)
        if take:
            parts.append(EscrowPart(holding.batch_id, take))
            quantity -= take
    return parts


def take_escrow(
    parts: list[EscrowPart], quantity: int
) -> tuple[list[EscrowPart], list[EscrowPart]]:
    """The first `quantity` units of an escrow (oldest serials first), and what is left."""
    taken: list[EscrowPart] = []
    for n, part in enumerate(parts):
        if not quantity:
            return taken, parts[n:]
        take = min(quantity, part.quantity)
        if take:
            taken.append(EscrowPart(part.batch_id, take))
        quantity -= take
        if take < part.quantity:
            return taken, [EscrowPart(part.batch_id, part.quantity - take), *parts[n + 1 :]]
    if quantity:
        raise ValueError("the escrow does not cover the quantity")
    return taken, []


def split_escrow(
    parts: list[EscrowPart], quantities: list[int]
) -> tuple[list[list[EscrowPart]], list[EscrowPart]]:
    """An escrow cut into consecutive pieces of `quantities`, and what is left."""
    pieces: list[list[EscrowPart]] = []
    for quantity in quantities:
        piece, parts = take_escrow(parts, quantity)
        pieces.append(piece)
    return pieces, parts


def escrow_moves(
    party_id: str, hold_ref: str, parts: list[EscrowPart], reason: str
) -> list[UnitMove]:
    """The party's available units → escrowed, held by `hold_ref`."""
    return [
        UnitMove(
            Owner(part.batch_id, party_id, "available"),
            Owner(part.batch_id, party_id, "escrowed", hold_ref=hold_ref),
            part.quantity,
            reason,
            hold_ref,
        )
        for part in parts
    ]


def release_moves(
    party_id: str, hold_ref: str, parts: list[EscrowPart], reason: str
) -> list[UnitMove]:
    """What `hold_ref` holds in escrow → the party's available units."""
    return [
        UnitMove(
            Owner(part.batch_id, party_id, "escrowed", hold_ref=hold_ref),
            Owner(part.batch_id, party_id, "available"),
            part.quantity,
            reason,
            hold_ref,
        )
        for part in parts
        if part.quantity
    ]


class RiskView:
    """The batch's running view: the submitters' available cash, the sellers' deliverable
    units and what each order holds in escrow — as the prefetch read them and the batch's own
    reservations, fills and releases changed them. Its methods keep the orders' holds
    (`reserved_cash_fen`, `escrowed_units`) in step and return the moves to apply."""

    def __init__(self) -> None:
        self.cash: dict[str, int] = {}
        self.units: dict[str, list[DeliverableHolding]] = {}
        self.escrow: dict[str, list[EscrowPart]] = {}

    def reserve_cash(self, order: OrderState, fee_bps: int) -> CashReservation | None:
        available = self.cash[order.party_id]
        reservation = buy_reservation(order, available, fee_bps)
        if reservation is not None:
            self.cash[order.party_id] = available - reservation.amount
            order.reserved_cash_fen = reservation.amount
        return reservation

    def escrow_units(self, order: OrderState, usable: Usable) -> list[UnitMove] | Shortfall:
        holdings = self.units[order.party_id]
        parts = allocate_units(order.quantity, order.batch_id, holdings, usable)
        if isinstance(parts, Shortfall):
            return parts
        taken = {part.batch_id: part.quantity for part in parts}
        self.units[order.party_id] = [
            h.less(taken[h.batch_id]) if h.batch_id in taken else h for h in holdings
        ]
        self.escrow[order.id] = parts
        order.escrowed_units = order.quantity
        return escrow_moves(order.party_id, order.id, parts, "order_escrow")

    def deliver(self, sell: OrderState, quantity: int) -> list[EscrowPart]:
        """The escrowed units a sell order delivers in a fill (its escrow must be known)."""
        taken, self.escrow[sell.id] = take_escrow(self.escrow[sell.id], quantity)
        sell.escrowed_units -= quantity
        return taken

    def release(self, order: OrderState) -> tuple[Hold | None, list[UnitMove]]:
        """Everything an ending order still holds (its escrow must be known if it holds
        units): its cash reserved → available (a negative hold), its units back."""
        cash = None
        if order.reserved_cash_fen:
            cash = Hold(order.party_id, -order.reserved_cash_fen)
            if order.party_id in self.cash:
                self.cash[order.party_id] += order.reserved_cash_fen
            order.reserved_cash_fen = 0
        units: list[UnitMove] = []
        if order.escrowed_units:
            units = release_moves(order.party_id, order.id, self.escrow[order.id], "order_release")
            self.escrow[order.id] = []
            order.escrowed_units = 0
        return cash, units
