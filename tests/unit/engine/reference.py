"""A deliberately naive order book: one flat list, scanned linearly for every decision.

It shares the engine's command and event types but none of its logic, so the model tests can
compare the two event for event. FOK is defined the obvious way here: run the order on a copy
and keep the result only if it filled completely.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from market.trading.engine import (
    Accepted,
    Cancelled,
    CancelOrder,
    CancelReason,
    Event,
    ExpireOrder,
    InstrumentRules,
    NewOrder,
    OrderType,
    Rejected,
    RejectReason,
    Rested,
    RestingOrder,
    Side,
    Stp,
    TimeInForce,
    Trade,
)

_STP = CancelReason("self_trade_prevented")
_NO_CASH = CancelReason("insufficient_funds")


@dataclass
class _Resting:
    order_id: str
    party_id: str
    side: Side
    price: int
    remaining: int
    seq: int
    tif: TimeInForce
    stp: Stp


class ReferenceBook:
    """Same observable behaviour as `OrderBook`, written for obviousness, not speed."""

    def __init__(self, rules: InstrumentRules) -> None:
        self.rules = rules
        self.resting: list[_Resting] = []
        self.next_order_seq = 1
        self.next_trade_seq = 1

    def submit(self, cmd: NewOrder) -> list[Event]:
        rules = self.rules
        if cmd.order_type is OrderType.LIMIT:
            assert cmd.price is not None
            if cmd.price % rules.tick_size_fen != 0:
                return [Rejected(cmd.order_id, RejectReason("price_not_on_tick"))]
        if cmd.quantity % rules.lot_size != 0:
            return [Rejected(cmd.order_id, RejectReason("quantity_not_on_lot"))]
        if cmd.order_type is OrderType.LIMIT:
            assert cmd.price is not None
            too_low = rules.band_low_fen is not None and cmd.price < rules.band_low_fen
            too_high = rules.band_high_fen is not None and cmd.price > rules.band_high_fen
            if too_low or too_high:
                return [Rejected(cmd.order_id, RejectReason("price_out_of_band"))]
        if cmd.time_in_force is TimeInForce.FOK:
            trial = copy.deepcopy(self)
            events = trial._execute(cmd)
            if not (isinstance(events[-1], Trade) and events[-1].taker_remaining == 0):
                return [Rejected(cmd.order_id, RejectReason("fok_not_fillable"))]
            self.__dict__.update(trial.__dict__)
            return events
        return self._execute(cmd)

    def _acceptable(self, cmd: NewOrder, maker: _Resting) -> bool:
        if maker.side is cmd.side:
            return False
        if cmd.order_type is OrderType.MARKET:
            low, high = self.rules.band_low_fen, self.rules.band_high_fen
            if cmd.side is Side.BUY:
                return high is None or maker.price <= high
            return low is None or maker.price >= low
        assert cmd.price is not None
        return maker.price <= cmd.price if cmd.side is Side.BUY else maker.price >= cmd.price

    def _execute(self, cmd: NewOrder) -> list[Event]:
        seq = self.next_order_seq
        self.next_order_seq += 1
        events: list[Event] = [Accepted(cmd.order_id, seq)]
        remaining = cmd.quantity
        budget = cmd.max_notional_fen
        lot = self.rules.lot_size
        while remaining > 0:
            candidates = [o for o in self.resting if self._acceptable(cmd, o)]
            if not candidates:
                break
            # Best price for the taker first, then earliest sequence.
            sign = 1 if cmd.side is Side.BUY else -1
            maker = min(candidates, key=lambda o: (sign * o.price, o.seq))
            if maker.party_id == cmd.party_id:
                if cmd.stp is Stp.CANCEL_NEWEST:
                    events.append(Cancelled(cmd.order_id, remaining, _STP))
                    return events
                self.resting.remove(maker)
                events.append(Cancelled(maker.order_id, maker.remaining, _STP))
                if cmd.stp is Stp.CANCEL_BOTH:
                    events.append(Cancelled(cmd.order_id, remaining, _STP))
                    return events
                continue
            quantity = min(remaining, maker.remaining)
            out_of_cash = False
            if budget is not None:
                affordable = budget // (maker.price * lot) * lot
                if affordable < quantity:
                    out_of_cash = True
                    quantity = affordable
                budget -= quantity * maker.price
            if quantity > 0:
                maker.remaining -= quantity
                remaining -= quantity
                events.append(
                    Trade(
                        self.next_trade_seq,
                        maker.order_id,
                        cmd.order_id,
                        maker.party_id,
                        cmd.party_id,
                        maker.price,
                        quantity,
                        cmd.side,
                        maker.remaining,
                        remaining,
                    )
                )
                self.next_trade_seq += 1
                if maker.remaining == 0:
                    self.resting.remove(maker)
            if out_of_cash:
                events.append(Cancelled(cmd.order_id, remaining, _NO_CASH))
                return events
        if remaining == 0:
            return events
        is_ioc = cmd.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        if cmd.order_type is OrderType.MARKET or is_ioc:
            events.append(Cancelled(cmd.order_id, remaining, CancelReason("ioc_remainder")))
            return events
        assert cmd.price is not None
        self.resting.append(
            _Resting(
                cmd.order_id,
                cmd.party_id,
                cmd.side,
                cmd.price,
                remaining,
                seq,
                cmd.time_in_force,
                cmd.stp,
            )
        )
        events.append(Rested(cmd.order_id, remaining))
        return events

    def remove(self, cmd: CancelOrder | ExpireOrder) -> list[Event]:
        reason = CancelReason("user" if isinstance(cmd, CancelOrder) else "expired")
        for order in self.resting:
            if order.order_id == cmd.order_id:
                self.resting.remove(order)
                return [Cancelled(order.order_id, order.remaining, reason)]
        return [Rejected(cmd.order_id, RejectReason("order_not_open"))]

    def snapshot(self) -> list[RestingOrder]:
        return [
            RestingOrder(o.order_id, o.party_id, o.side, o.price, o.remaining, o.seq, o.tif, o.stp)
            for o in sorted(self.resting, key=lambda o: o.seq)
        ]
