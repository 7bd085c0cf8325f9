"""Trades without book orders — block trades and auction allocations — settled like a fill.

The same pieces as the order batch's settlement (`order_batch.py`), in the request's own
transaction: the instrument's advisory lock (`BatchRepository.lock`, the statement every batch
starts with) so the trade numbers continue the continuous trades' without a gap across
processes; the seller's escrowed serials move by exact ranges (`UnitLedger`), the buyer's
reserved cash pays the seller and the fee account in one balanced entry (`CashLedger`), one
`trade` certificate per trade (joins the log at commit); an approval product type settles into
`pending_approval` (serials held by the trade, cash stays reserved) for the regulator
(`approvals.decide_trade`). Lock order as everywhere: instrument, holdings, cash, log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import CashLedger
from market.certification.service import CertificateService
from market.kit.errors import NotFound
from market.kit.ids import new_id
from market.registry.errors import InsufficientUnits
from market.registry.models import Approval, ProductType
from market.registry.unit_repository import Owner
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
from market.trading.facts import trade_facts
from market.trading.models import Instrument, Settlement, Trade
from market.trading.rules import eligible, fee

BLOCK_BAND_BPS = 3_000  # block trades: ±30 % around the reference price (DOMAIN.md)

Parts = list[tuple[str, int]]  # (batch id, units), oldest serials first


@dataclass(slots=True)
class OffBookFill:
    """One trade to print: `parts` of the seller's escrow held by `hold_ref` go to the buyer."""

    buyer_id: str
    seller_id: str
    price_fen: int
    quantity: int
    hold_ref: str
    parts: Parts
    buy_order_id: str
    sell_order_id: str
    aggressor_side: str
    reserve_now: bool  # a block trade reserves the buyer's cash here; a bid already has


@dataclass(slots=True)
class Release:
    party_id: str
    amount: int
    ref_id: str


@dataclass(slots=True)
class Printed:
    trade: Trade
    settlement: Settlement


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


def split_parts(parts: Parts, quantities: list[int]) -> tuple[list[Parts], Parts]:
    """Cut an escrow into consecutive pieces of `quantities` (oldest serials first); the rest."""
    left = list(parts)
    pieces: list[Parts] = []
    for quantity in quantities:
        piece: Parts = []
        while quantity:
            batch_id, units = left[0]
            take = min(quantity, units)
            piece.append((batch_id, take))
            quantity -= take
            if take == units:
                left.pop(0)
            else:
                left[0] = (batch_id, units - take)
        pieces.append(piece)
    return pieces, [(b, n) for b, n in left if n]


