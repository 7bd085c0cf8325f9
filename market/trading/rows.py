"""The plain rows of the trading hot path: frozen dataclasses, one field per column they carry.

The order batch writes trades and settlements with raw asyncpg
(`batch_repository.py`), block trades and auctions through `DealRepository`; the statements
take their column lists from the tables. `tests/unit/trading/test_rows.py` checks each row
against its table, so a migration that adds a column fails a test, not a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# A settlement's delivered serials, as stored and certified: {"batch_id", "start", "end"}.
Ranges = list[dict[str, str | int]]


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A row of `trades`; `certificate_id` is known once the trade's certificate is signed."""

    id: str
    instrument: str
    seq: int
    kind: str  # continuous | block | auction
    price_fen: int
    quantity: int
    buyer_id: str
    seller_id: str
    buy_order_id: str
    sell_order_id: str
    maker_order_id: str
    aggressor_side: str
    executed_at: datetime
    certificate_id: str | None = None

    def certified(self, certificate_id: str) -> TradeRow:
        """The trade with its certificate (what `dataclasses.replace` does, at a third of the
        cost: the order batch certifies every trade)."""
        return TradeRow(
            self.id,
            self.instrument,
            self.seq,
            self.kind,
            self.price_fen,
            self.quantity,
            self.buyer_id,
            self.seller_id,
            self.buy_order_id,
            self.sell_order_id,
            self.maker_order_id,
            self.aggressor_side,
            self.executed_at,
            certificate_id,
        )


@dataclass(frozen=True, slots=True)
class SettlementRow:
    """A row of `settlements`, as a trade settles (`decided_at` comes with an approval)."""

    id: str
    trade_id: str
    status: str  # settled | pending_approval
    cash_amount_fen: int
    buyer_fee_fen: int
    seller_fee_fen: int
    ranges: Ranges
    journal_entry_id: str | None  # None while approval is pending: the cash stays reserved
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrderFill:
    """One fill of an order, as its answer lists it (a trade it was party to)."""

    trade_id: str
    price_fen: int
    quantity: int


@dataclass(frozen=True, slots=True)
class EscrowPart:
    """Units of one batch an order (or a block trade, an auction) holds in escrow."""

    batch_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class DeliverableHolding:
    """A party's available units of one batch, with what eligibility looks at (a holding
    joined with its batch)."""

    party_id: str
    batch_id: str
    available: int
    vintage: int
    region_code: str
    period_end: date

    def less(self, quantity: int) -> DeliverableHolding:
        """The holding once `quantity` of it is escrowed."""
        return DeliverableHolding(
            self.party_id,
            self.batch_id,
            self.available - quantity,
            self.vintage,
            self.region_code,
            self.period_end,
        )
