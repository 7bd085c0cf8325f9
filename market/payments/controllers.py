"""Deposits (bank and card), the Stripe webhook, payouts and connected accounts over HTTP."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Litestar, Request, get, post
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from market.cash.models import DEPOSIT_STATUSES
from market.cash.schemas import DepositCreate, DepositOut, WithdrawalOut
from market.cash.service import CashService
from market.cash.views import deposit_out, withdrawal_out
from market.http.dependencies import CallerOf, Listing, Session
from market.kit.pagination import Page, page_of
from market.payments.gateway import StripeGateway, gateway_from_settings
from market.payments.schemas import ConnectedAccountOut, ConnectedAccountSet, WebhookReceipt
from market.payments.service import PaymentService
from market.settings import Settings

PartyQuery = Annotated[str | None, QueryParameter(max_length=64)]
DepositStatus = Literal[DEPOSIT_STATUSES]  # type: ignore[valid-type]


def payments(state: State, db_session: AsyncSession) -> PaymentService:
    """The service with this process's gateway (built once from the settings; a test may put
    its own in `app.state.stripe_gateway` before the first request)."""
    settings: Settings = state.settings
    if "stripe_gateway" not in state:
        state.stripe_gateway = gateway_from_settings(settings)
    gateway: StripeGateway | None = state.stripe_gateway
    secret = settings.stripe_webhook_secret
    return PaymentService(db_session, gateway, secret.get_secret_value() if secret else None)


async def close_gateway(app: Litestar) -> None:
    """At shutdown: close the gateway's connections, if a request built it."""
    gateway: StripeGateway | None = app.state.get("stripe_gateway")
    if gateway is not None:
        await gateway.close()


class PaymentController(Controller):
    path = "/v1"
    tags = ["cash"]  # noqa: RUF012

    @post("/deposits", status_code=201)
    async def deposit(
        self, data: JSONBody[DepositCreate], caller: CallerOf, db_session: Session, state: State
    ) -> DepositOut:
        """The operator records a bank transfer (`{party_id, amount, method, reference}`,
        available at once); a collective, enterprise or government pays by card (`{amount}`):
        a pending deposit with the Stripe PaymentIntent's `client_secret`."""
        return deposit_out(await payments(state, db_session).deposit(caller, data))

    @get("/deposits")
    async def deposits(
        self,
        caller: CallerOf,
        db_session: Session,
        list_params: Listing,
        party_id: PartyQuery = None,
        status: Annotated[DepositStatus | None, QueryParameter()] = None,
    ) -> Page[DepositOut]:
        """The caller's deposits, newest first; the operator and regulators see any party's
        (all parties' without `party_id`)."""
        rows = await CashService(db_session).list_deposits(
            caller, party_id, status=status, limit=list_params.limit, cursor=list_params.cursor
        )
        return page_of([deposit_out(d) for d in rows], list_params.limit)

    @post("/withdrawals/{withdrawal_id:str}/payout", status_code=200)
    async def payout(
        self, withdrawal_id: FromPath[str], caller: CallerOf, db_session: Session, state: State
    ) -> WithdrawalOut:
        """The operator pays a pending withdrawal by a Stripe Connect transfer: `paid`, or
        `failed` (released) when Stripe refuses."""
        service = payments(state, db_session)
        return withdrawal_out(await service.payout(caller, withdrawal_id))

    @post("/parties/{party_id:str}/stripe-account", status_code=200)
    async def set_connected_account(
        self,
        party_id: FromPath[str],
        data: JSONBody[ConnectedAccountSet],
        caller: CallerOf,
        db_session: Session,
        state: State,
    ) -> ConnectedAccountOut:
        """The operator sets the Stripe Connect account the party's payouts go to."""
        service = payments(state, db_session)
        account = await service.set_connected_account(caller, party_id, data.account_id)
        return ConnectedAccountOut.model_validate(account)

    @get("/parties/{party_id:str}/stripe-account")
    async def connected_account(
        self, party_id: FromPath[str], caller: CallerOf, db_session: Session, state: State
    ) -> ConnectedAccountOut:
        account = await payments(state, db_session).connected_account(caller, party_id)
        return ConnectedAccountOut.model_validate(account)


class StripeWebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["cash"]  # noqa: RUF012

    @post("/stripe", status_code=200)
    async def stripe_webhook(
        self, request: Request[Any, Any, Any], db_session: Session, state: State
    ) -> WebhookReceipt:
        """Stripe's events, signed (`Stripe-Signature`, no API key). The 2xx is sent only
        after the event's effect is committed; a repeated event gets a 2xx and does nothing."""
        body = await request.body()
        signature = request.headers.get("stripe-signature")
        return await payments(state, db_session).receive_webhook(body, signature)
