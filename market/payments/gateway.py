"""The one seam to Stripe: PaymentIntents for card deposits, Connect transfers for payouts,
listings for reconciliation, and the webhook signature check.

Every outgoing create carries our own deterministic idempotency key, so a retry (by stripe's
client, by the operator, or after our transaction rolled back) never charges or pays twice.
Stripe's errors become two kinds: `GatewayDeclined` (Stripe answered and refused: nothing
happened) and `GatewayUnavailable` (no usable answer: the outcome is unknown, retry with the
same key).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stripe

from market.settings import Settings

CURRENCY = "cny"
WEBHOOK_TOLERANCE_SECONDS = 300
API_BASE = "https://api.stripe.com"


def deposit_idempotency_key(deposit_id: str) -> str:
    return f"market:deposit:{deposit_id}"


def payout_idempotency_key(withdrawal_id: str) -> str:
    return f"market:payout:{withdrawal_id}"


class GatewayDeclined(Exception):
    """Stripe refused the request (invalid, declined, not permitted): nothing was done."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class GatewayUnavailable(Exception):
    """Stripe could not be reached or failed: the outcome is unknown."""


class InvalidWebhook(Exception):
    """The webhook's signature, timestamp or body is not acceptable."""


@dataclass(frozen=True, slots=True)
class PaymentIntentView:
    id: str
    status: str
    amount: int
    currency: str
    metadata: dict[str, str]
    client_secret: str | None = None
    created: int = 0
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class TransferView:
    id: str
    amount: int
    currency: str
    destination: str
    metadata: dict[str, str] = field(default_factory=dict)
    created: int = 0
    reversed: bool = False


class StripeHTTPClient(stripe.HTTPXClient):
    """stripe's async httpx client, sending the encoded form as `content` (httpx deprecates
    raw bytes as `data`, and its warning would surface as a network error)."""

    def _get_request_args_kwargs(self, method: str, url: str, headers: Any, post_data: Any) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        kwargs["content"] = kwargs.pop("data", None) or None
        return args, kwargs


def verify_webhook(payload: bytes, header: str | None, secret: str, *, now: float) -> None:
    """Check `Stripe-Signature` over the raw body with stripe's verifier (tolerance 300 s for
    old timestamps) and refuse timestamps more than 300 s in the future, which it accepts."""
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, header, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
        )
    except (UnicodeDecodeError, stripe.SignatureVerificationError) as error:
        raise InvalidWebhook(str(error).split(" Read it")[0]) from error
    timestamp, _ = stripe.WebhookSignature._get_timestamp_and_signatures(
        header or "", stripe.WebhookSignature.EXPECTED_SCHEME
    )
    if timestamp > now + WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidWebhook(f"timestamp {timestamp} is more than 300 s in the future")


def _plain(obj: Any) -> dict[str, Any]:
    """A Stripe object as a plain dict (stripe 16's objects are not mappings)."""
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


def _metadata(data: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (data.get("metadata") or {}).items()}


def _intent_view(intent: Any) -> PaymentIntentView:
    data = _plain(intent)
    error = data.get("last_payment_error") or {}
    failure = str(error.get("message") or error.get("code") or "") or None
    return PaymentIntentView(
        id=str(data["id"]),
        status=str(data["status"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        metadata=_metadata(data),
        client_secret=data.get("client_secret"),
        created=int(data.get("created") or 0),
        failure=failure,
    )


def _transfer_view(transfer: Any) -> TransferView:
    data = _plain(transfer)
    return TransferView(
        id=str(data["id"]),
        amount=int(data["amount"]),
        currency=str(data["currency"]).lower(),
        destination=str(data["destination"]),
        metadata=_metadata(data),
        created=int(data.get("created") or 0),
        reversed=bool(data.get("reversed")),
    )


class StripeGateway:
    """Async calls to Stripe (or `STRIPE_API_BASE`, e.g. localstripe) through stripe's client."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        http_client: stripe.HTTPClient | None = None,
        max_network_retries: int = 2,
    ) -> None:
        self.http_client = http_client or StripeHTTPClient(timeout=20)
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base or API_BASE},
            http_client=self.http_client,
            max_network_retries=max_network_retries,
        )

    async def close(self) -> None:
        """Close the HTTP connections (at shutdown)."""
        await self.http_client.close_async()  # type: ignore[no-untyped-call]

    async def create_payment_intent(self, deposit_id: str, amount: int) -> PaymentIntentView:
        """A PaymentIntent for `amount` fen in CNY, tagged with the deposit id."""
        intent = await self._call(
            self.client.v1.payment_intents.create_async(
                params={
                    "amount": amount,
                    "currency": CURRENCY,
                    "metadata": {"deposit_id": deposit_id},
                },
                options={"idempotency_key": deposit_idempotency_key(deposit_id)},
            )
        )
        return _intent_view(intent)

    async def payment_intent(self, intent_id: str) -> PaymentIntentView | None:
        """Stripe's current view of a PaymentIntent; None if Stripe does not know it."""
        try:
            intent = await self._call(self.client.v1.payment_intents.retrieve_async(intent_id))
        except GatewayDeclined as error:
            if error.code in ("resource_missing", "not_found"):
                return None
            raise
        return _intent_view(intent)

    async def create_transfer(
        self, withdrawal_id: str, amount: int, destination: str
    ) -> TransferView:
        """A Connect transfer of `amount` fen to `destination`, at most once per withdrawal."""
        transfer = await self._call(
            self.client.v1.transfers.create_async(
                params={
                    "amount": amount,
                    "currency": CURRENCY,
                    "destination": destination,
                    "metadata": {"withdrawal_id": withdrawal_id},
                    "transfer_group": withdrawal_id,
                },
                options={"idempotency_key": payout_idempotency_key(withdrawal_id)},
            )
        )
        return _transfer_view(transfer)

    async def payment_intents_since(
        self, since: datetime | None
    ) -> AsyncIterator[PaymentIntentView]:
        """Every PaymentIntent created at or after `since` (filtered here: not every Stripe
        stand-in supports the `created` filter)."""
        page = await self._call(self.client.v1.payment_intents.list_async(params={"limit": 100}))
        async for intent in page.auto_paging_iter():
            view = _intent_view(intent)
            if since is None or view.created >= int(since.timestamp()):
                yield view

    async def transfers_since(self, since: datetime | None) -> AsyncIterator[TransferView]:
        """Every transfer created at or after `since`."""
        page = await self._call(self.client.v1.transfers.list_async(params={"limit": 100}))
        async for transfer in page.auto_paging_iter():
            view = _transfer_view(transfer)
            if since is None or view.created >= int(since.timestamp()):
                yield view

    @staticmethod
    async def _call(awaitable: Any) -> Any:
        try:
            return await awaitable
        except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as error:
            raise GatewayUnavailable(str(error) or type(error).__name__) from error
        except stripe.StripeError as error:
            if error.http_status is not None and error.http_status >= 500:
                raise GatewayUnavailable(str(error)) from error
            raise GatewayDeclined(
                getattr(error, "user_message", None) or str(error) or type(error).__name__,
                code=error.code or ("not_found" if error.http_status == 404 else None),
            ) from error


def gateway_from_settings(settings: Settings) -> StripeGateway | None:
    """The gateway, or None when `STRIPE_API_KEY` is unset (card payments are then off)."""
    if settings.stripe_api_key is None or not settings.stripe_api_key.get_secret_value():
        return None
    return StripeGateway(
        settings.stripe_api_key.get_secret_value(), api_base=settings.stripe_api_base
    )


def now() -> float:
    """Seconds since the epoch, for the webhook's future-timestamp check."""
    return time.time()
