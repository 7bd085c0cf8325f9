"""Trades without book orders — block trades and auction allocations — settled like a fill.

The order batch's settlement (`settlement.py`: the same trade and settlement rows, deliveries,
cash entry, certificate and approval), in the request's own transaction: the instrument's
advisory lock (`BatchRepository.lock`, the statement every batch starts with) so the trade
numbers continue the continuous trades' without a gap across processes; the seller's escrowed
serials move by exact ranges (`UnitLedger`), the cash through `CashLedger`. Lock order as
everywhere: instrument, holdings, cash, log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import CashLedger
from market.certification.service import CertificateService
from market.kit.errors import NotFound
from market.kit.ids import new_id
from market.registry.errors import InsufficientUnits
from market.registry.models import ProductType
from market.registry.product_service import ProductService
from market.registry.units import UnitLedger, UnitMove
from market.trading.batch_repository import BatchRepository
from market.trading.deal_repository import DealRepository
from market.trading.engine import InstrumentRules
from market.trading.errors import (
    BatchNotEligible,
    InstrumentClosed,
    InstrumentHalted,
    PriceNotOnTick,
    PriceOutOfBand,
    QuantityNotOnLot,
)
from market.trading.models import Instrument
from market.trading.risk import (
    Shortfall,
    allocate_units,
    escrow_moves,
    release_moves,
)
from market.trading.rows import EscrowPart, SettlementRow, TradeRow
from market.trading.rules import eligible
from market.trading.settlement import (
    approvals_for,
    certify,
    delivered_ranges,
    plan_trade,
)

BLOCK_BAND_BPS = 3_000  # block trades: ±30 % around the reference price (DOMAIN.md)


@dataclass(slots=True)
class OffBookFill:
    """One trade to print: `parts` of the seller's escrow held by `hold_ref` go to the buyer."""

    buyer_id: str
    seller_id: str
    price_fen: int
    quantity: int
    hold_ref: str
    parts: list[EscrowPart]  # oldest serials first
    buy_order_id: str
    sell_order_id: str
    aggressor_side: str
    reserve_now: bool  # a block trade reserves the buyer's cash here; a bid already has


@dataclass(frozen=True, slots=True)
class Release:
    """Reserved cash a party gets back (a losing bid, a winner's excess)."""

    party_id: str
    amount: int


@dataclass(frozen=True, slots=True)
class Printed:
    trade: TradeRow
    settlement: SettlementRow


@dataclass(slots=True)
class Extras:
    """Moves and releases that belong to the same settlement (an auction's unsold units and
    losing bids), done in the same lock sweeps as the trades'."""

    unit_moves: list[UnitMove] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)


def check_instrument_open(instrument: Instrument) -> None:
    if instrument.status == "halted":
        raise InstrumentHalted(f"instrument {instrument.symbol} is halted")
    if instrument.status == "closed":
        raise InstrumentClosed(f"instrument {instrument.symbol} is closed")


def check_price_and_lot(
    instrument: Instrument, price_fen: int, quantity: int, *, band_bps: int | None = None
) -> None:
    """Tick and lot always; the band (inclusive, rounded inward to the tick) when given."""
    if quantity % instrument.lot_size:
        raise QuantityNotOnLot(f"quantity must be a multiple of {instrument.lot_size}")
    if price_fen % instrument.tick_size_fen:
        raise PriceNotOnTick("price is not a multiple of the tick size")
    if band_bps is not None:
        rules = InstrumentRules.from_reference(
            instrument.reference_price_fen,
            band_bps,
            tick_size_fen=instrument.tick_size_fen,
            lot_size=instrument.lot_size,
        )
        low, high = rules.band_low_fen, rules.band_high_fen
        if (low is not None and price_fen < low) or (high is not None and price_fen > high):
            raise PriceOutOfBand(
                f"price outside ±{band_bps // 100} % of the reference price",
                low=None if low is None else str(low),
                high=None if high is None else str(high),
            )


