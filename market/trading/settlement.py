"""Settlement: what a matched trade does. The same for a fill of the book (`order_batch.py`), a
block trade and an auction allocation (`off_book.py`), so a trade is shaped in one place.

- The trade row and its settlement row; fees round down to the fen (`rules.fee`).
- The deliveries: the seller's escrowed serials go to the buyer. For a product type whose
  transfers need approval they stay escrowed, held by the trade, the settlement is
  `pending_approval` and the buyer's cash stays reserved (`approvals.decide_trade` finishes or
  reverses it).
- The cash: one `trade_settlement` entry, the buyer's reserved cash paying the seller and the
  fee account.
- One `trade` certificate per trade (it joins the log at commit) and, pending approval, an
  `Approval` for the regulator.

The callers apply the moves and post the cash in their own lock sweeps; the settlement row is
built once they have (it records the serial ranges moved and the journal entry).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import Leg, settlement_legs
from market.certification.service import CertificateService
from market.kit.ids import new_id
from market.registry.models import Approval
from market.registry.unit_repository import Owner
from market.registry.units import SerialRange, UnitMove
from market.trading.engine import Trade
from market.trading.facts import trade_facts
from market.trading.models import Instrument, OrderState
from market.trading.rows import EscrowPart, Ranges, SettlementRow, TradeRow
from market.trading.rules import fee

DELIVERY = "trade"
PENDING_DELIVERY = "trade_pending"
PENDING = "pending_approval"


@dataclass(frozen=True, slots=True)
class TradeCash:
    """A trade's cash settlement: one `trade_settlement` entry."""

    trade_id: str
    buyer_id: str
    seller_id: str
    fee_party_id: str
    fee_instrument: str  # the fees go to this instrument's fee sub-account
    notional: int
    buyer_fee: int
    seller_fee: int

    @property
    def parties(self) -> tuple[str, ...]:
        """The accounts to lock first: not the fee sub-account (`CashLedger.lock` says why)."""
        return (self.buyer_id, self.seller_id)

    def journal_entry(self) -> tuple[str, str, list[Leg]]:
        legs = settlement_legs(
            buyer_id=self.buyer_id,
            seller_id=self.seller_id,
            fee_party_id=self.fee_party_id,
            fee_instrument=self.fee_instrument,
            notional=self.notional,
            buyer_fee=self.buyer_fee,
            seller_fee=self.seller_fee,
        )
        return "trade_settlement", self.trade_id, legs


@dataclass(frozen=True, slots=True)
class PlannedTrade:
    """A trade with its deliveries and cash planned; settled once they are applied."""

    trade: TradeRow
    notional: int
    buyer_fee: int
    seller_fee: int
    pending: bool  # its product type's transfers need a regulator's approval
    deliveries: list[UnitMove]
    cash: TradeCash | None  # None while approval is pending

    @property
    def buyer_cost(self) -> int:
        """What the trade takes of the buyer's reserved cash (now, or once approved)."""
        return self.notional + self.buyer_fee

    def settlement(
        self, ranges: Ranges, journal_entry_id: str | None, created_at: datetime
    ) -> SettlementRow:
        return SettlementRow(
            id=new_id("stl"),
            trade_id=self.trade.id,
            status=PENDING if self.pending else "settled",
            cash_amount_fen=self.notional,
            buyer_fee_fen=self.buyer_fee,
            seller_fee_fen=self.seller_fee,
            ranges=ranges,
            journal_entry_id=journal_entry_id,
            created_at=created_at,
        )


def fill_trade(
    event: Trade, buy: OrderState, sell: OrderState, symbol: str, now: datetime
) -> TradeRow:
    """The row of a continuous trade the engine matched (its certificate still to come)."""
    return TradeRow(
        id=new_id("trd"),
        instrument=symbol,
        seq=event.seq,
        kind="continuous",
        price_fen=event.price,
        quantity=event.quantity,
        buyer_id=buy.party_id,
        seller_id=sell.party_id,
        buy_order_id=buy.id,
        sell_order_id=sell.id,
        maker_order_id=event.maker_order_id,
        aggressor_side=event.aggressor_side.value,
        executed_at=now,
    )


def plan_trade(
    trade: TradeRow,
    parts: list[EscrowPart],
    *,
    hold_ref: str,
    instrument: Instrument,
    pending: bool,
    fee_party_id: str,
) -> PlannedTrade:
    """The deliveries of `parts` of the seller's escrow held by `hold_ref` and the cash
    settlement of `trade`, at the instrument's fees."""
    notional = trade.price_fen * trade.quantity
    buyer_fee = fee(notional, instrument.buyer_fee_bps)
    seller_fee = fee(notional, instrument.seller_fee_bps)
    deliveries = [
        UnitMove(
            Owner(part.batch_id, trade.seller_id, "escrowed", hold_ref=hold_ref),
            Owner(part.batch_id, trade.seller_id, "escrowed", hold_ref=trade.id)
            if pending
            else Owner(part.batch_id, trade.buyer_id, "available"),
            part.quantity,
            PENDING_DELIVERY if pending else DELIVERY,
            trade.id,
        )
        for part in parts
    ]
    cash = None
    if not pending:
        cash = TradeCash(
            trade_id=trade.id,
            buyer_id=trade.buyer_id,
            seller_id=trade.seller_id,
            fee_party_id=fee_party_id,
            fee_instrument=instrument.symbol,
            notional=notional,
            buyer_fee=buyer_fee,
            seller_fee=seller_fee,
        )
    return PlannedTrade(trade, notional, buyer_fee, seller_fee, pending, deliveries, cash)


def delivered_ranges(
    moves: Sequence[UnitMove], moved: Sequence[list[SerialRange]]
) -> dict[str, Ranges]:
    """The serial ranges each trade's deliveries moved, by trade id, in the order moved
    (`moved` is `UnitLedger.move_many`'s answer to `moves`)."""
    ranges: dict[str, Ranges] = {}
    for move, serials in zip(moves, moved, strict=True):
        if move.reason == DELIVERY or move.reason == PENDING_DELIVERY:
            ranges.setdefault(move.ref_id, []).extend(
                {"batch_id": move.source.batch_id, "start": r.start, "end": r.end} for r in serials
            )
    return ranges


async def certify(
    session: AsyncSession,
    issuer_id: str,
    trades: list[TradeRow],
    settlements: list[SettlementRow],
) -> list[TradeRow]:
    """Sign one `trade` certificate per settled trade (stored at commit, then logged); the
    trades with their certificate ids."""
    if not trades:
        return []
    certificates = await CertificateService(session).issue_many(
        [
            ("trade", trade.id, issuer_id, trade_facts(trade, settlement))
            for trade, settlement in zip(trades, settlements, strict=True)
        ]
    )
    return [
        trade.certified(certificate.id)
        for trade, certificate in zip(trades, certificates, strict=True)
    ]


def approvals_for(
    trades: list[TradeRow], settlements: list[SettlementRow], product_type: str, now: datetime
) -> list[Approval]:
    """The regulator's approvals the pending trades wait for."""
    return [
        Approval(
            id=new_id("apv"),
            kind="trade",
            subject_id=trade.id,
            product_type=product_type,
            quantity=trade.quantity,
            from_party_id=trade.seller_id,
            to_party_id=trade.buyer_id,
            created_at=now,
        )
        for trade, settlement in zip(trades, settlements, strict=True)
        if settlement.status == PENDING
    ]
