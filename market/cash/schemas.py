"""Cash request and response models (API.md "Cash and payments"). Money is a 2-place string."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, JsonValue, StringConstraints

from market.kit.schema import Id, Input, Output, PositiveMoney, Timestamp

Reference = Annotated[str, StringConstraints(min_length=1, max_length=300)]


# Two shapes (API.md): a bank transfer the operator records, a card deposit a trader asks for.
DEPOSIT_SHAPES: list[JsonValue] = [
    {"required": ["amount", "party_id", "method"],
     "properties": {"party_id": {"type": "string"}, "method": {"const": "bank_transfer"}}},
    {"required": ["amount"],
     "properties": {"party_id": {"type": "null"}, "method": {"type": "null"},
                    "reference": {"type": "null"}}},
]  # fmt: skip


class DepositCreate(Input):
    """The operator records a bank transfer for `party_id`; a trader asks for a card deposit
    with only `amount`."""

    model_config = ConfigDict(json_schema_extra={"oneOf": DEPOSIT_SHAPES})

    amount: PositiveMoney
    party_id: Id | None = None
    method: Literal["bank_transfer"] | None = None
    reference: Reference | None = None


class WithdrawalCreate(Input):
    amount: PositiveMoney
    reference: Reference | None = None


class WithdrawalPaid(Input):
    """The operator's bank reference for the payment (optional)."""

    reference: Reference | None = None


class WithdrawalFailed(Input):
    """Why the payment failed, and the bank's reference if there is one (both optional)."""

    reference: Reference | None = None
    reason: Reference | None = None


class FeeAccountOut(Output):
    instrument: str
    amount: str


class FeesOut(Output):
    """The fees the platform operator holds per instrument, not yet swept into its own account
    (`total` is part of its `available`)."""

    total: str
    by_instrument: list[FeeAccountOut]


class CashOut(Output):
    party_id: str
    currency: str = "CNY"
    available: str
    reserved: str
    total: str
    # Only the platform operator's cash has this breakdown (null for every other party).
    fees: FeesOut | None = None


class DepositOut(Output):
    id: str
    party_id: str
    amount: str
    method: str
    reference: str | None
    status: str
    provider: str | None
    payment_intent_id: str | None
    client_secret: str | None
    failure_reason: str | None
    created_at: Timestamp
    completed_at: Timestamp | None


class WithdrawalOut(Output):
    id: str
    party_id: str
    amount: str
    status: str
    reference: str | None
    payment_reference: str | None
    failure_reason: str | None
    created_at: Timestamp
    paid_at: Timestamp | None
    failed_at: Timestamp | None


class PostingOut(Output):
    account: str
    amount: str


class EntryOut(Output):
    id: str
    kind: str
    ref_id: str
    created_at: Timestamp
    postings: list[PostingOut]
