"""One batch of commands for one instrument, in one transaction.

Two phases. *Compute*: under the instrument's advisory lock, with unlocked reads of cash and
units (plus the batch's own running deltas), each command is checked, its reservation planned,
and the engine matches it; fills become planned settlements. *Apply*: every holding and cash
account the batch touches is locked in sorted sweeps (holdings by batch and party, then cash by
party — the order every other transaction uses), the planned unit and ledger moves run, and
trades, events and the command log are written; certificates join the log at commit (its lock
is always taken last). A stale read shows up as a refused move or a CHECK violation: the
batch then fails as a whole and the sequencer retries its commands one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import (
    CashLedger,
    Leg,
    release_legs,
    reserve_legs,
    settlement_legs,
)
from market.certification.service import CertificateService
from market.http.idempotency import IdempotencyClaim
from market.kit.errors import DomainError, NotFound
from market.kit.ids import new_id
from market.kit.money import parse_money
from market.kit.time import utcnow
from market.parties.roles import Caller
from market.registry.models import Approval, ProductType
from market.registry.unit_repository import Owner
from market.registry.units import SerialRange, UnitLedger, UnitMove
from market.trading.batch_repository import BatchRepository, BatchWrites
from market.trading.books import BookRegistry, command_json, rules_of
from market.trading.engine import (
    Accepted,
    Cancelled,
    CancelOrder,
    CancelReason,
    Event,
    ExpireOrder,
    NewOrder,
    OrderBook,
    OrderType,
    Rejected,
    Rested,
    Side,
    Stp,
    TimeInForce,
    Trade,
)
from market.trading.errors import OrderNotOpen
from market.trading.facts import trade_facts
from market.trading.models import OPEN_STATUSES, OrderState
from market.trading.repository import TradingRepository
from market.trading.rules import eligible, fee, precheck
from market.trading.schemas import OrderCreate

BPS = 10_000
# Cancellations the client did not ask for: the order says why (API.md reasons).
EXPLAINED_CANCELS = frozenset({"self_trade_prevented", "insufficient_funds"})


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    caller: Caller
    data: OrderCreate
    idempotency: IdempotencyClaim | None = None  # its first response is stored by the batch


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
    fills: list[dict[str, Any]] | None = None  # known for a new order; read for a replay

    @property
    def status_code(self) -> int:
        """201 for a new order, 200 for a repeated `client_order_id`."""
        return 200 if self.replayed else 201


@dataclass(slots=True)
class CashOp:
    kind: str  # reserve | release | settle
    party_id: str
    amount: int
    ref_id: str
    settle: dict[str, Any] | None = None
    entry_id: str | None = None


@dataclass(slots=True)
class UnitOp:
    source: Owner
    target: Owner
    quantity: int
    reason: str
    ref_id: str
    moved: list[SerialRange] = field(default_factory=list)


@dataclass(slots=True)
class PendingTrade:
    row: dict[str, Any]
    settlement: dict[str, Any]
    deliveries: list[UnitOp]
    cash: CashOp | None
    product_type: str


class Statics:
    """What a process may remember across batches: the product-type catalog and the platform
    party (neither changes while the server runs)."""

    def __init__(self) -> None:
        self.product_types: dict[str, ProductType] = {}
        self.platform_id: str | None = None

    async def product_type(self, session: AsyncSession, code: str) -> ProductType:
        found = self.product_types.get(code)
        if found is None:
            found = await session.get(ProductType, code)
            assert found is not None, code
            self.product_types[code] = found
        return found

    async def platform(self, session: AsyncSession) -> str:
        """The platform party: it signs the trades and owns the fee account (whose
        per-instrument sub-accounts the posting statement creates as needed)."""
        if self.platform_id is None:
            self.platform_id = await CertificateService(session).platform_party_id()
        return self.platform_id


class OrderBatch:
    def __init__(self, session: AsyncSession, books: BookRegistry, statics: Statics) -> None:
        self.session = session
        self.books = books
        self.statics = statics
        self.repo = TradingRepository(session)
        self.new_orders: list[OrderState] = []
        self.dirty: set[str] = set()
        self.cash_ops: list[CashOp] = []
        self.unit_ops: list[UnitOp] = []
        self.trades: list[PendingTrade] = []
        self.events: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.orders: dict[str, OrderState] = {}
        self.cash_view: dict[str, int] = {}
        self.units_view: dict[str, list[dict[str, Any]]] = {}
        self.escrow: dict[str, list[list[Any]]] = {}
        self.client_ids: dict[tuple[str, str], OrderState] = {}
        self.party_status: dict[str, str] = {}
        self.fills: dict[str, list[dict[str, Any]]] = {}

    async def run(self, symbol: str, commands: list[BatchCommand]) -> list[object]:
        self.db, instrument = await BatchRepository.lock(self.session, symbol)
        if instrument is None:
            return [NotFound(f"instrument {symbol} not found") for _ in commands]
        self.instrument = instrument
        self.book: OrderBook = await self.books.synced(self.repo, instrument)
        self.now: datetime = utcnow()
        self.product_type = await self.statics.product_type(self.session, instrument.product_type)
        self.platform_id = await self.statics.platform(self.session)
        due = await self._prefetch(commands)
        for order_id in due:
            await self._engine(ExpireOrder(order_id))
        results: list[object] = []
        for command in commands:
            try:
                results.append(await self._one(command))
            except DomainError as error:
                results.append(error)
        await self._apply()
        return results

    async def _prefetch(self, commands: list[BatchCommand]) -> list[str]:
        """One round trip for what the batch needs: earlier orders with the same client ids,
        the submitters' status, buyers' cash, sellers' deliverable units, the GTD orders due,
        and the resting orders the batch's orders will likely meet (or cancel)."""
        places = [c for c in commands if isinstance(c, PlaceOrder)]
        incoming = {Side.BUY: 0, Side.SELL: 0}
        for c in places:
            incoming[Side(c.data.side)] += c.data.quantity
        touched = self.book.front(Side.SELL, incoming[Side.BUY])
        touched += self.book.front(Side.BUY, incoming[Side.SELL])
        touched += [c.order_id for c in commands if isinstance(c, CancelRequest)]
        submitters = sorted({c.caller.party_id for c in places})
        found = await self.db.prefetch(
            symbol=self.instrument.symbol,
            now=self.now,
            product_type=self.instrument.product_type,
            client_keys=sorted({(c.caller.party_id, c.data.client_order_id) for c in places}),
            submitters=submitters,
            buyers=sorted({c.caller.party_id for c in places if c.data.side == "buy"}),
            sellers=sorted({c.caller.party_id for c in places if c.data.side == "sell"}),
            order_ids=sorted(set(touched)),
        )
        self.client_ids.update(found.client_orders)
        self.party_status = {p: found.party_status.get(p, "frozen") for p in submitters}
        self.cash_view.update({p: found.cash.get(p, 0) for p in submitters})
        self.units_view.update(found.units)
        self.orders.update(found.orders)
        self.escrow.update(found.escrow)
        return found.due

    async def _one(self, command: BatchCommand) -> object:
        if isinstance(command, PlaceOrder):
            return await self._place(command)
        if isinstance(command, CancelRequest):
            return await self._cancel(command)
        return None

    # compute --------------------------------------------------------------------------------

    async def _load(self, order_id: str) -> None:
        """An order the prefetch did not bring, with what it holds in escrow."""
        found = await self.db.orders([order_id])
        for known_id, order in found.orders.items():
            self.orders.setdefault(known_id, order)
        for ref, allocation in found.escrow.items():
            self.escrow.setdefault(ref, allocation)
        self.escrow.setdefault(order_id, [])

    async def _order(self, order_id: str) -> OrderState | None:
        if order_id not in self.orders:
            await self._load(order_id)
        return self.orders.get(order_id)

    async def _known_order(self, order_id: str) -> OrderState:
        order = await self._order(order_id)
        assert order is not None, order_id
        return order

    def _event(self, order: OrderState, kind: str, **extra: Any) -> None:
        self.dirty.add(order.id)
        self.instrument.seq += 1
        self.events.append(
            {
                "order_id": order.id,
                "instrument": self.instrument.symbol,
                "seq": self.instrument.seq,
                "kind": kind,
                "quantity": extra.get("quantity"),
                "price_fen": extra.get("price_fen"),
                "trade_id": extra.get("trade_id"),
                "reason": extra.get("reason"),
                "created_at": self.now,
            }
        )

    async def _place(self, command: PlaceOrder) -> Placed:
        caller, data = command.caller, command.data
        key = (caller.party_id, data.client_order_id)
        existing = self.client_ids.get(key)
        if existing is not None:
            return Placed(existing, True)
        order = OrderState(
            id=new_id("ord"),
            instrument=self.instrument.symbol,
            party_id=caller.party_id,
            client_order_id=data.client_order_id,
            side=data.side,
            type=data.type,
            price_fen=parse_money(data.price) if data.price is not None else None,
            quantity=data.quantity,
            remaining_quantity=data.quantity,
            status="open",
            time_in_force=data.time_in_force,
            expires_at=data.expires_at,
            stp=data.stp,
            batch_id=data.batch_id,
            created_at=self.now,
            updated_at=self.now,
        )
        self.new_orders.append(order)
        self.orders[order.id] = order
        self.client_ids[key] = order
        self._event(order, "new", quantity=order.quantity, price_fen=order.price_fen)
        reason = precheck(
            order, self.instrument, rules_of(self.instrument), self.party_status[caller.party_id]
        )
        budget = None
        if reason is None and order.side == "buy":
            reason, budget = self._reserve_cash(order)
        elif reason is None:
            reason = await self._escrow_units(order)
        if reason is not None:
            await self._finish(order, "rejected", reason=reason)
            return Placed(order, False, [])
        await self._engine(
            NewOrder(
                order_id=order.id,
                party_id=order.party_id,
                side=Side(order.side),
                quantity=order.quantity,
                price=order.price_fen,
                order_type=OrderType(order.type),
                time_in_force=TimeInForce(order.time_in_force),
                stp=Stp(order.stp),
                max_notional_fen=budget,
            )
        )
        return Placed(order, False, self.fills.setdefault(order.id, []))

    def _reserve_cash(self, order: OrderState) -> tuple[str | None, int | None]:
        available = self.cash_view[order.party_id]
        bps = self.instrument.buyer_fee_bps
        if order.type == "market":
            amount, budget = available, available * BPS // (BPS + bps)
            if budget <= 0:
                return "insufficient_funds", None
        else:
            assert order.price_fen is not None
            notional = order.price_fen * order.quantity
            amount, budget = notional + fee(notional, bps), None
        if amount > available:
            return "insufficient_funds", None
        self.cash_view[order.party_id] = available - amount
        order.reserved_cash_fen = amount
        self.cash_ops.append(CashOp("reserve", order.party_id, amount, order.id))
        return None, budget

    async def _escrow_units(self, order: OrderState) -> str | None:
        holdings = self.units_view[order.party_id]
        today = self.now.date()
        usable = [
            h
            for h in holdings
            if eligible(h, self.instrument, self.product_type, today)
            and (order.batch_id is None or h["batch_id"] == order.batch_id)
        ]
        if order.batch_id is not None and not usable:
            return "batch_not_eligible"
        if sum(h["available"] for h in usable) < order.quantity:
            return "insufficient_units"
        remaining, allocation = order.quantity, []
        for holding in usable:
            take = min(remaining, holding["available"])
            if take:
                holding["available"] -= take
                allocation.append([holding["batch_id"], take])
                self.unit_ops.append(
                    UnitOp(
                        Owner(holding["batch_id"], order.party_id, "available"),
                        Owner(holding["batch_id"], order.party_id, "escrowed", hold_ref=order.id),
                        take,
                        "order_escrow",
                        order.id,
                    )
                )
                remaining -= take
        self.escrow[order.id] = allocation
        order.escrowed_units = order.quantity
        return None

    async def _engine(self, command: NewOrder | CancelOrder | ExpireOrder) -> list[Event]:
        self.commands.append(command_json(command))
        events = self.book.process(command)
        for event in events:
            await self._on(event)
        return events

    async def _on(self, event: Event) -> None:
        if isinstance(event, Trade):
            await self._fill(event)
            return
        order = await self._known_order(event.order_id)
        if isinstance(event, Accepted):
            order.engine_seq = event.seq
        elif isinstance(event, Rested):
            order.remaining_quantity = event.remaining
            order.status = "partially_filled" if order.filled_quantity else "open"
            order.updated_at = self.now
        elif isinstance(event, Cancelled):
            status = "expired" if event.reason == CancelReason.EXPIRED else "cancelled"
            await self._finish(order, status, reason=str(event.reason))
        elif isinstance(event, Rejected):
            await self._finish(order, "rejected", reason=str(event.reason))

    async def _finish(self, order: OrderState, status: str, *, reason: str) -> None:
        """The order ends: release exactly what it still holds."""
        order.status = status
        order.remaining_quantity = 0
        order.updated_at = self.now
        if status == "rejected" or reason in EXPLAINED_CANCELS:
            order.reject_reason = reason
        self._event(order, status, reason=reason)
        await self._release(order)

    async def _release(self, order: OrderState) -> None:
        if order.reserved_cash_fen:
            self.cash_ops.append(
                CashOp("release", order.party_id, order.reserved_cash_fen, order.id)
            )
            if order.party_id in self.cash_view:
                self.cash_view[order.party_id] += order.reserved_cash_fen
            order.reserved_cash_fen = 0
        if order.escrowed_units:
            for batch_id, quantity in await self._allocation(order):
                if quantity:
                    self.unit_ops.append(
                        UnitOp(
                            Owner(batch_id, order.party_id, "escrowed", hold_ref=order.id),
                            Owner(batch_id, order.party_id, "available"),
                            quantity,
                            "order_release",
                            order.id,
                        )
                    )
            self.escrow[order.id] = []
            order.escrowed_units = 0

    async def _allocation(self, order: OrderState) -> list[list[Any]]:
        if order.id not in self.escrow:
            await self._load(order.id)
        return self.escrow[order.id]

    async def _fill(self, event: Trade) -> None:
        maker = await self._known_order(event.maker_order_id)
        taker = await self._known_order(event.taker_order_id)
        buy, sell = (taker, maker) if event.aggressor_side is Side.BUY else (maker, taker)
        trade_id = new_id("trd")
        notional = event.price * event.quantity
        buyer_fee = fee(notional, self.instrument.buyer_fee_bps)
        seller_fee = fee(notional, self.instrument.seller_fee_bps)
        pending = self.product_type.transfer_requires_approval
        deliveries: list[UnitOp] = []
        left = event.quantity
        for part in await self._allocation(sell):
            take = min(left, part[1])
            if not take:
                continue
            target = (
                Owner(part[0], sell.party_id, "escrowed", hold_ref=trade_id)
                if pending
                else Owner(part[0], buy.party_id, "available")
            )
            op = UnitOp(
                Owner(part[0], sell.party_id, "escrowed", hold_ref=sell.id),
                target,
                take,
                "trade_pending" if pending else "trade",
                trade_id,
            )
            deliveries.append(op)
            self.unit_ops.append(op)
            part[1] -= take
            left -= take
            if not left:
                break
        assert left == 0, "escrow does not cover the fill"
        cash = None
        if not pending:
            cash = CashOp(
                "settle",
                buy.party_id,
                notional,
                trade_id,
                settle={
                    "buyer_id": buy.party_id,
                    "seller_id": sell.party_id,
                    "fee_party_id": self.platform_id,
                    "fee_instrument": self.instrument.symbol,
                    "notional": notional,
                    "buyer_fee": buyer_fee,
                    "seller_fee": seller_fee,
                },
            )
            self.cash_ops.append(cash)
        buy.reserved_cash_fen -= notional + buyer_fee
        sell.escrowed_units -= event.quantity
        self.instrument.last_price_fen = event.price
        for order, remaining in ((maker, event.maker_remaining), (taker, event.taker_remaining)):
            order.filled_quantity += event.quantity
            order.filled_notional_fen += notional
            order.remaining_quantity = remaining
            order.updated_at = self.now
            self._event(
                order, "fill", quantity=event.quantity, price_fen=event.price, trade_id=trade_id
            )
            self.fills.setdefault(order.id, []).append(
                {"trade_id": trade_id, "price_fen": event.price, "quantity": event.quantity}
            )
            if remaining == 0:
                order.status = "filled"
                self._event(order, "filled")
                await self._release(order)
            else:
                order.status = "partially_filled"
        self.trades.append(
            PendingTrade(
                row={
                    "id": trade_id,
                    "instrument": self.instrument.symbol,
                    "seq": event.seq,
                    "kind": "continuous",
                    "price_fen": event.price,
                    "quantity": event.quantity,
                    "buyer_id": buy.party_id,
                    "seller_id": sell.party_id,
                    "buy_order_id": buy.id,
                    "sell_order_id": sell.id,
                    "maker_order_id": maker.id,
                    "aggressor_side": event.aggressor_side.value,
                    "executed_at": self.now,
                },
                settlement={
                    "id": new_id("stl"),
                    "trade_id": trade_id,
                    "status": "pending_approval" if pending else "settled",
                    "cash_amount_fen": notional,
                    "buyer_fee_fen": buyer_fee,
                    "seller_fee_fen": seller_fee,
                    "created_at": self.now,
                },
                deliveries=deliveries,
                cash=cash,
                product_type=self.instrument.product_type,
            )
        )

    async def _cancel(self, command: CancelRequest) -> OrderState:
        order = await self._order(command.order_id)
        if order is None or order.party_id != command.caller.party_id:
            raise NotFound("order not found")
        if order.instrument != self.instrument.symbol:
            raise NotFound("order not found")
        if order.status not in OPEN_STATUSES:
            raise OrderNotOpen(f"order is {order.status}")
        events = await self._engine(CancelOrder(order.id))
        if not any(isinstance(e, Cancelled) for e in events):
            raise OrderNotOpen("order is not resting on the book")
        return order

    # apply ----------------------------------------------------------------------------------

    async def _apply(self) -> None:
        # Lock order everywhere: holdings, then the traders' cash accounts, then the fee
        # sub-account, then the log (at commit). The fee sub-account is this instrument's own
        # (no other instrument's batch waits for it); the statement that posts the batch's
        # entries credits it (and locks it) last.
        await self._apply_units()
        for op in self.cash_ops:
            op.entry_id = new_id("jrn")
        trades, settlements = await self._write_trades()
        first_command_seq = self.instrument.command_seq + 1
        self.instrument.command_seq += len(self.commands)
        self.instrument.next_order_seq = self.book.next_order_seq
        self.instrument.trade_seq = self.book.next_trade_seq - 1
        if self.commands or self.events:
            new = {o.id for o in self.new_orders}
            await self.db.write(
                BatchWrites(
                    instrument=self.instrument,
                    now=self.now,
                    new_orders=self.new_orders,
                    changed_orders=[self.orders[i] for i in sorted(self.dirty) if i not in new],
                    events=self.events,
                    first_command_seq=first_command_seq,
                    commands=self.commands,
                    trades=trades,
                    settlements=settlements,
                )
            )
        await self._apply_cash()

    async def _apply_cash(self) -> None:
        if not self.cash_ops:
            return
        ledger = CashLedger(self.session)
        parties = {op.party_id for op in self.cash_ops}
        for op in self.cash_ops:
            if op.settle:
                parties.add(op.settle["seller_id"])
        await ledger.lock(*parties)  # not the fee sub-account: see `_apply`
        entries: list[tuple[str, str, list[Leg]]] = []
        for op in self.cash_ops:
            if op.kind == "reserve":
                entries.append(("order_reserve", op.ref_id, reserve_legs(op.party_id, op.amount)))
            elif op.kind == "release":
                entries.append(("order_release", op.ref_id, release_legs(op.party_id, op.amount)))
            else:
                assert op.settle is not None
                entries.append(("trade_settlement", op.ref_id, settlement_legs(**op.settle)))
        await ledger.post_many(entries, [op.entry_id or "" for op in self.cash_ops])

    async def _apply_units(self) -> None:
        moved = await UnitLedger(self.session).move_many(
            [
                UnitMove(op.source, op.target, op.quantity, op.reason, op.ref_id)
                for op in self.unit_ops
            ]
        )
        for op, ranges in zip(self.unit_ops, moved, strict=True):
            op.moved = ranges

    async def _write_trades(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Sign the trades' certificates; the rows are written with the rest of the batch."""
        if not self.trades:
            return [], []
        rows: list[dict[str, Any]] = []
        settlements: list[dict[str, Any]] = []
        approvals: list[Approval] = []
        for trade in self.trades:
            trade.settlement["ranges"] = [
                {"batch_id": op.source.batch_id, "start": r.start, "end": r.end}
                for op in trade.deliveries
                for r in op.moved
            ]
            trade.settlement["journal_entry_id"] = trade.cash.entry_id if trade.cash else None
        certificates = await CertificateService(self.session).issue_many(
            [
                ("trade", t.row["id"], self.platform_id, trade_facts(t.row, t.settlement))
                for t in self.trades
            ]
        )
        for trade, certificate in zip(self.trades, certificates, strict=True):
            trade.row["certificate_id"] = certificate.id
            rows.append(trade.row)
            settlements.append(trade.settlement)
            if trade.settlement["status"] == "pending_approval":
                approvals.append(
                    Approval(
                        id=new_id("apv"),
                        kind="trade",
                        subject_id=trade.row["id"],
                        product_type=trade.product_type,
                        quantity=trade.row["quantity"],
                        from_party_id=trade.row["seller_id"],
                        to_party_id=trade.row["buyer_id"],
                        created_at=self.now,
                    )
                )
        if approvals:
            self.session.add_all(approvals)
        return rows, settlements
