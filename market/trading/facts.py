"""What a trade certificate certifies."""

from __future__ import annotations

from typing import Any

from market.kit.money import format_money
from market.kit.time import isoformat
from market.trading.rows import SettlementRow, TradeRow


def trade_facts(trade: TradeRow, settlement: SettlementRow) -> dict[str, Any]:
    return {
        "trade_id": trade.id,
        "instrument": trade.instrument,
        "seq": trade.seq,
        "trade_kind": trade.kind,
        "price": format_money(trade.price_fen),
        "quantity": trade.quantity,
        "buyer": trade.buyer_id,
        "seller": trade.seller_id,
        "buy_order_id": trade.buy_order_id,
        "sell_order_id": trade.sell_order_id,
        "aggressor_side": trade.aggressor_side,
        "executed_at": isoformat(trade.executed_at),
        "cash_amount": format_money(settlement.cash_amount_fen),
        "buyer_fee": format_money(settlement.buyer_fee_fen),
        "seller_fee": format_money(settlement.seller_fee_fen),
        "settlement_status": settlement.status,
        "ranges": settlement.ranges,
    }
