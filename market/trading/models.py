"""Trading tables: instruments, orders, the book's command log, trades, settlements (and the
order events written before revision 0012). Order events, book commands and trades are
append-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Identity,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from market.db.columns import bigint, counter, jsonb, one_of, party_fk, timestamp

INSTRUMENT_STATUSES = ("open", "halted", "closed")
ORDER_STATUSES = ("open", "partially_filled", "filled", "cancelled", "expired", "rejected")
OPEN_STATUSES = ("open", "partially_filled")
SETTLEMENT_STATUSES = ("settled", "pending_approval", "reversed")
APPEND_ONLY_TABLES = ("order_events", "book_commands", "trades")


class Instrument(SQLModel, table=True):
    __tablename__ = "instruments"
    __table_args__ = (
        CheckConstraint(one_of("status", INSTRUMENT_STATUSES), name="status"),
        CheckConstraint("tick_size_fen > 0 AND lot_size > 0", name="tick_lot"),
        CheckConstraint("reference_price_fen > 0", name="reference_price"),
        CheckConstraint("price_band_bps BETWEEN 0 AND 10000", name="band"),
        CheckConstraint(
            "buyer_fee_bps BETWEEN 0 AND 10000 AND seller_fee_bps BETWEEN 0 AND 10000", name="fees"
        ),
    )

    symbol: str = Field(primary_key=True)
    product_type: str = Field(foreign_key="product_types.code")
    eligibility: dict[str, Any] = Field(sa_column=jsonb())
    tick_size_fen: int = Field(sa_column=bigint())
    lot_size: int = Field(sa_column=bigint())
    reference_price_fen: int = Field(sa_column=bigint())
    price_band_bps: int
    buyer_fee_bps: int
    seller_fee_bps: int
    status: str = "open"
    last_price_fen: int | None = Field(default=None, sa_column=bigint(nullable=True))
    # The market data's version (book snapshots and the stream carry it): it moves by one per
    # book command and per off-book trade print, so it moves whenever the book or the tape may
    # have changed. (Before revision 0012 it counted order events.)
    seq: int = Field(default=0, sa_column=counter())
    command_seq: int = Field(default=0, sa_column=counter())
    next_order_seq: int = Field(
        default=1, sa_column=Column(BigInteger, nullable=False, server_default="1")
    )
    trade_seq: int = Field(default=0, sa_column=counter())
    rules_version: int = Field(
        default=1, sa_column=Column(BigInteger, nullable=False, server_default="1")
    )
    created_at: datetime = Field(sa_column=timestamp())


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint(one_of("side", ("buy", "sell")), name="side"),
        CheckConstraint(one_of("type", ("limit", "market")), name="type"),
        CheckConstraint(one_of("time_in_force", ("GTC", "IOC", "FOK", "GTD")), name="tif"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "filled_quantity >= 0 AND filled_quantity <= quantity AND remaining_quantity >= 0 "
            "AND filled_quantity + remaining_quantity <= quantity",
            name="fills_bounded",
        ),
        CheckConstraint(
            "reserved_cash_fen >= 0 AND escrowed_units >= 0", name="holds_non_negative"
        ),
        UniqueConstraint("party_id", "client_order_id", name="uq_orders_party_client_order_id"),
        Index(
            "ix_orders_book",
            "instrument",
            "side",
            "price_fen",
            postgresql_where=text("status IN ('open', 'partially_filled')"),
        ),
        Index(
            "ix_orders_gtd",
            "instrument",
            "expires_at",
            postgresql_where=text(
                "status IN ('open', 'partially_filled') AND expires_at IS NOT NULL"
            ),
        ),
        Index("ix_orders_party", "party_id", "id"),
    )

    id: str = Field(primary_key=True)
    instrument: str = Field(foreign_key="instruments.symbol")
    party_id: str = Field(sa_column=party_fk(index=False))
    client_order_id: str
    side: str
    type: str
    price_fen: int | None = Field(default=None, sa_column=bigint(nullable=True))
    quantity: int = Field(sa_column=bigint())
    filled_quantity: int = Field(default=0, sa_column=counter())
    remaining_quantity: int = Field(default=0, sa_column=counter())
    filled_notional_fen: int = Field(default=0, sa_column=counter())
    status: str
    reject_reason: str | None = None
    time_in_force: str
    expires_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    stp: str = "cancel_newest"
    batch_id: str | None = None
    engine_seq: int | None = Field(default=None, sa_column=bigint(nullable=True))
    # Where the order's life sits in the instrument's command log (`book_commands.seq`): the
    # submit that entered it in the book (None: rejected before it reached the book), and the
    # command during which it ended (None while it is open; for an order rejected before the
    # book, the last command logged before it). With the trades they are the order's trail.
    entered_seq: int | None = Field(default=None, sa_column=bigint(nullable=True))
    ended_seq: int | None = Field(default=None, sa_column=bigint(nullable=True))
    reserved_cash_fen: int = Field(default=0, sa_column=counter())
    escrowed_units: int = Field(default=0, sa_column=counter())
    # Nothing changes an order once it has ended: a finished order's `updated_at` is its end.
    created_at: datetime = Field(sa_column=timestamp())
    updated_at: datetime = Field(sa_column=timestamp())


@dataclass(slots=True)
class OrderState:
    """An order as the order batch holds it: the columns of `Order`, in the table's order (the
    batch reads them positionally), in a plain object.

    Building an ORM `Order` costs ~60 µs and each attribute write goes through SQLAlchemy's
    instrumentation; the batch builds and updates hundreds per second and writes them itself.
    """

    id: str
    instrument: str
    party_id: str
    client_order_id: str
    side: str
    type: str
    price_fen: int | None
    quantity: int
    filled_quantity: int
    remaining_quantity: int
    filled_notional_fen: int
    status: str
    reject_reason: str | None
    time_in_force: str
    expires_at: datetime | None
    stp: str
    batch_id: str | None
    engine_seq: int | None
    entered_seq: int | None
    ended_seq: int | None
    reserved_cash_fen: int
    escrowed_units: int
    created_at: datetime
    updated_at: datetime


AnyOrder = Order | OrderState


class OrderEvent(SQLModel, table=True):
    """Every event of an order's life up to revision 0012, numbered by the instrument's event
    counter. Nothing writes it any more: an order's trail is its row, the command log and its
    trades (`trail.py`); revision 0012 derived the orders' log positions from these rows, and
    its downgrade writes them again for the orders placed since."""

    __tablename__ = "order_events"
    __table_args__ = (
        # Surveillance reads an instrument's new owner cancels past its watermark (layering);
        # partial, so placing and filling orders never maintain it.
        Index(
            "ix_order_events_user_cancels",
            "instrument",
            "seq",
            postgresql_where=text("kind = 'cancelled' AND reason = 'user'"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    order_id: str = Field(index=True)
    instrument: str
    seq: int = Field(sa_column=bigint())
    kind: str
    quantity: int | None = Field(default=None, sa_column=bigint(nullable=True))
    price_fen: int | None = Field(default=None, sa_column=bigint(nullable=True))
    trade_id: str | None = None
    reason: str | None = None
    created_at: datetime = Field(sa_column=timestamp())


class BookCommand(SQLModel, table=True):
    """The engine commands of one instrument in order: replaying them rebuilds its book."""

    __tablename__ = "book_commands"
    __table_args__ = (
        # Surveillance reads an instrument's new owner cancels past its watermark (layering);
        # partial, so submits never maintain it.
        Index(
            "ix_book_commands_cancels",
            "instrument",
            "seq",
            postgresql_where=text("command->>'op' = 'cancel'"),
        ),
    )

    instrument: str = Field(sa_column=Column(String, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True))
    command: dict[str, Any] = Field(sa_column=jsonb())


class Trade(SQLModel, table=True):
    __tablename__ = "trades"
    __table_args__ = (
        UniqueConstraint("instrument", "seq", name="uq_trades_instrument_seq"),
        CheckConstraint("quantity > 0 AND price_fen > 0", name="positive"),
        CheckConstraint("buyer_id <> seller_id", name="no_self_trade"),
        # A party's trades, and an order's fills (its party and order id): the second column
        # serves `fills_of` without a third and fourth index for every trade to maintain.
        Index("ix_trades_buyer", "buyer_id", "buy_order_id"),
        Index("ix_trades_seller", "seller_id", "sell_order_id"),
    )

    id: str = Field(primary_key=True)
    instrument: str = Field(foreign_key="instruments.symbol")
    seq: int = Field(sa_column=bigint())
    kind: str = "continuous"
    price_fen: int = Field(sa_column=bigint())
    quantity: int = Field(sa_column=bigint())
    buyer_id: str
    seller_id: str
    buy_order_id: str
    sell_order_id: str
    maker_order_id: str
    aggressor_side: str
    executed_at: datetime = Field(sa_column=timestamp(index=True))
    certificate_id: str | None = None


class Settlement(SQLModel, table=True):
    __tablename__ = "settlements"
    __table_args__ = (CheckConstraint(one_of("status", SETTLEMENT_STATUSES), name="status"),)

    id: str = Field(primary_key=True)
    trade_id: str = Field(foreign_key="trades.id", unique=True)
    status: str
    cash_amount_fen: int = Field(sa_column=bigint())
    buyer_fee_fen: int = Field(sa_column=bigint())
    seller_fee_fen: int = Field(sa_column=bigint())
    ranges: list[dict[str, Any]] = Field(sa_column=jsonb())
    journal_entry_id: str | None = None
    created_at: datetime = Field(sa_column=timestamp())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


BLOCK_TRADE_STATUSES = ("proposed", "accepted", "declined", "cancelled", "expired")
AUCTION_STATUSES = ("open", "closed")
BID_STATUSES = ("open", "filled", "partially_filled", "lost")


class BlockTrade(SQLModel, table=True):
    """A block trade (大宗协议): the seller's proposal to one named buyer, its units escrowed
    (held by the proposal's id) until the buyer accepts (a trade of kind `block`), declines,
    the seller cancels, or it expires."""

    __tablename__ = "block_trades"
    __table_args__ = (
        CheckConstraint(one_of("status", BLOCK_TRADE_STATUSES), name="status"),
        CheckConstraint("quantity > 0 AND price_fen > 0", name="positive"),
        CheckConstraint("buyer_id <> seller_id", name="two_parties"),
        CheckConstraint(
            "(status = 'accepted') = (trade_id IS NOT NULL)", name="trade_when_accepted"
        ),
        Index(
            "ix_block_trades_due",
            "expires_at",
            postgresql_where=text("status = 'proposed'"),
        ),
    )

    id: str = Field(primary_key=True)
    instrument: str = Field(foreign_key="instruments.symbol")
    seller_id: str = Field(sa_column=party_fk())
    buyer_id: str = Field(sa_column=party_fk())
    batch_id: str | None = None
    price_fen: int = Field(sa_column=bigint())
    quantity: int = Field(sa_column=bigint())
    status: str = "proposed"
    expires_at: datetime = Field(sa_column=timestamp())
    trade_id: str | None = Field(default=None, foreign_key="trades.id")
    created_at: datetime = Field(sa_column=timestamp())
    decided_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))


class Auction(SQLModel, table=True):
    """A single-sided auction (单向竞价): the seller's units escrowed (held by the auction's
    id) until the close allocates them to the best sealed bids at one price."""

    __tablename__ = "auctions"
    __table_args__ = (
        CheckConstraint(one_of("status", AUCTION_STATUSES), name="status"),
        CheckConstraint("quantity > 0 AND reserve_price_fen > 0", name="positive"),
        CheckConstraint("sold_quantity >= 0 AND sold_quantity <= quantity", name="sold_bounded"),
        CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name="closed_at_when_closed"
        ),
    )

    id: str = Field(primary_key=True)
    instrument: str = Field(foreign_key="instruments.symbol")
    seller_id: str = Field(sa_column=party_fk())
    batch_id: str | None = None
    quantity: int = Field(sa_column=bigint())
    reserve_price_fen: int = Field(sa_column=bigint())
    ends_at: datetime = Field(sa_column=timestamp())
    status: str = "open"
    clearing_price_fen: int | None = Field(default=None, sa_column=bigint(nullable=True))
    sold_quantity: int = Field(default=0, sa_column=counter())
    created_at: datetime = Field(sa_column=timestamp())
    closed_at: datetime | None = Field(default=None, sa_column=timestamp(nullable=True))
    closed_by: str | None = None


class AuctionBid(SQLModel, table=True):
    """A sealed bid; `seq` (assigned by the database in commit-independent arrival order) breaks
    price ties by time. An open bid holds `reserved_cash_fen` of the bidder's reserved cash."""

    __tablename__ = "auction_bids"
    __table_args__ = (
        CheckConstraint(one_of("status", BID_STATUSES), name="status"),
        CheckConstraint("quantity > 0 AND price_fen > 0", name="positive"),
        CheckConstraint(
            "filled_quantity >= 0 AND filled_quantity <= quantity", name="fills_bounded"
        ),
        CheckConstraint("reserved_cash_fen >= 0", name="reserved_non_negative"),
        Index("ix_auction_bids_auction", "auction_id", "seq"),
        Index("ix_auction_bids_party", "party_id"),
    )

    id: str = Field(primary_key=True)
    auction_id: str = Field(foreign_key="auctions.id")
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(), nullable=False, unique=True)
    )
    party_id: str = Field(sa_column=party_fk(index=False))
    price_fen: int = Field(sa_column=bigint())
    quantity: int = Field(sa_column=bigint())
    status: str = "open"
    filled_quantity: int = Field(default=0, sa_column=counter())
    reserved_cash_fen: int = Field(default=0, sa_column=counter())
    trade_id: str | None = Field(default=None, foreign_key="trades.id")
    created_at: datetime = Field(sa_column=timestamp())
