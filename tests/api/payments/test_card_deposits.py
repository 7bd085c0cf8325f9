"""Card deposits against a real localstripe: a PaymentIntent per deposit, credited only by the
signed `payment_intent.succeeded` webhook, once, whatever the deliveries' order, repetition or
concurrency (API.md "Cash and payments"; DOMAIN.md invariant 9)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

import pytest

from tests.api.conftest import Actor
from tests.api.payments.conftest import Shop, sign

DECLINED_CARD = "4000000000000341"  # attaches, then the charge is declined


async def cash(actor: Actor) -> tuple[str, str]:
    body = (await actor.get("/v1/cash")).json()
    return body["available"], body["reserved"]


async def deposit_status(actor: Actor, deposit_id: str) -> dict[str, Any]:
    response = await actor.get(f"/v1/deposits/{deposit_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def deposit_entries(actor: Actor) -> list[dict[str, Any]]:
    items = (await actor.get("/v1/ledger/entries")).json()["items"]
    return [e for e in items if e["kind"] == "deposit"]


class TestCardDeposit:
    @pytest.mark.parametrize("kind", ["enterprise", "collective", "government"])
    async def test_paid_card_is_credited_by_the_webhook(self, shop: Shop, kind: str) -> None:
        party = await shop.make_party(kind)
        deposit = await shop.card_deposit(party, "12.34")
        assert (deposit["status"], deposit["provider"], deposit["amount"]) == (
            "pending", "stripe", "12.34",
        )  # fmt: skip
        assert deposit["payment_intent_id"].startswith("pi_")
        assert deposit["client_secret"].startswith(deposit["payment_intent_id"] + "_secret_")
        intent = shop.stripe.intent(deposit["payment_intent_id"])
        assert (intent["amount"], intent["currency"]) == (1234, "cny")
        assert intent["metadata"] == {"deposit_id": deposit["id"]}

        assert shop.stripe.pay(deposit["payment_intent_id"]).status_code == 200
        assert await cash(party) == ("0.00", "0.00")  # nothing before the webhook

        response = await shop.deliver(
            shop.stripe.event("payment_intent.succeeded", deposit["payment_intent_id"])
        )
        assert response.status_code == 200, response.text
        assert (response.json()["effect"], response.json()["deposit_id"]) == (
            "credited", deposit["id"],
        )  # fmt: skip
        assert await cash(party) == ("12.34", "0.00")
        fetched = await deposit_status(party, deposit["id"])
        assert fetched["status"] == "succeeded" and fetched["completed_at"]
        (entry,) = await deposit_entries(party)
        assert [(p["account"], p["amount"]) for p in entry["postings"]] == [
            ("external:stripe", "-12.34"),
            (f"party:{party.id}:available", "12.34"),
        ]
        listed = (await party.get("/v1/deposits")).json()
        assert [d["id"] for d in listed["items"]] == [deposit["id"]]

    async def test_declined_card_marks_the_deposit_failed(self, shop: Shop) -> None:
        party = await shop.make_party("enterprise")
        deposit = await shop.card_deposit(party, "50.00")
        declined = shop.stripe.pay(deposit["payment_intent_id"], DECLINED_CARD)
        assert declined.status_code == 402, declined.text
        response = await shop.deliver(
            shop.stripe.event("payment_intent.payment_failed", deposit["payment_intent_id"])
        )
        assert response.status_code == 200, response.text
        assert response.json()["effect"] == "failed"
        fetched = await deposit_status(party, deposit["id"])
        assert fetched["status"] == "failed" and fetched["failure_reason"]
        assert await cash(party) == ("0.00", "0.00")
        # A succeeded event Stripe does not back (the intent is not paid) changes nothing.
        forged = await shop.deliver(
            shop.stripe.event("payment_intent.succeeded", deposit["payment_intent_id"])
        )
        assert forged.status_code == 200, forged.text
        assert (await deposit_status(party, deposit["id"]))["status"] == "failed"
        assert await cash(party) == ("0.00", "0.00")
        assert await deposit_entries(party) == []

    async def test_retry_with_another_card_after_a_decline_is_credited(self, shop: Shop) -> None:
        party = await shop.make_party("enterprise")
        deposit = await shop.card_deposit(party, "8.00")
        intent_id = deposit["payment_intent_id"]
        assert shop.stripe.pay(intent_id, DECLINED_CARD).status_code == 402
        failed = shop.stripe.event("payment_intent.payment_failed", intent_id)
        assert shop.stripe.pay(intent_id).status_code == 200
        succeeded = shop.stripe.event("payment_intent.succeeded", intent_id)
        for event in (failed, succeeded):
            assert (await shop.deliver(event)).status_code == 200
        assert (await deposit_status(party, deposit["id"]))["status"] == "succeeded"
        assert await cash(party) == ("8.00", "0.00")

    async def test_succeeded_event_before_payment_credits_nothing(self, shop: Shop) -> None:
        party = await shop.make_party("enterprise")
        deposit = await shop.card_deposit(party, "5.00")
        event = shop.stripe.event("payment_intent.succeeded", deposit["payment_intent_id"])
        event["data"]["object"]["status"] = "succeeded"  # the body claims it; Stripe does not
        response = await shop.deliver(event)
        assert response.status_code == 200, response.text
        assert response.json()["effect"].startswith("not_succeeded_at_stripe")
        assert (await deposit_status(party, deposit["id"]))["status"] == "pending"
        assert await cash(party) == ("0.00", "0.00")

    async def test_other_events_are_stored_and_ignored(self, shop: Shop) -> None:
        event = {"id": "evt_other_" + str(time.time_ns()), "type": "customer.created",
                 "data": {"object": {"id": "cus_1", "object": "customer"}}}  # fmt: skip
        response = await shop.deliver(event)
        assert response.status_code == 200, response.text
        assert (response.json()["effect"], response.json()["duplicate"]) == ("ignored", False)
        assert (await shop.deliver(event)).json()["duplicate"] is True

    async def test_card_deposit_idempotency_key(self, shop: Shop) -> None:
        party = await shop.make_party("enterprise")
        headers = {**party.headers, "Idempotency-Key": f"card-{party.id}"}

        async def post() -> Any:
            return await shop.client.post("/v1/deposits", json={"amount": "3.00"}, headers=headers)

        responses = await asyncio.gather(*(post() for _ in range(5)))
        assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
        created = [r.json() for r in responses if r.status_code == 201]
        assert created and all(body == created[0] for body in created)
        for r in responses:
            if r.status_code == 409:
                assert r.json()["code"] == "idempotency_key_in_use"
        again = await post()
        assert again.status_code == 201 and again.json() == created[0]
        listed = (await party.get("/v1/deposits")).json()["items"]
        assert [d["id"] for d in listed] == [created[0]["id"]]

    async def test_refusals(self, shop: Shop) -> None:
        party = await shop.make_party("enterprise")
        for body in (
            {"amount": "0.00"},
            {"amount": "1.5"},
            {"amount": 10},
            {"amount": "1.00", "party_id": party.id},
            {"amount": "1.00", "method": "bank_transfer"},
            {"amount": "1.00\u0000"},
            {},
        ):
            response = await party.post("/v1/deposits", json=body)
            assert response.status_code == 422, (body, response.text)
        for kind in ("registrar", "certifier", "regulator"):
            other = await shop.make_party(kind)
            response = await other.post("/v1/deposits", json={"amount": "1.00"})
            assert response.status_code == 403, response.text
        assert (await party.get("/v1/deposits")).json()["items"] == []
        assert await cash(party) == ("0.00", "0.00")


class TestWebhookSignature:
    async def _paid(self, shop: Shop) -> tuple[Actor, dict[str, Any], dict[str, Any]]:
        party = await shop.make_party("enterprise")
        deposit = await shop.card_deposit(party, "20.00")
        assert shop.stripe.pay(deposit["payment_intent_id"]).status_code == 200
        event = shop.stripe.event("payment_intent.succeeded", deposit["payment_intent_id"])
        return party, deposit, event

    async def test_refused_signatures_change_nothing(self, shop: Shop) -> None:
        party, deposit, event = await self._paid(shop)
        payload = json.dumps(event).encode()
        tampered = payload.replace(b'"amount": 2000', b'"amount": 2001')
        assert tampered != payload
        # A minute's margin past the 300 s tolerance: the server reads its clock seconds later.
        now = int(time.time())
        refusals = {
            "tampered body": dict(body=tampered, signature=sign(payload)),
            "wrong secret": dict(body=payload, signature=sign(payload, "whsec_wrong")),
            "missing": dict(body=payload, signature=""),
            "garbage": dict(body=payload, signature="not-a-signature"),
            "stale": dict(body=payload, signature=sign(payload, timestamp=now - 360)),
            "future": dict(body=payload, signature=sign(payload, timestamp=now + 360)),
            "not utf-8": dict(body=b"\xff" + payload, signature=sign(b"\xff" + payload)),
        }
        for name, refusal in refusals.items():
            response = await shop.deliver(event, **refusal)  # type: ignore[arg-type]
            assert response.status_code == 400, (name, response.text)
            assert response.json()["code"] == "invalid_signature", name
            assert await cash(party) == ("0.00", "0.00"), name
            assert (await deposit_status(party, deposit["id"]))["status"] == "pending"
        # None of them was stored: the genuine delivery of the same event still applies.
        response = await shop.deliver(event)
        assert response.status_code == 200 and response.json()["effect"] == "credited"
        assert await cash(party) == ("20.00", "0.00")

    async def test_timestamps_within_tolerance_are_accepted(self, shop: Shop) -> None:
        party, _, event = await self._paid(shop)
        payload = json.dumps(event).encode()
        response = await shop.deliver(
            event, body=payload, signature=sign(payload, timestamp=int(time.time()) + 240)
        )
        assert response.status_code == 200, response.text
        assert await cash(party) == ("20.00", "0.00")

    async def test_signed_garbage_is_a_400(self, shop: Shop) -> None:
        for body in (b"not json", b"[]", b'{"id": "evt_x"}', b'{"id": "evt_\\u0000", "type": "a", '
                     b'"data": {"object": {}}}'):  # fmt: skip
            response = await shop.deliver({}, body=body, signature=sign(body))
            assert response.status_code == 400, (body, response.text)
            assert response.json()["code"] == "malformed_event"


class TestRepeatedEvents:
    async def test_same_event_five_times_in_a_row(self, shop: Shop) -> None:
        party, deposit, event = await TestWebhookSignature()._paid(shop)
        responses = [await shop.deliver(event) for _ in range(5)]
        assert [r.status_code for r in responses] == [200] * 5
        assert [r.json()["duplicate"] for r in responses] == [False] + [True] * 4
        assert await cash(party) == ("20.00", "0.00")
        assert len(await deposit_entries(party)) == 1
        assert (await deposit_status(party, deposit["id"]))["status"] == "succeeded"

    async def test_same_event_five_times_at_once(self, shop: Shop) -> None:
        party, _, event = await TestWebhookSignature()._paid(shop)
        responses = await asyncio.gather(*(shop.deliver(event) for _ in range(5)))
        assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
        assert sorted(r.json()["duplicate"] for r in responses) == [False] + [True] * 4
        assert await cash(party) == ("20.00", "0.00")
        assert len(await deposit_entries(party)) == 1

    async def test_distinct_events_for_one_payment_at_once(self, shop: Shop) -> None:
        """Stripe may send several events (different ids) about one intent: one credit."""
        party, deposit, _ = await TestWebhookSignature()._paid(shop)
        intent = deposit["payment_intent_id"]
        events = [shop.stripe.event("payment_intent.succeeded", intent) for _ in range(3)]
        events += [shop.stripe.event("payment_intent.payment_failed", intent) for _ in range(2)]
        responses = await asyncio.gather(*(shop.deliver(e) for e in events))
        assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
        assert sorted(r.json()["effect"] for r in responses).count("credited") == 1
        assert await cash(party) == ("20.00", "0.00")
        assert (await deposit_status(party, deposit["id"]))["status"] == "succeeded"

    async def test_shuffled_events_end_as_in_order(self, shop: Shop) -> None:
        seed = int(os.environ.get("PAYMENTS_SEED", random.randrange(1 << 32)))
        print(f"PAYMENTS_SEED={seed}")
        rng = random.Random(seed)
        party = await shop.make_party("enterprise")
        paid = await shop.card_deposit(party, "1.00")
        declined = await shop.card_deposit(party, "2.00")
        retried = await shop.card_deposit(party, "4.00")
        unpaid = await shop.card_deposit(party, "8.00")
        events: list[dict[str, Any]] = []
        assert shop.stripe.pay(paid["payment_intent_id"]).status_code == 200
        events.append(shop.stripe.event("payment_intent.succeeded", paid["payment_intent_id"]))
        assert shop.stripe.pay(declined["payment_intent_id"], DECLINED_CARD).status_code == 402
        events.append(
            shop.stripe.event("payment_intent.payment_failed", declined["payment_intent_id"])
        )
        assert shop.stripe.pay(retried["payment_intent_id"], DECLINED_CARD).status_code == 402
        events.append(
            shop.stripe.event("payment_intent.payment_failed", retried["payment_intent_id"])
        )
        assert shop.stripe.pay(retried["payment_intent_id"]).status_code == 200
        events.append(shop.stripe.event("payment_intent.succeeded", retried["payment_intent_id"]))
        events.append(shop.stripe.event("payment_intent.succeeded", unpaid["payment_intent_id"]))
        deliveries = events + rng.sample(events, 3)  # and some repeats
        rng.shuffle(deliveries)
        for event in deliveries:
            response = await shop.deliver(event)
            assert response.status_code == 200, response.text
        statuses = {
            name: (await deposit_status(party, d["id"]))["status"]
            for name, d in (("paid", paid), ("declined", declined), ("retried", retried),
                            ("unpaid", unpaid))
        }  # fmt: skip
        assert statuses == {
            "paid": "succeeded", "declined": "failed", "retried": "succeeded", "unpaid": "pending",
        }, seed  # fmt: skip
        assert await cash(party) == ("5.00", "0.00"), seed
        assert len(await deposit_entries(party)) == 2, seed
