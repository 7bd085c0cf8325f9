"""Payment request and response models."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from market.kit.schema import Input, Output, Timestamp

ConnectedAccountId = Annotated[str, StringConstraints(pattern=r"^acct_[A-Za-z0-9]{1,64}$")]


class ConnectedAccountSet(Input):
    """The Stripe Connect account (`acct_…`) the party's payouts go to."""

    account_id: ConnectedAccountId


class ConnectedAccountOut(Output):
    party_id: str
    account_id: str
    updated_at: Timestamp


class WebhookReceipt(Output):
    """What a delivered event did: `duplicate` when its id was already received; `effect`
    says what changed (`credited`, `failed`) or why nothing did."""

    received: bool = True
    event_id: str
    type: str
    duplicate: bool
    effect: str
    deposit_id: str | None = None
