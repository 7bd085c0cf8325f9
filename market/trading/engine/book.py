"""The price-time priority order book of one instrument: commands in, events out.

Pure and deterministic: no clock, no I/O, no balances. Time priority is the sequence number
the book assigns to each accepted order. One writer per book (the service serialises commands
per instrument).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

from market.trading.engine.commands import (
    CancelOrder,
    Command,
    ExpireOrder,
    NewOrder,
    OrderType,
    RestoreOrder,
    Side,
    TimeInForce,
)
from market.trading.engine.events import (
    Accepted,
    Cancelled,
    CancelReason,
    Event,
    Rejected,
    RejectReason,
    Rested,
)
from market.trading.engine.invariants import check_book
from market.trading.engine.levels import Depth, DepthLevel, RestingOrder, _Level, _Order, snapshot
from market.trading.engine.matching import fillable, match
from market.trading.engine.rules import InstrumentRules

# Enum members bound once: attribute lookups on enum classes are slow on the hot path.
_BUY = Side.BUY
_LIMIT = OrderType.LIMIT
_FOK = TimeInForce.FOK
_IOC = TimeInForce.IOC
_IOC_REMAINDER = CancelReason.IOC_REMAINDER
# NamedTuple constructors are Python functions; building the tuple directly is ~2x faster.
_new = tuple.__new__
# A limit key below every real key: an unbounded market buy may take any ask.
_NO_LIMIT = -(1 << 80)


class OrderBook:
    """Continuous double auction for one instrument.

    `next_order_seq` / `next_trade_seq` let the service continue its sequences after a
    restart; `next_trade_seq` is a public attribute the service may advance when it prints
    block or auction trades on the same tape.
    """

    __slots__ = (
        "_ask_keys",
        "_asks",
        "_band_high",
        "_band_low",
        "_bid_keys",
        "_bids",
        "_lot",
        "_orders",
        "_rules",
        "_tick",
        "next_order_seq",
        "next_trade_seq",
    )

    def __init__(
        self, rules: InstrumentRules, *, next_order_seq: int = 1, next_trade_seq: int = 1
    ) -> None:
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []
        self._ask_keys: list[int] = []
        self._orders: dict[str, _Order] = {}
        self.next_order_seq = next_order_seq
        self.next_trade_seq = next_trade_seq
        self.set_rules(rules)

    @property
    def rules(self) -> InstrumentRules:
        return self._rules

    def set_rules(self, rules: InstrumentRules) -> None:
        """Apply new tick/lot/band (e.g. a new reference price). Resting orders are kept."""
        self._rules = rules
        self._tick = rules.tick_size_fen
        self._lot = rules.lot_size
        self._band_low = rules.band_low_fen
        self._band_high = rules.band_high_fen

    # ---------------------------------------------------------------- commands

    def process(self, command: Command) -> list[Event]:
        """Dispatch any command; `RestoreOrder` returns `[Rested]`."""
        if isinstance(command, NewOrder):
            return self.submit(command)
        if isinstance(command, CancelOrder):
            return self.cancel(command)
        if isinstance(command, ExpireOrder):
            return self.expire(command)
        self.restore(command)
        return [Rested(command.order_id, command.quantity)]

    def submit(self, cmd: NewOrder) -> list[Event]:
        """Validate, match and possibly rest a new order.

        Malformed input (non-positive quantity or price, a limit without price, a market order
        with a price, a budget on a sell, a duplicate open order id) raises `ValueError`: the
        request schema must refuse it first. Checks that produce `Rejected`, in this order:
        tick, lot, band, FOK feasibility.

        FOK feasibility runs the matching rules without effects, STP included: with
        `cancel_newest`/`cancel_both` reaching one's own resting order ends the fill, so the
        FOK is rejected unless it is complete before that; with `cancel_oldest` own orders are
        skipped (and, if the FOK is accepted, cancelled as it passes them). A rejected FOK has
        no effect at all.
        """
        order_id = cmd.order_id
        qty = cmd.quantity
        price = cmd.price
        is_buy = cmd.side is _BUY
        if qty <= 0:
            raise ValueError("quantity must be positive")
        if cmd.order_type is _LIMIT:
            if price is None or price <= 0:
                raise ValueError("a limit order needs a positive price")
            if price % self._tick:
                return [Rejected(order_id, RejectReason.PRICE_NOT_ON_TICK)]
            if qty % self._lot:
                return [Rejected(order_id, RejectReason.QUANTITY_NOT_ON_LOT)]
            low = self._band_low
            high = self._band_high
            if (low is not None and price < low) or (high is not None and price > high):
                return [Rejected(order_id, RejectReason.PRICE_OUT_OF_BAND)]
            limit_key = -price if is_buy else price
            is_market = False
        else:
            if price is not None:
                raise ValueError("a market order has no price")
            if qty % self._lot:
                return [Rejected(order_id, RejectReason.QUANTITY_NOT_ON_LOT)]
            # Market orders are limit orders at the band edge that never rest.
            if is_buy:
                limit_key = _NO_LIMIT if self._band_high is None else -self._band_high
            else:
                limit_key = 1 if self._band_low is None else self._band_low
            is_market = True
        budget = cmd.max_notional_fen
        if budget is not None and (not is_buy or budget < 0):
            raise ValueError("max_notional_fen is a non-negative budget for buy orders")
        index = self._orders
        if order_id in index:
            raise ValueError(f"order {order_id!r} is already open")
        party_id = cmd.party_id
        tif = cmd.time_in_force
        if is_buy:
            keys, levels = self._ask_keys, self._asks
        else:
            keys, levels = self._bid_keys, self._bids
        if tif is _FOK and not fillable(
            keys, levels, self._lot, party_id, qty, limit_key, cmd.stp, budget
        ):
            return [_new(Rejected, (order_id, RejectReason.FOK_NOT_FILLABLE))]

        seq = self.next_order_seq
        self.next_order_seq = seq + 1
        events: list[Event] = [_new(Accepted, (order_id, seq))]
        remaining = qty
        if keys and keys[-1] >= limit_key:
            remaining, stop, self.next_trade_seq = match(
                events,
                keys,
                levels,
                index,
                self._lot,
                self.next_trade_seq,
                order_id,
                party_id,
                cmd.side,
                qty,
                limit_key,
                cmd.stp,
                budget,
            )
            if not remaining:
                return events
            if stop is not None:
                events.append(_new(Cancelled, (order_id, remaining, stop)))
                return events
        if is_market or tif is _IOC or tif is _FOK:
            events.append(_new(Cancelled, (order_id, remaining, _IOC_REMAINDER)))
            return events
        # Only a limit order gets here: its key is `-limit_key` and its price follows from it.
        order = _Order(
            order_id,
            party_id,
            cmd.side,
            -limit_key if is_buy else limit_key,
            remaining,
            seq,
            tif,
            cmd.stp,
        )
        self._rest(order, -limit_key)
        events.append(_new(Rested, (order_id, remaining)))
        return events

    def cancel(self, cmd: CancelOrder) -> list[Event]:
        """Cancel at the owner's request; an unknown or finished order gives `order_not_open`."""
        return self._remove(cmd.order_id, CancelReason.USER)

    def expire(self, cmd: ExpireOrder) -> list[Event]:
        """Expire a resting order (the service tracks GTD deadlines; the book has no clock)."""
        return self._remove(cmd.order_id, CancelReason.EXPIRED)

    def restore(self, cmd: RestoreOrder) -> None:
        """Place a resting order without matching, keeping its sequence number.

        Raises `ValueError` when the order is already open, would cross the book, or is out of
        sequence at its price level: all mean the replay is not the book that was saved.
        Tick, lot and band are not re-checked (the band may have moved since the order rested).
        """
        if cmd.quantity <= 0 or cmd.price <= 0:
            raise ValueError("restored orders need positive price and quantity")
        if cmd.order_id in self._orders:
            raise ValueError(f"order {cmd.order_id!r} is already open")
        is_buy = cmd.side is _BUY
        opposite = self.best_ask() if is_buy else self.best_bid()
        if opposite is not None and (cmd.price >= opposite if is_buy else cmd.price <= opposite):
            raise ValueError(f"restoring {cmd.order_id!r} would cross the book")
        key = cmd.price if is_buy else -cmd.price
        level = (self._bids if is_buy else self._asks).get(key)
        if level is not None and level.orders and level.orders[-1].seq >= cmd.seq:
            raise ValueError(f"restoring {cmd.order_id!r} out of sequence order")
        order = _Order(
            cmd.order_id,
            cmd.party_id,
            cmd.side,
            cmd.price,
            cmd.quantity,
            cmd.seq,
            cmd.time_in_force,
            cmd.stp,
        )
        self._rest(order, key)
        if cmd.seq >= self.next_order_seq:
            self.next_order_seq = cmd.seq + 1

    # ----------------------------------------------------------------- queries

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    def depth(self, n: int = 10) -> Depth:
        """Up to `n` aggregated levels per side, best first."""
        return Depth(
            self._side_depth(self._bids, self._bid_keys, n),
            self._side_depth(self._asks, self._ask_keys, n),
        )

    def order(self, order_id: str) -> RestingOrder | None:
        """The resting order with this id, or `None` if it is not open."""
        found = self._orders.get(order_id)
        return None if found is None else snapshot(found)

    def remaining(self, order_id: str) -> int:
        """Open quantity of an order; 0 when it is not on the book."""
        found = self._orders.get(order_id)
        return 0 if found is None else found.remaining

    def front(self, side: Side, quantity: int) -> list[str]:
        """Ids of the live resting orders on `side`, best first, until they hold `quantity`
        (the orders an incoming `quantity` on the other side would meet first)."""
        if side is _BUY:
            levels, keys = self._bids, self._bid_keys
        else:
            levels, keys = self._asks, self._ask_keys
        found: list[str] = []
        for key in reversed(keys):
            for order in levels[key].orders:
                if order.remaining and quantity > 0:
                    found.append(order.order_id)
                    quantity -= order.remaining
            if quantity <= 0:
                break
        return found

    def resting_orders(self) -> Iterator[RestingOrder]:
        """All resting orders in ascending `seq` (the order `restore` needs them in)."""
        for order in sorted(self._orders.values(), key=lambda o: o.seq):
            yield snapshot(order)

    def __len__(self) -> int:
        return len(self._orders)

    def check(self) -> None:
        """Raise `BookInvariantError` if the internal state is inconsistent."""
        check_book(self._bids, self._bid_keys, self._asks, self._ask_keys, self._orders)

    # ---------------------------------------------------------------- internals

    @staticmethod
    def _side_depth(levels: dict[int, _Level], keys: list[int], n: int) -> list[DepthLevel]:
        out = []
        for key in reversed(keys[-n:] if n > 0 else []):
            level = levels[key]
            out.append(DepthLevel(level.price, level.total, level.count))
        return out

    def _rest(self, order: _Order, key: int) -> None:
        if order.side is _BUY:
            levels, keys = self._bids, self._bid_keys
        else:
            levels, keys = self._asks, self._ask_keys
        level = levels.get(key)
        if level is None:
            level = levels[key] = _Level(order.price)
            # Most new levels are at or near the top of the book: append is the common case.
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.orders.append(order)
        level.total += order.remaining
        level.count += 1
        self._orders[order.order_id] = order

    def _remove(self, order_id: str, reason: CancelReason) -> list[Event]:
        order = self._orders.pop(order_id, None)
        if order is None:
            return [_new(Rejected, (order_id, RejectReason.ORDER_NOT_OPEN))]
        if order.side is _BUY:
            levels, keys, key = self._bids, self._bid_keys, order.price
        else:
            levels, keys, key = self._asks, self._ask_keys, -order.price
        level = levels[key]
        remaining = order.remaining
        order.remaining = 0  # dead: matching skips it (see `_Level`)
        level.total -= remaining
        level.count -= 1
        if not level.count:
            del levels[key]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        elif len(level.orders) > 2 * level.count + 16:
            level.compact()  # bounds dead entries; amortised O(1) per cancel
        return [_new(Cancelled, (order_id, remaining, reason))]