class OffBookSettlement:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = DealRepository(session)

    async def product_type(self, instrument: Instrument) -> ProductType:
        found = await self.session.get(ProductType, instrument.product_type)
        assert found is not None, instrument.product_type
        return found

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
        usable = [
            h
            for h in await self.repo.deliverable(seller_id, instrument.product_type)
            if eligible(h, instrument, product_type, now.date())
            and (batch_id is None or h["batch_id"] == batch_id)
        ]
        if batch_id is not None and not usable:
            raise BatchNotEligible("the batch holds no available units eligible here")
        if sum(h["available"] for h in usable) < quantity:
            raise InsufficientUnits(
                f"{quantity} eligible units needed",
                requested=quantity,
                available=sum(h["available"] for h in usable),
            )
        moves, left = [], quantity
        for holding in usable:
            take = min(left, holding["available"])
            if take:
                moves.append(
                    UnitMove(
                        Owner(holding["batch_id"], seller_id, "available"),
                        Owner(holding["batch_id"], seller_id, "escrowed", hold_ref=hold_ref),
                        take,
                        "deal_escrow",
                        hold_ref,
                    )
                )
                left -= take
        await UnitLedger(self.session).move_many(moves)

    def return_moves(self, seller_id: str, hold_ref: str, parts: Parts) -> list[UnitMove]:
        return [
            UnitMove(
                Owner(batch_id, seller_id, "escrowed", hold_ref=hold_ref),
                Owner(batch_id, seller_id, "available"),
                quantity,
                "deal_release",
                hold_ref,
            )
            for batch_id, quantity in parts
            if quantity
        ]

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
        pending = product_type.transfer_requires_approval
        platform_id = await CertificateService(self.session).platform_party_id()
        first_seq = await self.repo.take_trade_seqs(instrument.symbol, len(fills)) if fills else 0
        trade_ids = [new_id("trd") for _ in fills]
        moves: list[UnitMove] = []
        spans: list[tuple[int, int]] = []
        for fill, trade_id in zip(fills, trade_ids, strict=True):
            start = len(moves)
            for batch_id, quantity in fill.parts:
                moves.append(
                    UnitMove(
                        Owner(batch_id, fill.seller_id, "escrowed", hold_ref=fill.hold_ref),
                        Owner(batch_id, fill.seller_id, "escrowed", hold_ref=trade_id)
                        if pending
                        else Owner(batch_id, fill.buyer_id, "available"),
                        quantity,
                        "trade_pending" if pending else "trade",
                        trade_id,
                    )
                )
            spans.append((start, len(moves)))
        moves.extend(extras.unit_moves)
        moved = await UnitLedger(self.session).move_many(moves)

        ledger = CashLedger(self.session)
        parties = {f.buyer_id for f in fills} | {f.seller_id for f in fills}
        parties |= {r.party_id for r in extras.releases}
        await ledger.lock(*parties)  # not the fee sub-account: it is credited (and locked) last
        for release in extras.releases:
            await ledger.release(
                release.party_id, release.amount, kind="bid_release", ref_id=release.ref_id
            )
        printed: list[Printed] = []
        certificates: list[tuple[str, str, str, Mapping[str, Any]]] = []
        for n, (fill, trade_id) in enumerate(zip(fills, trade_ids, strict=True)):
            notional = fill.price_fen * fill.quantity
            buyer_fee = fee(notional, instrument.buyer_fee_bps)
            seller_fee = fee(notional, instrument.seller_fee_bps)
            if fill.reserve_now:
                await ledger.reserve(
                    fill.buyer_id, notional + buyer_fee, kind=f"{kind}_reserve", ref_id=trade_id
                )
            entry_id = None
            if not pending:
                entry_id = await ledger.settle_trade(
                    buyer_id=fill.buyer_id,
                    seller_id=fill.seller_id,
                    fee_party_id=platform_id,
                    fee_instrument=instrument.symbol,
                    notional=notional,
                    buyer_fee=buyer_fee,
                    seller_fee=seller_fee,
                    ref_id=trade_id,
                )
            start, end = spans[n]
            row: dict[str, Any] = {
                "id": trade_id,
                "instrument": instrument.symbol,
                "seq": first_seq + n,
                "kind": kind,
                "price_fen": fill.price_fen,
                "quantity": fill.quantity,
                "buyer_id": fill.buyer_id,
                "seller_id": fill.seller_id,
                "buy_order_id": fill.buy_order_id,
                "sell_order_id": fill.sell_order_id,
                "maker_order_id": fill.sell_order_id,
                "aggressor_side": fill.aggressor_side,
                "executed_at": now,
            }
            settlement: dict[str, Any] = {
                "id": new_id("stl"),
                "trade_id": trade_id,
                "status": "pending_approval" if pending else "settled",
                "cash_amount_fen": notional,
                "buyer_fee_fen": buyer_fee,
                "seller_fee_fen": seller_fee,
                "ranges": [
                    {"batch_id": moves[i].source.batch_id, "start": r.start, "end": r.end}
                    for i in range(start, end)
                    for r in moved[i]
                ],
                "journal_entry_id": entry_id,
                "created_at": now,
            }
            certificates.append(("trade", trade_id, platform_id, trade_facts(row, settlement)))
            printed.append(Printed(Trade(**row), Settlement(**settlement)))
        signed = await CertificateService(self.session).issue_many(certificates)
        for item, certificate in zip(printed, signed, strict=True):
            item.trade.certificate_id = certificate.id
        if printed:
            await self.repo.add(*(p.trade for p in printed))
            await self.repo.add(*(p.settlement for p in printed))
        if pending and printed:
            await self.repo.add(
                *(
                    Approval(
                        id=new_id("apv"),
                        kind="trade",
                        subject_id=p.trade.id,
                        product_type=instrument.product_type,
                        quantity=p.trade.quantity,
                        from_party_id=p.trade.seller_id,
                        to_party_id=p.trade.buyer_id,
                        created_at=now,
                    )
                    for p in printed
                )
            )
        return printed
