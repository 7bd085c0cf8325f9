"""Reconciliation finds every difference between our deposits/payouts and Stripe's
PaymentIntents/transfers (a recording fake Stripe), and `market reconcile` exits non-zero."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from market.db.engine import create_engine, session_factory
from market.payments.reconcile import Reconciler
from market.settings import Settings
from tests.api.payments.conftest import FakeConnect, Payouts, sign


async def differences(
    settings: Settings, connect: FakeConnect, since: datetime
) -> set[tuple[str, str, str]]:
    engine = create_engine(settings.database_url or "", 1)
    gateway = connect.gateway()
    try:
        async with session_factory(engine)() as session:
            found = await Reconciler(session, gateway).differences(since)
    finally:
        await engine.dispose()
        await gateway.close()
    return {(d.subject, d.ref, d.problem) for d in found}


async def card_deposit(payouts: Payouts, party: Any, amount: str) -> dict[str, Any]:
    response = await party.post("/v1/deposits", json={"amount": amount})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def succeed(payouts: Payouts, deposit: dict[str, Any], *, deliver: bool) -> None:
    intent = payouts.connect.intents[deposit["payment_intent_id"]]
    intent["status"] = "succeeded"
    if deliver:
        event = {"id": f"evt_{intent['id']}", "type": "payment_intent.succeeded",
                 "data": {"object": intent}}  # fmt: skip
        payload = json.dumps(event).encode()
        response = await payouts.client.post(
            "/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
        )
        assert response.status_code == 200 and response.json()["effect"] == "credited"


async def test_agreement_then_every_kind_of_difference(
    payouts: Payouts, settings: Settings
) -> None:
    since = datetime.now(UTC)
    connect = payouts.connect
    party = await payouts.funded("collective", "50.00")
    account = await payouts.connect_account(party)
    credited = await card_deposit(payouts, party, "10.00")
    await succeed(payouts, credited, deliver=True)
    withdrawal = await payouts.withdrawal(party, "20.00")
    paid = await payouts.operator.post(f"/v1/withdrawals/{withdrawal['id']}/payout")
    assert paid.json()["status"] == "paid"
    connect.refusing.add(account)
    refused = await payouts.withdrawal(party, "1.00")
    assert (await payouts.operator.post(f"/v1/withdrawals/{refused['id']}/payout")).json()[
        "status"
    ] == "failed"
    assert await differences(settings, connect, since) == set()

    unapplied = await card_deposit(payouts, party, "3.00")
    await succeed(payouts, unapplied, deliver=False)  # the webhook never arrived
    vanished = await card_deposit(payouts, party, "4.00")
    del connect.intents[vanished["payment_intent_id"]]
    connect.intents["pi_foreign"] = {
        "id": "pi_foreign", "object": "payment_intent", "amount": 700, "currency": "cny",
        "status": "succeeded", "metadata": {}, "created": int(since.timestamp()) + 1,
    }  # fmt: skip
    (transfer,) = connect.transfers.values()
    transfer["amount"] += 1
    connect.transfers["tr_foreign"] = {
        "id": "tr_foreign", "object": "transfer", "amount": 5, "currency": "cny",
        "destination": "acct_other", "metadata": {}, "created": int(since.timestamp()) + 1,
        "reversed": False, "_key": None,
    }  # fmt: skip
    assert await differences(settings, connect, since) == {
        ("deposit", unapplied["id"], "status_mismatch"),
        ("deposit", vanished["id"], "missing_at_stripe"),
        ("deposit", "pi_foreign", "missing_here"),
        ("payout", withdrawal["id"], "amount_mismatch"),
        ("payout", "tr_foreign", "missing_here"),
    }


async def test_cli_exit_codes(
    payouts: Payouts,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from market import cli
    from market.payments import gateway as gateway_module
    from market.settings import get_settings

    party = await payouts.funded("collective", "1.00")
    deposit = await card_deposit(payouts, party, "2.00")
    await succeed(payouts, deposit, deliver=False)
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    get_settings.cache_clear()
    try:
        monkeypatch.setattr(gateway_module, "gateway_from_settings", lambda _: None)
        assert await asyncio.to_thread(cli.main, ["reconcile"]) == 2
        monkeypatch.setattr(
            gateway_module, "gateway_from_settings", lambda _: payouts.connect.gateway()
        )
        today = datetime.now(UTC).date().isoformat()
        assert await asyncio.to_thread(cli.main, ["reconcile", "--since", today]) == 1
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert f"deposit {deposit['id']}: status_mismatch: pending here, succeeded at Stripe" in out
    assert "difference(s)" in out
