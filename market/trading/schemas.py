"""Trading request and response models (API.md "Trading")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, JsonValue, StringConstraints, model_validator

from market.kit.schema import (
    JSON_INT,
    Id,
    Input,
    Output,
    PositiveMoney,
    Quantity,
    Timestamp,
    Vintage,
)

Symbol = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")]
Percent = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]?|100)(\.[0-9]{1,2})?$")]
Bps = Annotated[int, Field(ge=0, le=10_000), JSON_INT]
Lot = Annotated[int, Field(gt=0, le=1_000_000_000), JSON_INT]


class Eligibility(Input):
    vintage_from: Vintage | None = None
    vintage_to: Vintage | None = None
    region_prefix: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")] | None = None
    batch_ids: Annotated[list[Id], Field(max_length=500)] | None = None


class InstrumentCreate(Input):
    symbol: Symbol
    product_type: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    eligibility: Eligibility = Field(default_factory=Eligibility)
    tick_size: PositiveMoney = "0.01"
    lot_size: Lot = 1
    reference_price: PositiveMoney
    price_band_pct: Percent = "10"
    buyer_fee_bps: Bps = 0
    seller_fee_bps: Bps = 0


class InstrumentStatusIn(Input):
    status: Literal["open", "halted", "closed"]


class InstrumentOut(Output):
    symbol: str
    product_type: str
    eligibility: dict[str, Any]
    tick_size: str
    lot_size: int
    reference_price: str
    price_band_pct: str
    buyer_fee_bps: int
    seller_fee_bps: int
    status: str
    last_price: str | None
    seq: int
    created_at: Timestamp


# The cross-field rules of `OrderCreate._consistent`, as JSON Schema for the served document.
ORDER_RULES: list[JsonValue] = [
    {  # a market order has no price and is not GTD; a limit order (the default) has a price
        "if": {"properties": {"type": {"const": "market"}}, "required": ["type"]},
        "then": {
            "properties": {"price": {"type": "null"}, "time_in_force": {"not": {"const": "GTD"}}}
        },
        "else": {"required": ["price"], "properties": {"price": {"type": "string"}}},
    },
    {  # expires_at is given for GTD orders and only for them
        "if": {"properties": {"time_in_force": {"const": "GTD"}}, "required": ["time_in_force"]},
        "then": {"required": ["expires_at"], "properties": {"expires_at": {"type": "string"}}},
        "else": {"properties": {"expires_at": {"type": "null"}}},
    },
    {  # batch_id names the units a sell order delivers
        "if": {"properties": {"side": {"const": "buy"}}},
        "then": {"properties": {"batch_id": {"type": "null"}}},
    },
]


class OrderCreate(Input):
    model_config = ConfigDict(json_schema_extra={"allOf": ORDER_RULES})

    instrument: Symbol
    side: Literal["buy", "sell"]
    type: Literal["limit", "market"] = "limit"
    price: PositiveMoney | None = None
    quantity: Quantity
    time_in_force: Literal["GTC", "IOC", "FOK", "GTD"] = "GTC"
    expires_at: datetime | None = None
    client_order_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    batch_id: Id | None = None
    stp: Literal["cancel_newest", "cancel_oldest", "cancel_both"] = "cancel_newest"

    @model_validator(mode="after")
    def _consistent(self) -> OrderCreate:
        if self.type == "limit" and self.price is None:
            raise ValueError("a limit order needs a price")
        if self.type == "market" and self.price is not None:
            raise ValueError("a market order has no price")
        if (self.time_in_force == "GTD") != (self.expires_at is not None):
            raise ValueError("expires_at is required for GTD orders and only for them")
        if self.type == "market" and self.time_in_force == "GTD":
            raise ValueError("a market order cannot be GTD")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise ValueError("expires_at needs a UTC offset")
        if self.batch_id is not None and self.side == "buy":
            raise ValueError("batch_id applies to sell orders only")
        return self


class FillOut(Output):
    trade_id: str
    price: str
    quantity: int


class OrderOut(Output):
    id: str
    client_order_id: str
    instrument: str
    party_id: str
    side: str
    type: str
    price: str | None
    quantity: int
    filled_quantity: int
    remaining_quantity: int
    average_price: str | None
    status: str
    reject_reason: str | None
    time_in_force: str
    expires_at: Timestamp | None
    stp: str
    batch_id: str | None
    created_at: Timestamp
    updated_at: Timestamp
    fills: list[FillOut]


class RangeOut(Output):
    batch_id: str
    start: int
    end: int


class SettlementOut(Output):
    status: str
    cash_amount: str
    buyer_fee: str
    seller_fee: str
    ranges: list[RangeOut]
    journal_entry_id: str | None


class TradeOut(Output):
    id: str
    seq: int
    instrument: str
    kind: str
    price: str
    quantity: int
    buyer_id: str
    seller_id: str
    buy_order_id: str
    sell_order_id: str
    aggressor_side: str
    executed_at: Timestamp
    settlement: SettlementOut | None
    certificate_id: str | None


class TapeItem(Output):
    trade_id: str
    seq: int
    price: str
    quantity: int
    aggressor_side: str
    executed_at: Timestamp
    kind: str


class LevelOut(Output):
    price: str
    quantity: int
    orders: int


class BookOut(Output):
    symbol: str
    seq: int
    bids: list[LevelOut]
    asks: list[LevelOut]


def _aware(value: datetime | None, name: str) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} needs a UTC offset")


class BlockTradeCreate(Input):
    instrument: Symbol
    price: PositiveMoney
    quantity: Quantity
    buyer_id: Id
    batch_id: Id | None = None
    expires_at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BlockTradeCreate:
        if self.price == "0.00":
            raise ValueError("price must be positive")
        _aware(self.expires_at, "expires_at")
        return self


class BlockTradeOut(Output):
    id: str
    instrument: str
    price: str
    quantity: int
    seller_id: str
    buyer_id: str
    batch_id: str | None
    status: str
    expires_at: Timestamp
    trade_id: str | None
    created_at: Timestamp
    decided_at: Timestamp | None


class AuctionCreate(Input):
    instrument: Symbol
    quantity: Quantity
    reserve_price: PositiveMoney
    ends_at: datetime
    batch_id: Id | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AuctionCreate:
        if self.reserve_price == "0.00":
            raise ValueError("reserve_price must be positive")
        _aware(self.ends_at, "ends_at")
        return self


class BidCreate(Input):
    price: PositiveMoney
    quantity: Quantity

    @model_validator(mode="after")
    def _consistent(self) -> BidCreate:
        if self.price == "0.00":
            raise ValueError("price must be positive")
        return self


class BidOut(Output):
    """A bid as its bidder (and a regulator) sees it."""

    id: str
    auction_id: str
    party_id: str
    price: str
    quantity: int
    filled_quantity: int
    status: str
    trade_id: str | None
    created_at: Timestamp


class PublicBidOut(Output):
    """A bid as everyone sees it after the close: no party."""

    price: str
    quantity: int
    filled_quantity: int
    status: str
    created_at: Timestamp


class AllocationOut(Output):
    party_id: str
    quantity: int
    trade_id: str


class AuctionOut(Output):
    id: str
    instrument: str
    seller_id: str
    batch_id: str | None
    quantity: int
    reserve_price: str
    ends_at: Timestamp
    status: str
    clearing_price: str | None
    sold_quantity: int
    created_at: Timestamp
    closed_at: Timestamp | None
    allocations: list[AllocationOut] | None = None
    bids: list[PublicBidOut] | None = None