class OffBookSettlement:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = DealRepository(session)

    async def product_type(self, instrument: Instrument) -> ProductType:
        return await ProductService(self.session).product_type(instrument.product_type)

    async def escrow(
        self,
        seller_id: str,
        instrument: Instrument,
        quantity: int,
        batch_id: str | None,
        hold_ref: str,
        now: datetime,
    ) -> None:
        """Escrow `quantity` of the seller's eligible units (one batch if named, else oldest
        serials first), held by `hold_ref`."""
        product_type = await self.product_type(instrument)
        parts = allocate_units(
            quantity,
            batch_id,
            await self.repo.deliverable(seller_id, instrument.product_type),
            lambda h: eligible(h, instrument, product_type, now.date()),
        )
        if isinstance(parts, Shortfall):
            if parts.reason == "batch_not_eligible":
                raise BatchNotEligible("the batch holds no available units eligible here")
            raise InsufficientUnits(
                f"{quantity} eligible units needed", requested=quantity, available=parts.available
            )
        moves = escrow_moves(seller_id, hold_ref, parts, "deal_escrow")
        await UnitLedger(self.session).move_many(moves)

    def return_moves(
        self, seller_id: str, hold_ref: str, parts: list[EscrowPart]
    ) -> list[UnitMove]:
        return release_moves(seller_id, hold_ref, parts, "deal_release")

    async def release_escrow(self, seller_id: str, hold_ref: str) -> None:
        parts = await self.repo.escrow_of(hold_ref)
        await UnitLedger(self.session).move_many(self.return_moves(seller_id, hold_ref, parts))

    async def lock_instrument(self, symbol: str) -> Instrument:
        """The instrument's advisory lock (the order batch's own statement) and its row."""
        _, instrument = await BatchRepository.lock(self.session, symbol)
        if instrument is None:
            raise NotFound(f"instrument {symbol} not found")
        return instrument

    async def print(
        self,
        instrument: Instrument,
        kind: str,
        fills: list[OffBookFill],
        now: datetime,
        extras: Extras | None = None,
    ) -> list[Printed]:
        """Settle and record `fills` as trades of `kind` (the caller holds the instrument's
        lock: `lock_instrument`). Raises `InsufficientFunds` when a buyer that reserves now
        lacks the cash (the caller's transaction then rolls back whole)."""
        extras = extras or Extras()
        product_type = await self.product_type(instrument)
        platform_id = await CertificateService(self.session).platform_party_id()
        first_seq = await self.repo.take_trade_seqs(instrument.symbol, len(fills)) if fills else 0
        planned = [
            plan_trade(
                TradeRow(
                    id=new_id("trd"),
                    instrument=instrument.symbol,
                    seq=first_seq + n,
                    kind=kind,
                    price_fen=fill.price_fen,
                    quantity=fill.quantity,
                    buyer_id=fill.buyer_id,
                    seller_id=fill.seller_id,
                    buy_order_id=fill.buy_order_id,
                    sell_order_id=fill.sell_order_id,
                    maker_order_id=fill.sell_order_id,
                    aggressor_side=fill.aggressor_side,
                    executed_at=now,
                ),
                fill.parts,
                hold_ref=fill.hold_ref,
                instrument=instrument,
                pending=product_type.transfer_requires_approval,
                fee_party_id=platform_id,
            )
            for n, fill in enumerate(fills)
        ]
        moves = [move for p in planned for move in p.deliveries] + extras.unit_moves
        ranges = delivered_ranges(moves, await UnitLedger(self.session).move_many(moves))

        ledger = CashLedger(self.session)
        parties = {f.buyer_id for f in fills} | {f.seller_id for f in fills}
        parties |= {r.party_id for r in extras.releases}
        await ledger.lock(*parties)  # not the fee sub-account: it is credited (and locked) last
        for release in extras.releases:
            await ledger.release(release.party_id, release.amount)
        settlements: list[SettlementRow] = []
        for fill, trade in zip(fills, planned, strict=True):
            trade_id = trade.trade.id
            if fill.reserve_now:
                await ledger.reserve(fill.buyer_id, trade.buyer_cost)
            entry_id = None
            if trade.cash is not None:
                entry_id = await ledger.settle_trade(
                    buyer_id=trade.cash.buyer_id,
                    seller_id=trade.cash.seller_id,
                    fee_party_id=trade.cash.fee_party_id,
                    fee_instrument=trade.cash.fee_instrument,
                    notional=trade.cash.notional,
                    buyer_fee=trade.cash.buyer_fee,
                    seller_fee=trade.cash.seller_fee,
                    ref_id=trade_id,
                )
            settlements.append(trade.settlement(ranges.get(trade_id, []), entry_id, now))
        trades = await certify(self.session, platform_id, [p.trade for p in planned], settlements)
        await self.repo.add_trades(trades, settlements)
        approvals = approvals_for(trades, settlements, instrument.product_type, now)
        if approvals:
            await self.repo.add(*approvals)
        return [Printed(t, s) for t, s in zip(trades, settlements, strict=True)]
