"""The webhook credits only what Stripe itself confirms (re-read, amount, currency, metadata),
and an event it could not check is not stored: Stripe's redelivery applies it."""

from __future__ import annotations

import json
from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.conftest import Actor, PartyFactory
from tests.api.payments.conftest import Payouts, sign


async def deliver(payouts: Payouts, intent: dict[str, Any], event_id: str) -> Any:
    payload = json.dumps(
        {"id": event_id, "type": "payment_intent.succeeded", "data": {"object": intent}}
    ).encode()
    return await payouts.client.post(
        "/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
    )


async def pending_deposit(payouts: Payouts, amount: str = "6.00") -> tuple[Actor, dict[str, Any]]:
    party = await payouts.make_party("enterprise")
    response = await party.post("/v1/deposits", json={"amount": amount})
    assert response.status_code == 201, response.text
    return party, dict(response.json())


async def state(party: Actor, deposit_id: str) -> tuple[str, str]:
    deposit = (await party.get(f"/v1/deposits/{deposit_id}")).json()
    return deposit["status"], (await party.get("/v1/cash")).json()["available"]


async def test_what_stripe_reports_must_match_the_deposit(payouts: Payouts) -> None:
    for change in ({"amount": 601}, {"currency": "usd"}, {"metadata": {"deposit_id": "dep_x"}}):
        party, deposit = await pending_deposit(payouts)
        intent = payouts.connect.intents[deposit["payment_intent_id"]]
        intent.update(status="succeeded", **change)
        response = await deliver(payouts, intent, f"evt_{intent['id']}")
        assert response.status_code == 200, response.text
        assert response.json()["effect"].startswith("mismatch"), (change, response.json())
        assert await state(party, deposit["id"]) == ("pending", "0.00"), change


async def test_unreadable_stripe_means_503_and_the_event_is_not_kept(payouts: Payouts) -> None:
    party, deposit = await pending_deposit(payouts)
    intent = payouts.connect.intents[deposit["payment_intent_id"]]
    intent["status"] = "succeeded"
    payouts.connect.down = True
    refused = await deliver(payouts, intent, f"evt_{intent['id']}")
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "stripe_unavailable"
    payouts.connect.down = False
    assert await state(party, deposit["id"]) == ("pending", "0.00")
    again = await deliver(payouts, intent, f"evt_{intent['id']}")  # Stripe redelivers
    assert again.status_code == 200 and again.json()["duplicate"] is False
    assert again.json()["effect"] == "credited"
    assert await state(party, deposit["id"]) == ("succeeded", "6.00")


async def test_unknown_payment_intent_changes_nothing(payouts: Payouts) -> None:
    intent = {"id": "pi_not_ours", "object": "payment_intent", "amount": 100, "currency": "cny",
              "status": "succeeded", "metadata": {}}  # fmt: skip
    response = await deliver(payouts, intent, "evt_not_ours_" + str(id(intent)))
    assert response.status_code == 200
    assert response.json()["effect"] == "unknown_payment_intent"


async def test_without_stripe_webhooks_and_payouts_are_refused(
    client: AsyncTestClient[Any], operator: Actor, make_party: PartyFactory
) -> None:
    payload = b'{"id": "evt_unconfigured", "type": "x", "data": {"object": {}}}'
    response = await client.post(
        "/v1/webhooks/stripe", content=payload, headers={"Stripe-Signature": sign(payload)}
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "stripe_not_configured"
    party = await make_party("enterprise")
    funded = await operator.post(
        "/v1/deposits",
        json={"party_id": party.id, "amount": "2.00", "method": "bank_transfer", "reference": "B"},
    )
    assert funded.status_code == 201, funded.text
    withdrawal = (await party.post("/v1/withdrawals", json={"amount": "2.00"})).json()
    payout = await operator.post(f"/v1/withdrawals/{withdrawal['id']}/payout")
    assert payout.status_code == 409, payout.text
    assert payout.json()["code"] == "stripe_not_configured"
    assert (await party.get("/v1/cash")).json()["reserved"] == "2.00"
    cancelled = await party.post(f"/v1/withdrawals/{withdrawal['id']}/cancel")
    assert cancelled.status_code == 200
