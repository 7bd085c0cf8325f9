"""A regulator's decision on a trade that settled into `pending_approval`.

Approving delivers the escrowed serials to the buyer and pays the seller and the instrument's fee
sub-account; rejecting returns the serials to the seller and the reserved cash to the buyer,
exactly.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.ledger import CashLedger
from market.certification.service import CertificateService
from market.kit.time import utcnow
from market.registry.unit_repository import Owner
from market.registry.units import UnitLedger, UnitMove
from market.trading.repository import TradingRepository


async def decide_trade(session: AsyncSession, trade_id: str, approve: bool) -> None:
    repo = TradingRepository(session)
    trade = await repo.trade(trade_id)
    settlement = await repo.settlement_of(trade_id, lock=True)
    assert trade is not None and settlement is not None
    assert settlement.status == "pending_approval"
    platform = await CertificateService(session).platform_party_id()
    per_batch: dict[str, int] = defaultdict(int)
    for part in settlement.ranges:
        per_batch[part["batch_id"]] += part["end"] - part["start"] + 1
    receiver = trade.buyer_id if approve else trade.seller_id
    await UnitLedger(session).move_many(
        [
            UnitMove(
                Owner(batch_id, trade.seller_id, "escrowed", hold_ref=trade.id),
                Owner(batch_id, receiver, "available"),
                per_batch[batch_id],
                "trade_approved" if approve else "trade_rejected",
                trade.id,
            )
            for batch_id in sorted(per_batch)
        ]
    )
    # Holdings first, then cash: the lock order every transaction follows. The instrument's fee
    # sub-account is locked last, by the credit itself (see `CashLedger.lock`).
    ledger = CashLedger(session)
    await ledger.lock(trade.buyer_id, trade.seller_id)
    total = settlement.cash_amount_fen + settlement.buyer_fee_fen
    if approve:
        settlement.journal_entry_id = await ledger.settle_trade(
            buyer_id=trade.buyer_id,
            seller_id=trade.seller_id,
            fee_party_id=platform,
            fee_instrument=trade.instrument,
            notional=settlement.cash_amount_fen,
            buyer_fee=settlement.buyer_fee_fen,
            seller_fee=settlement.seller_fee_fen,
            ref_id=trade.id,
        )
        settlement.status = "settled"
    else:
        await ledger.release(trade.buyer_id, total)
        settlement.status = "reversed"
    settlement.decided_at = utcnow()
    await repo.add(settlement)
