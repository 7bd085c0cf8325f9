"""Payment use cases: card deposits, the Stripe webhook, Connect payouts, connected accounts.

Cash moves only through `CashService`, in the request's transaction; Stripe is reached only
through `StripeGateway`. A webhook event is stored in the inbox and applied in one transaction,
so its 2xx (sent after the commit) means its effect is durable, and a repeat finds its id and
does nothing. What an event does is decided by Stripe's current view of the PaymentIntent, read
again from Stripe, not by the event body: repeated, concurrent and reordered deliveries all end
where Stripe's state says.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.models import Deposit, Withdrawal
from market.cash.schemas import DepositCreate
from market.cash.service import STRIPE, CashService
from market.kit.errors import Forbidden, InvalidInput, NotFound
from market.kit.money import parse_money
from market.kit.time import utcnow
from market.parties.errors import PartyFrozen
from market.parties.roles import TRADERS, Caller, require
from market.parties.service import PartyService
from market.payments.errors import (
    InvalidSignature,
    MalformedEvent,
    NoConnectedAccount,
    StripeNotConfigured,
    StripeRefused,
    StripeUnavailable,
)
from market.payments.gateway import (
    CURRENCY,
    GatewayDeclined,
    GatewayUnavailable,
    InvalidWebhook,
    PaymentIntentView,
    StripeGateway,
    now,
    payout_idempotency_key,
    verify_webhook,
)
from market.payments.models import ConnectedAccount, Payout
from market.payments.repository import PaymentRepository
from market.payments.schemas import WebhookReceipt
from market.registry.errors import UnknownParty

log = structlog.get_logger()

INTENT_EVENTS = frozenset(
    {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"}
)
FAILURE_EVENTS = frozenset({"payment_intent.payment_failed", "payment_intent.canceled"})


class PaymentService:
    def __init__(
        self, session: AsyncSession, gateway: StripeGateway | None, webhook_secret: str | None
    ) -> None:
        self.cash = CashService(session)
        self.parties = PartyService(session)
        self.repo = PaymentRepository(session)
        self.gateway = gateway
        self.webhook_secret = webhook_secret

    def _stripe(self, *, webhooks: bool = True) -> StripeGateway:
        """The gateway; card deposits and webhooks also need the webhook secret."""
        if self.gateway is None or (webhooks and not self.webhook_secret):
            raise StripeNotConfigured(
                "Stripe is not configured (STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET)"
            )
        return self.gateway

    # deposits -------------------------------------------------------------------------------

    async def deposit(self, caller: Caller, data: DepositCreate) -> Deposit:
        """The operator records a bank transfer (available at once); a trader opens a card
        deposit: a Stripe PaymentIntent, credited when the signed webhook says it succeeded."""
        if caller.kind == "operator":
            return await self.cash.deposit(caller, data)
        require(caller, *TRADERS)
        if data.party_id is not None and data.method is not None:
            # the bank-transfer shape (API.md): only the operator records those
            raise Forbidden("the operator records bank transfers; a card deposit takes `amount`")
        if data.party_id is not None or data.method is not None or data.reference is not None:
            raise InvalidInput(
                "a card deposit takes only `amount` (it is always the caller's own)",
                field="party_id" if data.party_id is not None else "method",
            )
        gateway = self._stripe()
        deposit = await self.cash.open_card_deposit(caller, parse_money(data.amount))
        try:
            intent = await gateway.create_payment_intent(deposit.id, deposit.amount)
        except GatewayUnavailable as error:
            raise StripeUnavailable(f"Stripe did not answer: {error}") from error
        except GatewayDeclined as error:
            raise StripeRefused(f"Stripe refused the payment: {error.message}") from error
        return await self.cash.attach_payment_intent(deposit, intent.id, intent.client_secret)

    # webhook --------------------------------------------------------------------------------

    async def receive_webhook(self, payload: bytes, signature: str | None) -> WebhookReceipt:
        """Verify, store once, apply once (API.md: 400 for a bad or stale signature)."""
        gateway = self._stripe()
        assert self.webhook_secret is not None
        try:
            verify_webhook(payload, signature, self.webhook_secret, now=now())
        except InvalidWebhook as error:
            raise InvalidSignature(f"webhook refused: {error}") from error
        event = _parse_event(payload)
        event_id, kind, obj = event["id"], event["type"], event["data"]["object"]
        object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        stored = await self.repo.store_event(event_id, kind, object_id, event, utcnow())
        if not stored:
            return WebhookReceipt(event_id=event_id, type=kind, duplicate=True, effect="none")
        effect, deposit_id = "ignored", None
        if kind in INTENT_EVENTS and object_id is not None:
            effect, deposit_id = await self._apply_intent_event(gateway, kind, object_id)
        log.info("stripe_event", event_id=event_id, type=kind, effect=effect, deposit=deposit_id)
        return WebhookReceipt(
            event_id=event_id, type=kind, duplicate=False, effect=effect, deposit_id=deposit_id
        )

    async def _apply_intent_event(
        self, gateway: StripeGateway, kind: str, intent_id: str
    ) -> tuple[str, str | None]:
        deposit = await self.cash.card_deposit_for_intent(intent_id)  # locked
        if deposit is None:
            return "unknown_payment_intent", None
        if deposit.status == "succeeded":
            return "already_final", deposit.id
        try:
            intent = await gateway.payment_intent(intent_id)
        except (GatewayUnavailable, GatewayDeclined) as error:
            # Not stored (the transaction rolls back): Stripe delivers the event again.
            raise StripeUnavailable(
                f"could not re-read {intent_id} from Stripe: {error}"
            ) from error
        if intent is None:
            return "unknown_at_stripe", deposit.id
        if intent.status == "succeeded":
            mismatch = _mismatch(deposit, intent)
            if mismatch:
                log.warning("stripe_intent_mismatch", deposit=deposit.id, mismatch=mismatch)
                return f"mismatch: {mismatch}", deposit.id
            await self.cash.credit_card_deposit(deposit)
            return "credited", deposit.id
        if kind in FAILURE_EVENTS and deposit.status == "pending":
            await self.cash.fail_card_deposit(deposit, intent.failure or kind.split(".")[-1])
            return "failed", deposit.id
        if deposit.status == "failed":
            return "already_final", deposit.id
        return f"not_succeeded_at_stripe: {intent.status}", deposit.id

    # payouts --------------------------------------------------------------------------------

    async def payout(self, caller: Caller, withdrawal_id: str) -> Withdrawal:
        """Pay a pending withdrawal by a Connect transfer to the party's connected account.

        The withdrawal stays locked during the call, so a concurrent payout waits and then
        finds it final; the transfer carries `market:payout:{id}` as its idempotency key, so
        even a retry after a lost answer never pays twice. Stripe refuses → `failed` and the
        reservation is released; no usable answer → 503, nothing changes here."""
        withdrawal = await self.cash.pending_withdrawal(caller, withdrawal_id)
        gateway = self._stripe(webhooks=False)
        party = await self.parties.get(caller, withdrawal.party_id)
        if party.status != "active":
            raise PartyFrozen("the party is frozen by a regulator: no payouts")
        account = await self.repo.connected_account(withdrawal.party_id)
        if account is None:
            raise NoConnectedAccount("the party has no connected Stripe account")
        record = Payout(
            withdrawal_id=withdrawal.id,
            party_id=withdrawal.party_id,
            account_id=account.account_id,
            amount=withdrawal.amount,
            idempotency_key=payout_idempotency_key(withdrawal.id),
            status="paid",
            created_at=utcnow(),
        )
        try:
            transfer = await gateway.create_transfer(
                withdrawal.id, withdrawal.amount, account.account_id
            )
        except GatewayUnavailable as error:
            raise StripeUnavailable(f"Stripe did not answer; retry the payout: {error}") from error
        except GatewayDeclined as error:
            record.status, record.failure_reason = "failed", error.message[:300]
            await self.repo.add_payout(record)
            return await self.cash.fail_withdrawal(withdrawal, f"Stripe: {error.message}")
        record.transfer_id = transfer.id
        await self.repo.add_payout(record)
        return await self.cash.complete_withdrawal(
            withdrawal, destination=STRIPE, reference=transfer.id
        )

    # connected accounts ---------------------------------------------------------------------

    async def set_connected_account(
        self, caller: Caller, party_id: str, account_id: str
    ) -> ConnectedAccount:
        """The operator records the party's Stripe Connect account (replacing an earlier one)."""
        require(caller, "operator")
        party = await self.parties.get(caller, party_id)
        if party.kind not in TRADERS:
            raise UnknownParty("payouts go to a collective, an enterprise or a government")
        return await self.repo.set_connected_account(party_id, account_id, utcnow())

    async def connected_account(self, caller: Caller, party_id: str) -> ConnectedAccount:
        await self.parties.get(caller, party_id)  # 404 unless self, operator or regulator
        account = await self.repo.connected_account(party_id)
        if account is None:
            raise NotFound("the party has no connected Stripe account")
        return account


def _parse_event(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError as error:
        raise MalformedEvent("the webhook body is not JSON") from error
    valid = (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and 0 < len(event["id"]) <= 255
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
        and not _has_nul(event)
    )
    if not valid:
        raise MalformedEvent("the webhook body is not a Stripe event (id, type, data.object)")
    return dict(event)


def _has_nul(value: Any) -> bool:
    """PostgreSQL's jsonb refuses NUL characters."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _mismatch(deposit: Deposit, intent: PaymentIntentView) -> str | None:
    """Why Stripe's PaymentIntent does not pay exactly this deposit (None if it does)."""
    if intent.amount != deposit.amount:
        return f"amount {intent.amount} fen at Stripe, {deposit.amount} fen deposited"
    if intent.currency != CURRENCY:
        return f"currency {intent.currency}"
    if intent.metadata.get("deposit_id") != deposit.id:
        return f"metadata deposit_id {intent.metadata.get('deposit_id')!r}"
    return None
