"""Withdrawals paid out through Stripe Connect (stripe's own HTTP client over a recording
transport: localstripe has no Connect), and marked paid / failed by the operator."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Actor
from tests.api.payments.conftest import Payouts


async def cash(actor: Actor) -> tuple[str, str]:
    body = (await actor.get("/v1/cash")).json()
    return body["available"], body["reserved"]


async def entry_kinds(actor: Actor, ref_id: str) -> list[tuple[str, list[tuple[str, str]]]]:
    items = (await actor.get("/v1/ledger/entries")).json()["items"]
    return [
        (e["kind"], [(p["account"], p["amount"]) for p in e["postings"]])
        for e in items
        if e["ref_id"] == ref_id
    ]


class TestConnectedAccount:
    async def test_operator_sets_it_and_the_party_reads_it(self, payouts: Payouts) -> None:
        party = await payouts.make_party("collective")
        path = f"/v1/parties/{party.id}/stripe-account"
        assert (await party.get(path)).status_code == 404
        first = await payouts.connect_account(party, "acct_First1")
        second = await payouts.connect_account(party, "acct_Second2")
        assert (first, second) == ("acct_First1", "acct_Second2")
        for reader in (party, payouts.operator):
            response = await reader.get(path)
            assert response.status_code == 200, response.text
            assert (response.json()["party_id"], response.json()["account_id"]) == (
                party.id, "acct_Second2",
            )  # fmt: skip

    async def test_refusals(self, payouts: Payouts) -> None:
        party = await payouts.make_party("collective")
        other = await payouts.make_party("enterprise")
        regulator = await payouts.make_party("regulator")
        path = f"/v1/parties/{party.id}/stripe-account"
        assert (await other.get(path)).status_code == 404
        for actor in (party, other, regulator):
            response = await actor.post(path, json={"account_id": "acct_x1"})
            assert response.status_code == 403, response.text
        for body in ({"account_id": "acc_1"}, {"account_id": "acct_"}, {"account_id": "acct_a-b"},
                     {"account_id": "acct_1\u0000"}, {}, {"account_id": "acct_1", "x": 1}):  # fmt: skip
            response = await payouts.operator.post(path, json=body)
            assert response.status_code == 422, (body, response.text)
        missing = await payouts.operator.post(
            "/v1/parties/pty_missing/stripe-account", json={"account_id": "acct_1"}
        )
        assert missing.status_code == 404
        not_trader = await payouts.operator.post(
            f"/v1/parties/{regulator.id}/stripe-account", json={"account_id": "acct_1"}
        )
        assert not_trader.status_code == 404, not_trader.text  # no such trading party
        assert (await payouts.operator.get(path)).status_code == 404


class TestPayout:
    async def test_paid_by_one_transfer_with_our_idempotency_key(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "100.00")
        account = await payouts.connect_account(party)
        withdrawal = await payouts.withdrawal(party, "30.25")
        path = f"/v1/withdrawals/{withdrawal['id']}/payout"
        response = await payouts.operator.post(path)
        assert response.status_code == 200, response.text
        paid = response.json()
        assert paid["status"] == "paid" and paid["paid_at"]
        (request,) = payouts.connect.transfer_requests()
        assert request.idempotency_key == f"market:payout:{withdrawal['id']}"
        assert request.form == {
            "amount": "3025", "currency": "cny", "destination": account,
            "metadata[withdrawal_id]": withdrawal["id"], "transfer_group": withdrawal["id"],
        }  # fmt: skip
        assert paid["payment_reference"] in payouts.connect.transfers
        assert await cash(party) == ("69.75", "0.00")
        assert ("withdrawal_paid", [(f"party:{party.id}:reserved", "-30.25"),
                                    ("external:stripe", "30.25")]) in await entry_kinds(
            party, withdrawal["id"])  # fmt: skip
        again = await payouts.operator.post(path)
        assert again.status_code == 409 and again.json()["code"] == "invalid_status"
        assert len(payouts.connect.transfer_requests()) == 1

    async def test_refused_transfer_fails_and_releases(self, payouts: Payouts) -> None:
        party = await payouts.funded("enterprise", "40.00")
        account = await payouts.connect_account(party)
        payouts.connect.refusing.add(account)
        withdrawal = await payouts.withdrawal(party, "40.00")
        assert await cash(party) == ("0.00", "40.00")
        response = await payouts.operator.post(f"/v1/withdrawals/{withdrawal['id']}/payout")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "failed"
        assert "No such destination" in response.json()["failure_reason"]
        assert await cash(party) == ("40.00", "0.00")
        # The reservation and its release are holds: no money moved, no journal entry.
        assert await entry_kinds(party, withdrawal["id"]) == []
        again = await payouts.operator.post(f"/v1/withdrawals/{withdrawal['id']}/payout")
        assert again.status_code == 409
        assert len(payouts.connect.transfer_requests()) == 1

    async def test_stripe_down_changes_nothing_and_the_retry_pays_once(
        self, payouts: Payouts
    ) -> None:
        party = await payouts.funded("government", "10.00")
        await payouts.connect_account(party)
        withdrawal = await payouts.withdrawal(party, "10.00")
        path = f"/v1/withdrawals/{withdrawal['id']}/payout"
        payouts.connect.down = True
        response = await payouts.operator.post(path)
        assert response.status_code == 503, response.text
        assert response.json()["code"] == "stripe_unavailable"
        assert (await party.get(f"/v1/withdrawals/{withdrawal['id']}")).json()["status"] == (
            "pending"
        )
        assert await cash(party) == ("0.00", "10.00")
        payouts.connect.down = False
        assert (await payouts.operator.post(path)).json()["status"] == "paid"
        keys = {r.idempotency_key for r in payouts.connect.transfer_requests()}
        assert keys == {f"market:payout:{withdrawal['id']}"}
        assert len(payouts.connect.transfers) == 1
        assert await cash(party) == ("0.00", "0.00")

    async def test_concurrent_payouts_send_one_transfer(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "9.00")
        await payouts.connect_account(party)
        withdrawal = await payouts.withdrawal(party, "9.00")
        path = f"/v1/withdrawals/{withdrawal['id']}/payout"
        responses = await asyncio.gather(*(payouts.operator.post(path) for _ in range(5)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409, 409, 409, 409], [r.text for r in responses]
        assert len(payouts.connect.transfer_requests()) == 1
        assert await cash(party) == ("0.00", "0.00")

    async def test_refusals_change_nothing(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "5.00")
        withdrawal = await payouts.withdrawal(party, "5.00")
        path = f"/v1/withdrawals/{withdrawal['id']}/payout"
        no_account = await payouts.operator.post(path)
        assert no_account.status_code == 409
        assert no_account.json()["code"] == "no_connected_account"
        await payouts.connect_account(party)
        for actor in (party, await payouts.make_party("regulator")):
            assert (await actor.post(path)).status_code == 403
        assert (await payouts.operator.post("/v1/withdrawals/wdr_missing/payout")).status_code == (
            404
        )
        regulator = await payouts.make_party("regulator")
        frozen = await regulator.post(f"/v1/oversight/parties/{party.id}/freeze")
        assert frozen.status_code == 200, frozen.text
        refused = await payouts.operator.post(path)
        assert refused.status_code == 409 and refused.json()["code"] == "party_frozen"
        assert payouts.connect.transfer_requests() == []
        assert await cash(party) == ("0.00", "5.00")

    async def test_idempotency_key_replays_the_payout(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "7.00")
        await payouts.connect_account(party)
        withdrawal = await payouts.withdrawal(party, "7.00")
        headers = {**payouts.operator.headers, "Idempotency-Key": f"payout-{withdrawal['id']}"}
        path = f"/v1/withdrawals/{withdrawal['id']}/payout"
        first, second = [await payouts.client.post(path, headers=headers) for _ in range(2)]
        assert first.status_code == second.status_code == 200
        assert first.json() == second.json()
        assert len(payouts.connect.transfer_requests()) == 1


class TestOperatorMarks:
    async def test_paid_with_a_bank_reference(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "3.00")
        withdrawal = await payouts.withdrawal(party, "3.00")
        response = await payouts.operator.post(
            f"/v1/withdrawals/{withdrawal['id']}/paid", json={"reference": "BOC-20261201-7"}
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["payment_reference"]) == (
            "paid", "BOC-20261201-7",
        )  # fmt: skip
        assert await cash(party) == ("0.00", "0.00")

    async def test_failed_releases_and_is_final(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "3.00")
        withdrawal = await payouts.withdrawal(party, "2.00")
        path = f"/v1/withdrawals/{withdrawal['id']}"
        assert (await party.post(f"{path}/failed")).status_code == 403
        response = await payouts.operator.post(f"{path}/failed", json={"reason": "account closed"})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert (body["status"], body["failure_reason"]) == ("failed", "account closed")
        assert body["failed_at"]
        assert await cash(party) == ("3.00", "0.00")
        for action in ("paid", "failed", "payout"):
            again = await payouts.operator.post(f"{path}/{action}")
            assert again.status_code == 409, (action, again.text)
        party_cancel = await party.post(f"{path}/cancel")
        assert party_cancel.status_code == 409
        assert await cash(party) == ("3.00", "0.00")
        bad = await payouts.operator.post(f"{path}/failed", json={"reason": 5})
        assert bad.status_code == 422

    async def test_lists(self, payouts: Payouts) -> None:
        party = await payouts.funded("collective", "10.00")
        other = await payouts.funded("enterprise", "10.00")
        first = await payouts.withdrawal(party, "1.00")
        second = await payouts.withdrawal(party, "2.00")
        await payouts.withdrawal(other, "3.00")
        await payouts.operator.post(f"/v1/withdrawals/{first['id']}/failed")
        own = (await party.get("/v1/withdrawals")).json()
        assert [w["id"] for w in own["items"]] == [second["id"], first["id"]]
        pending = (await party.get("/v1/withdrawals", params={"status": "pending"})).json()
        assert [w["id"] for w in pending["items"]] == [second["id"]]
        paged = (await party.get("/v1/withdrawals", params={"limit": 1})).json()
        assert [w["id"] for w in paged["items"]] == [second["id"]] and paged["next_cursor"]
        assert (await party.get("/v1/withdrawals", params={"party_id": other.id})).status_code == (
            404
        )
        by_operator = await payouts.operator.get("/v1/withdrawals", params={"party_id": party.id})
        assert [w["id"] for w in by_operator.json()["items"]] == [second["id"], first["id"]]
        deposits = await payouts.operator.get("/v1/deposits", params={"party_id": other.id})
        assert [d["party_id"] for d in deposits.json()["items"]] == [other.id]
        bad = await party.get("/v1/withdrawals", params={"status": "lost"})
        assert bad.status_code == 422, bad.text
