"""One batch of commands for one instrument, in one transaction.

Two phases. *Compute*: under the instrument's advisory lock, with unlocked reads of cash and
units (plus the batch's own running deltas), each command is checked, its reservation planned
(`risk.py`), and the engine matches it; fills become planned settlements (`settlement.py`).
*Apply*: every holding and cash account the batch touches is locked in sorted sweeps (holdings
by batch and party, then cash by party — the order every other transaction uses), the planned
unit and ledger moves run, and orders, trades and the command log are written (an order's
trail is derived from these: its row says where in the command log it entered and ended);
certificates join the log at commit (its lock is always taken last). A stale read shows up as
a refused move or a CHECK violation: the batch then fails as a whole and the sequencer retries
its commands one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import CashLedger, Hold
from market.certification.service import CertificateService
from market.kit.errors import DomainError, NotFound
from market.kit.ids import new_id
from market.kit.time import utcnow
from market.registry.product_service import ProductService
from market.registry.units import SerialRange, UnitLedger, UnitMove
from market.trading.batch_commands import BatchCommand, CancelRequest, Placed, PlaceOrder
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
from market.trading.models import OPEN_STATUSES, Instrument, OrderState
from market.trading.repository import TradingRepository
from market.trading.risk import RiskView, Shortfall
from market.trading.rows import (
    DeliverableHolding,
    OrderFill,
    SettlementRow,
    TradeRow,
)
from market.trading.rules import eligible, precheck
from market.trading.settlement import (
    PlannedTrade,
    TradeCash,
    approvals_for,
    certify,
    delivered_ranges,
    fill_trade,
    plan_trade,
)

# Cancellations the client did not ask for: the order says why (API.md reasons).
EXPLAINED_CANCELS = frozenset({"self_trade_prevented", "insufficient_funds"})


class OrderBatch:
    def __init__(self, session: AsyncSession, books: BookRegistry) -> None:
        self.session = session
        self.books = books
        self.repo = TradingRepository(session)
        self.risk = RiskView()
        self.orders: dict[str, OrderState] = {}
        self.client_ids: dict[tuple[str, str], OrderState] = {}
        self.party_status: dict[str, str] = {}
        self.new_orders: list[OrderState] = []
        self.dirty: set[str] = set()
        self.commands: list[dict[str, Any]] = []
        self.fills: dict[str, list[OrderFill]] = {}
        self.unit_moves: list[UnitMove] = []
        # Buy orders' holds (no journal entries) and the trades' settlements (one entry each).
        self.cash_holds: list[Hold] = []
        self.trade_cash: list[TradeCash] = []
        self.trades: list[PlannedTrade] = []

    async def run(self, symbol: str, commands: list[BatchCommand]) -> list[object]:
        """One result per command: a `Placed`, a cancelled order, None (`ExpireDue`) or the
        `DomainError` that refused it. Raises when the batch fails as a whole."""
        self.db, instrument = await BatchRepository.lock(self.session, symbol)
        if instrument is None:
            return [NotFound(f"instrument {symbol} not found") for _ in commands]
        await self._start(instrument)
        for order_id in await self._prefetch(commands):  # the GTD orders due expire first
            await self._engine(ExpireOrder(order_id))
        results = [await self._result(command) for command in commands]
        await self._apply()
        return results

    async def _start(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.rules = rules_of(instrument)
        # The last price lives here until apply: writing an ORM attribute costs microseconds,
        # and a batch has thousands of fills.
        self.last_price_fen = instrument.last_price_fen
        self.book: OrderBook = await self.books.synced(self.repo, instrument)
        self.now: datetime = utcnow()
        self.today = self.now.date()
        # Both read once per process (`db/remembered.py`): the catalog and the platform party
        # never change while the server runs.
        self.product_type = await ProductService(self.session).product_type(instrument.product_type)
        self.platform_id = await CertificateService(self.session).platform_party_id()

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
            symbol=self.symbol,
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
        self.risk.cash.update({p: found.cash.get(p, 0) for p in submitters})
        self.risk.units.update(found.units)
        self.orders.update(found.orders)
        self.risk.escrow.update(found.escrow)
        return found.due

    async def _result(self, command: BatchCommand) -> object:
        try:
            if isinstance(command, PlaceOrder):
                return await self._place(command)
            if isinstance(command, CancelRequest):
                return await self._cancel(command)
            return None  # ExpireDue: every batch expires what is due
        except DomainError as error:
            return error

    # compute --------------------------------------------------------------------------------

    async def _place(self, command: PlaceOrder) -> Placed:
        key = (command.caller.party_id, command.data.client_order_id)
        existing = self.client_ids.get(key)
        if existing is not None:
            return Placed(existing, True)
        order = command.new_order(self.symbol, self.now)
        self.new_orders.append(order)
        self.orders[order.id] = order
        self.client_ids[key] = order
        status = self.party_status[order.party_id]
        reason = precheck(order, self.instrument, self.rules, status)
        budget = None
        if reason is None:
            reason, budget = self._hold(order)
        if reason is not None:
            await self._finish(order, "rejected", reason=reason)
            return Placed(order, False, [])
        order.entered_seq = self._command_seq() + 1  # the submit below
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

    def _hold(self, order: OrderState) -> tuple[str | None, int | None]:
        """Reserve a buy's cash or escrow a sell's units: the rejection reason, or None and a
        market buy's budget."""
        if order.side == "buy":
            reservation = self.risk.reserve_cash(order, self.instrument.buyer_fee_bps)
            if reservation is None:
                return "insufficient_funds", None
            self.cash_holds.append(reservation.hold())
            return None, reservation.budget
        escrow = self.risk.escrow_units(order, self._deliverable)
        if isinstance(escrow, Shortfall):
            return escrow.reason, None
        self.unit_moves.extend(escrow)
        return None, None

    def _deliverable(self, holding: DeliverableHolding) -> bool:
        return eligible(holding, self.instrument, self.product_type, self.today)

    async def _cancel(self, command: CancelRequest) -> OrderState:
        order = await self._order(command.order_id)
        if order is None or order.party_id != command.caller.party_id:
            raise NotFound("order not found")
        if order.instrument != self.symbol:
            raise NotFound("order not found")
        if order.status not in OPEN_STATUSES:
            raise OrderNotOpen(f"order is {order.status}")
        events = await self._engine(CancelOrder(order.id))
        if not any(isinstance(e, Cancelled) for e in events):
            raise OrderNotOpen("order is not resting on the book")
        return order

    def _command_seq(self) -> int:
        """The seq of the last command logged: this batch's are numbered on from the
        instrument's (`_apply` advances its counter)."""
        return self.instrument.command_seq + len(self.commands)

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

    async def _fill(self, event: Trade) -> None:
        maker = await self._known_order(event.maker_order_id)
        taker = await self._known_order(event.taker_order_id)
        buy, sell = (taker, maker) if event.aggressor_side is Side.BUY else (maker, taker)
        await self._with_escrow(sell)
        trade = fill_trade(event, buy, sell, self.symbol, self.now)
        planned = plan_trade(
            trade,
            self.risk.deliver(sell, event.quantity),
            hold_ref=sell.id,
            instrument=self.instrument,
            pending=self.product_type.transfer_requires_approval,
            fee_party_id=self.platform_id,
        )
        self.trades.append(planned)
        self.unit_moves.extend(planned.deliveries)
        if planned.cash is not None:
            self.trade_cash.append(planned.cash)
        buy.reserved_cash_fen -= planned.buyer_cost
        self.last_price_fen = event.price
        await self._filled(maker, event.maker_remaining, trade)
        await self._filled(taker, event.taker_remaining, trade)

    async def _filled(self, order: OrderState, remaining: int, trade: TradeRow) -> None:
        order.filled_quantity += trade.quantity
        order.filled_notional_fen += trade.price_fen * trade.quantity
        order.remaining_quantity = remaining
        order.updated_at = self.now
        self.dirty.add(order.id)
        self.fills.setdefault(order.id, []).append(
            OrderFill(trade.id, trade.price_fen, trade.quantity)
        )
        if remaining == 0:
            order.status = "filled"
            order.ended_seq = self._command_seq()
            await self._release(order)
        else:
            order.status = "partially_filled"

    async def _finish(self, order: OrderState, status: str, *, reason: str) -> None:
        """The order ends, during the last command logged (rejected before the book: after
        it), and releases exactly what it still holds."""
        order.status = status
        order.remaining_quantity = 0
        order.updated_at = self.now
        order.ended_seq = self._command_seq()
        if status == "rejected" or reason in EXPLAINED_CANCELS:
            order.reject_reason = reason
        self.dirty.add(order.id)
        await self._release(order)

    async def _release(self, order: OrderState) -> None:
        if order.escrowed_units:
            await self._with_escrow(order)
        cash, units = self.risk.release(order)
        if cash is not None:
            self.cash_holds.append(cash)
        self.unit_moves.extend(units)

    # orders the prefetch did not bring --------------------------------------------------------

    async def _order(self, order_id: str) -> OrderState | None:
        if order_id not in self.orders:
            await self._load(order_id)
        return self.orders.get(order_id)

    async def _known_order(self, order_id: str) -> OrderState:
        order = await self._order(order_id)
        assert order is not None, order_id
        return order

    async def _with_escrow(self, order: OrderState) -> None:
        if order.id not in self.risk.escrow:
            await self._load(order.id)

    async def _load(self, order_id: str) -> None:
        """An order the prefetch did not bring, with what it holds in escrow."""
        found = await self.db.orders([order_id])
        for known_id, order in found.orders.items():
            self.orders.setdefault(known_id, order)
        for ref, parts in found.escrow.items():
            self.risk.escrow.setdefault(ref, parts)
        self.risk.escrow.setdefault(order_id, [])

    # apply ----------------------------------------------------------------------------------

    async def _apply(self) -> None:
        # Lock order everywhere: holdings, then the traders' cash accounts, then the fee
        # sub-account, then the log (at commit). The fee sub-account is this instrument's own
        # (no other instrument's batch waits for it); the statement that posts the batch's
        # entries credits it (and locks it) last.
        moved = await UnitLedger(self.session).move_many(self.unit_moves)
        entry_ids = [new_id("jrn") for _ in self.trade_cash]
        trades, settlements = await self._settle(moved, entry_ids)
        self.instrument.seq += len(self.commands)
        self.instrument.last_price_fen = self.last_price_fen
        first_command_seq = self.instrument.command_seq + 1
        self.instrument.command_seq += len(self.commands)
        self.instrument.next_order_seq = self.book.next_order_seq
        self.instrument.trade_seq = self.book.next_trade_seq - 1
        if self.commands or self.new_orders:
            new = {o.id for o in self.new_orders}
            await self.db.write(
                BatchWrites(
                    instrument=self.instrument,
                    now=self.now,
                    new_orders=self.new_orders,
                    changed_orders=[self.orders[i] for i in sorted(self.dirty) if i not in new],
                    first_command_seq=first_command_seq,
                    commands=self.commands,
                    trades=trades,
                    settlements=settlements,
                )
            )
        if self.cash_holds or self.trade_cash:
            ledger = CashLedger(self.session)
            parties = {h.party_id for h in self.cash_holds}
            parties.update(p for cash in self.trade_cash for p in cash.parties)
            await ledger.lock(*parties)
            await ledger.post_many(
                [cash.journal_entry() for cash in self.trade_cash], entry_ids, self.cash_holds
            )

    async def _settle(
        self, moved: list[list[SerialRange]], entry_ids: list[str]
    ) -> tuple[list[TradeRow], list[SettlementRow]]:
        """The trades' settlement rows, certificates and approvals; the rows are written with
        the rest of the batch."""
        if not self.trades:
            return [], []
        ranges = delivered_ranges(self.unit_moves, moved)
        entries = {
            cash.trade_id: entry_id
            for cash, entry_id in zip(self.trade_cash, entry_ids, strict=True)
        }
        settlements = [
            t.settlement(ranges.get(t.trade.id, []), entries.get(t.trade.id), self.now)
            for t in self.trades
        ]
        trades = await certify(
            self.session, self.platform_id, [t.trade for t in self.trades], settlements
        )
        self.session.add_all(
            approvals_for(trades, settlements, self.instrument.product_type, self.now)
        )
        return trades, settlements
