"""Turn trading rows into response models."""

from __future__ import annotations

from market.kit.money import format_money
from market.trading.models import AnyOrder, Instrument, Settlement, Trade
from market.trading.rows import OrderFill
from market.trading.schemas import (
    FillOut,
    InstrumentOut,
    OrderOut,
    RangeOut,
    SettlementOut,
    TapeItem,
    TradeOut,
)


def money_or_none(fen: int | None) -> str | None:
    return None if fen is None else format_money(fen)


def instrument_out(instrument: Instrument) -> InstrumentOut:
    bps = instrument.price_band_bps
    return InstrumentOut(
        symbol=instrument.symbol,
        product_type=instrument.product_type,
        eligibility=instrument.eligibility,
        tick_size=format_money(instrument.tick_size_fen),
        lot_size=instrument.lot_size,
        reference_price=format_money(instrument.reference_price_fen),
        price_band_pct=f"{bps // 100}" if bps % 100 == 0 else f"{bps // 100}.{bps % 100:02d}",
        buyer_fee_bps=instrument.buyer_fee_bps,
        seller_fee_bps=instrument.seller_fee_bps,
        status=instrument.status,
        last_price=money_or_none(instrument.last_price_fen),
        seq=instrument.seq,
        created_at=instrument.created_at,
    )


def order_out(order: AnyOrder, fills: list[OrderFill]) -> OrderOut:
    average = None
    if order.filled_quantity:
        average = format_money(
            (order.filled_notional_fen * 2 + order.filled_quantity) // (2 * order.filled_quantity)
        )
    return OrderOut(
        id=order.id,
        client_order_id=order.client_order_id,
        instrument=order.instrument,
        party_id=order.party_id,
        side=order.side,
        type=order.type,
        price=money_or_none(order.price_fen),
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        remaining_quantity=order.remaining_quantity,
        average_price=average,
        status=order.status,
        reject_reason=order.reject_reason,
        time_in_force=order.time_in_force,
        expires_at=order.expires_at,
        stp=order.stp,
        batch_id=order.batch_id,
        created_at=order.created_at,
        updated_at=order.updated_at,
        fills=[
            FillOut(trade_id=f.trade_id, price=format_money(f.price_fen), quantity=f.quantity)
            for f in fills
        ],
    )


def settlement_out(settlement: Settlement | None) -> SettlementOut | None:
    if settlement is None:
        return None
    return SettlementOut(
        status=settlement.status,
        cash_amount=format_money(settlement.cash_amount_fen),
        buyer_fee=format_money(settlement.buyer_fee_fen),
        seller_fee=format_money(settlement.seller_fee_fen),
        ranges=[RangeOut.model_validate(r) for r in settlement.ranges],
        journal_entry_id=settlement.journal_entry_id,
    )


def trade_out(trade: Trade, settlement: Settlement | None) -> TradeOut:
    return TradeOut(
        id=trade.id,
        seq=trade.seq,
        instrument=trade.instrument,
        kind=trade.kind,
        price=format_money(trade.price_fen),
        quantity=trade.quantity,
        buyer_id=trade.buyer_id,
        seller_id=trade.seller_id,
        buy_order_id=trade.buy_order_id,
        sell_order_id=trade.sell_order_id,
        aggressor_side=trade.aggressor_side,
        executed_at=trade.executed_at,
        settlement=settlement_out(settlement),
        certificate_id=trade.certificate_id,
    )


def tape_item(trade: Trade) -> TapeItem:
    return TapeItem(
        trade_id=trade.id,
        seq=trade.seq,
        price=format_money(trade.price_fen),
        quantity=trade.quantity,
        aggressor_side=trade.aggressor_side,
        executed_at=trade.executed_at,
        kind=trade.kind,
    )
