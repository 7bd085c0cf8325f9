"""Cash over HTTP (API.md "Cash and payments"): deposits, withdrawals, balances and the journal,
exact to the fen, with who may do what and what malformed money gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from market.cash.invariant_repository import CashInvariantRepository
from market.cash.invariants import cash_checks
from market.db.engine import create_engine
from market.settings import Settings
from tests.api.conftest import Actor, PartyFactory


@pytest.fixture(autouse=True)
async def cash_invariants_hold(settings: Settings) -> AsyncIterator[None]:
    yield
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = create_engine(settings.database_url or "", 1)
    try:
        async with AsyncSession(engine) as session:
            failed = [c for c in await cash_checks(session) if not c.ok]
    finally:
        await engine.dispose()
    assert not failed, failed


async def reserved_by_withdrawals(settings: Settings, party_id: str) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    engine = create_engine(settings.database_url or "", 1)
    try:
        async with AsyncSession(engine) as session:
            return (await CashInvariantRepository(session).reserved_by_withdrawals()).get(
                party_id, 0
            )
    finally:
        await engine.dispose()


async def deposit(
    operator: Actor, party: Actor, amount: str, key: str | None = None
) -> dict[str, Any]:
    headers = {**operator.headers, **({"Idempotency-Key": key} if key else {})}
    response = await operator.client.post(
        "/v1/deposits",
        json={"party_id": party.id, "amount": amount, "method": "bank_transfer",
              "reference": "BANK-REF-1"},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return dict(response.json())


async def cash_of(actor: Actor, party_id: str | None = None) -> dict[str, Any]:
    response = await actor.get("/v1/cash", params={"party_id": party_id} if party_id else None)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def entries_of(actor: Actor, party_id: str | None = None, **params: Any) -> dict[str, Any]:
    if party_id:
        params["party_id"] = party_id
    response = await actor.get("/v1/ledger/entries", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def balances(cash: dict[str, Any]) -> tuple[str, str, str]:
    return cash["available"], cash["reserved"], cash["total"]


def postings(entry: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["account"], p["amount"]) for p in entry["postings"]]


class TestDeposits:
    async def test_bank_deposit_is_available_at_once(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party = await make_party("enterprise")
        assert balances(await cash_of(party)) == ("0.00", "0.00", "0.00")
        body = await deposit(operator, party, "52.00")
        assert body["party_id"] == party.id
        assert (body["amount"], body["method"], body["status"]) == (
            "52.00", "bank_transfer", "succeeded",
        )  # fmt: skip
        assert body["reference"] == "BANK-REF-1" and body["created_at"].endswith("Z")
        cash = await cash_of(party)
        assert cash == {
            "party_id": party.id, "currency": "CNY", "available": "52.00", "reserved": "0.00",
            "total": "52.00", "fees": None,
        }  # fmt: skip
        await deposit(operator, party, "0.01")
        assert balances(await cash_of(party)) == ("52.01", "0.00", "52.01")

    async def test_ledger_shows_the_balanced_entry(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party = await make_party("collective")
        body = await deposit(operator, party, "1234.56")
        page = await entries_of(party)
        (entry,) = page["items"]
        assert page["next_cursor"] is None
        assert (entry["kind"], entry["ref_id"]) == ("deposit", body["id"])
        assert postings(entry) == [
            ("external:bank", "-1234.56"),
            (f"party:{party.id}:available", "1234.56"),
        ]
        assert sum(Decimal(p["amount"]) for p in entry["postings"]) == 0

    async def test_deposit_is_readable_by_owner_operator_and_regulator_only(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party, other = await make_party("enterprise"), await make_party("enterprise")
        regulator = await make_party("regulator")
        body = await deposit(operator, party, "10.00")
        for reader in (party, operator, regulator):
            response = await reader.get(f"/v1/deposits/{body['id']}")
            assert response.status_code == 200, response.text
            assert response.json() == body
        assert (await other.get(f"/v1/deposits/{body['id']}")).status_code == 404
        assert (await party.get("/v1/deposits/dep_missing")).status_code == 404

    async def test_card_deposit_needs_stripe(self, make_party: PartyFactory) -> None:
        for kind in ("collective", "enterprise"):
            party = await make_party(kind)
            response = await party.post("/v1/deposits", json={"amount": "10.00"})
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "stripe_not_configured"
            assert balances(await cash_of(party)) == ("0.00", "0.00", "0.00")

    @pytest.mark.parametrize("kind", ["registrar", "certifier", "regulator"])
    async def test_other_kinds_may_not_deposit(self, make_party: PartyFactory, kind: str) -> None:
        party = await make_party(kind)
        response = await party.post("/v1/deposits", json={"amount": "10.00"})
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"

    async def test_deposit_to_unknown_or_non_trading_party(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        regulator = await make_party("regulator")
        for party_id in ("pty_does_not_exist", regulator.id):
            response = await operator.post(
                "/v1/deposits",
                json={"party_id": party_id, "amount": "1.00", "method": "bank_transfer"},
            )
            assert response.status_code == 404, response.text
            assert response.json()["code"] == "unknown_party"
        response = await operator.post("/v1/deposits", json={"amount": "1.00"})
        assert response.status_code == 403, response.text  # the card shape is a trader's

    async def test_frozen_party_still_receives_deposits(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party, regulator = await make_party("enterprise"), await make_party("regulator")
        frozen = await regulator.post(f"/v1/oversight/parties/{party.id}/freeze")
        assert frozen.status_code == 200, frozen.text
        await deposit(operator, party, "7.00")
        assert balances(await cash_of(party)) == ("7.00", "0.00", "7.00")

    async def test_idempotency_key_gives_one_deposit(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party = await make_party("enterprise")
        key = f"dep-{party.id}"
        first = await deposit(operator, party, "25.00", key)
        again = await deposit(operator, party, "25.00", key)
        assert again == first
        assert balances(await cash_of(party)) == ("25.00", "0.00", "25.00")
        assert len((await entries_of(party))["items"]) == 1
        changed = await operator.client.post(
            "/v1/deposits",
            json={"party_id": party.id, "amount": "26.00", "method": "bank_transfer",
                  "reference": "BANK-REF-1"},
            headers={**operator.headers, "Idempotency-Key": key},
        )  # fmt: skip
        assert changed.status_code == 409, changed.text
        assert changed.json()["code"] == "idempotency_key_reused"
        assert balances(await cash_of(party)) == ("25.00", "0.00", "25.00")


MALFORMED_AMOUNTS = [
    "1.5", "1.234", "-1.00", 1.5, 100, "1e3", "0.00", "00.10", "1,00", " 1.00", "1.00\n",
    "１.００", "9999999999999999.00", "1" * 400 + ".00", "", None, [], {"amount": "1.00"},
    True,
]  # fmt: skip


class TestMalformedMoney:
    @pytest.mark.parametrize("amount", MALFORMED_AMOUNTS)
    async def test_deposit_amount(
        self, operator: Actor, make_party: PartyFactory, amount: Any
    ) -> None:
        party = await make_party("enterprise")
        response = await operator.post(
            "/v1/deposits",
            json={"party_id": party.id, "amount": amount, "method": "bank_transfer"},
        )
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["code"] == "validation_error"
        assert any("amount" in e["field"] for e in body["errors"]), body
        assert balances(await cash_of(party)) == ("0.00", "0.00", "0.00")

    @pytest.mark.parametrize("amount", MALFORMED_AMOUNTS)
    async def test_withdrawal_amount(
        self, operator: Actor, make_party: PartyFactory, amount: Any
    ) -> None:
        party = await make_party("enterprise")
        await deposit(operator, party, "100.00")
        response = await party.post("/v1/withdrawals", json={"amount": amount})
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "validation_error"
        assert balances(await cash_of(party)) == ("100.00", "0.00", "100.00")

    async def test_other_malformed_deposit_bodies(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party = await make_party("enterprise")
        for body in (
            {"party_id": party.id, "amount": "1.00", "method": "stripe"},
            {"party_id": party.id, "amount": "1.00", "method": "bank_transfer", "extra": 1},
            {"party_id": party.id, "amount": "1.00", "reference": "x" * 301},
            {"party_id": party.id, "amount": "1.00", "reference": "a\x00b"},
            {"party_id": party.id},
            ["not", "an", "object"],
        ):
            response = await operator.post("/v1/deposits", json=body)
            assert response.status_code == 422, (body, response.text)
        response = await operator.client.post(
            "/v1/deposits",
            content=b"{not json",
            headers={**operator.headers, "Content-Type": "application/json"},
        )
        assert 400 <= response.status_code < 500, response.text


class TestWithdrawals:
    async def test_reserve_then_paid_exact_to_the_fen(
        self, operator: Actor, make_party: PartyFactory, settings: Settings
    ) -> None:
        party = await make_party("collective")
        dep = await deposit(operator, party, "100.00")
        created = await party.post("/v1/withdrawals", json={"amount": "30.25"})
        assert created.status_code == 201, created.text
        withdrawal = created.json()
        assert (withdrawal["status"], withdrawal["amount"], withdrawal["party_id"]) == (
            "pending", "30.25", party.id,
        )  # fmt: skip
        assert balances(await cash_of(party)) == ("69.75", "30.25", "100.00")
        assert await reserved_by_withdrawals(settings, party.id) == 30_25

        paid = await operator.post(f"/v1/withdrawals/{withdrawal['id']}/paid")
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid" and paid.json()["paid_at"] is not None
        assert balances(await cash_of(party)) == ("69.75", "0.00", "69.75")
        assert await reserved_by_withdrawals(settings, party.id) == 0
        fetched = await party.get(f"/v1/withdrawals/{withdrawal['id']}")
        assert fetched.json() == paid.json()

        # The reservation is a hold (no entry); the payment is the one movement of value.
        page = await entries_of(party)
        assert [(e["kind"], e["ref_id"]) for e in page["items"]] == [
            ("withdrawal_paid", withdrawal["id"]),
            ("deposit", dep["id"]),
        ]
        paid_entry, _ = page["items"]
        assert postings(paid_entry) == [
            (f"party:{party.id}:reserved", "-30.25"),
            ("external:bank", "30.25"),
        ]

    async def test_cancel_releases_and_is_final(
        self, operator: Actor, make_party: PartyFactory, settings: Settings
    ) -> None:
        party = await make_party("enterprise")
        await deposit(operator, party, "50.00")
        withdrawal = (await party.post("/v1/withdrawals", json={"amount": "50.00"})).json()
        assert balances(await cash_of(party)) == ("0.00", "50.00", "50.00")
        cancelled = await party.post(f"/v1/withdrawals/{withdrawal['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert balances(await cash_of(party)) == ("50.00", "0.00", "50.00")
        assert await reserved_by_withdrawals(settings, party.id) == 0
        for actor, action in ((party, "cancel"), (operator, "paid")):
            again = await actor.post(f"/v1/withdrawals/{withdrawal['id']}/{action}")
            assert again.status_code == 409, again.text
            assert again.json()["code"] == "invalid_status"
        assert balances(await cash_of(party)) == ("50.00", "0.00", "50.00")

    async def test_paid_cannot_be_cancelled_or_paid_again(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party = await make_party("enterprise")
        await deposit(operator, party, "5.00")
        withdrawal = (await party.post("/v1/withdrawals", json={"amount": "5.00"})).json()
        assert (await operator.post(f"/v1/withdrawals/{withdrawal['id']}/paid")).status_code == 200
        for actor, action in ((party, "cancel"), (operator, "paid")):
            again = await actor.post(f"/v1/withdrawals/{withdrawal['id']}/{action}")
            assert again.status_code == 409, again.text
            assert again.json()["code"] == "invalid_status"
        assert balances(await cash_of(party)) == ("0.00", "0.00", "0.00")

    async def test_insufficient_funds(self, operator: Actor, make_party: PartyFactory) -> None:
        party = await make_party("enterprise")
        await deposit(operator, party, "10.00")
        response = await party.post("/v1/withdrawals", json={"amount": "10.01"})
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "insufficient_funds"
        assert balances(await cash_of(party)) == ("10.00", "0.00", "10.00")
        assert len((await entries_of(party))["items"]) == 1
        ok = await party.post("/v1/withdrawals", json={"amount": "10.00"})
        assert ok.status_code == 201, ok.text
        more = await party.post("/v1/withdrawals", json={"amount": "0.01"})
        assert more.json()["code"] == "insufficient_funds"

    async def test_frozen_party_cannot_withdraw(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party, regulator = await make_party("enterprise"), await make_party("regulator")
        await deposit(operator, party, "10.00")
        assert (await regulator.post(f"/v1/oversight/parties/{party.id}/freeze")).status_code == 200
        response = await party.post("/v1/withdrawals", json={"amount": "1.00"})
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "party_frozen"
        assert balances(await cash_of(party)) == ("10.00", "0.00", "10.00")

    async def test_who_may_do_what(self, operator: Actor, make_party: PartyFactory) -> None:
        party, other = await make_party("enterprise"), await make_party("collective")
        regulator = await make_party("regulator")
        await deposit(operator, party, "10.00")
        withdrawal = (await party.post("/v1/withdrawals", json={"amount": "3.00"})).json()
        path = f"/v1/withdrawals/{withdrawal['id']}"
        for actor in (operator, regulator, await make_party("registrar")):
            response = await actor.post("/v1/withdrawals", json={"amount": "1.00"})
            assert response.status_code == 403, response.text
        for actor in (party, other, regulator):
            assert (await actor.post(f"{path}/paid")).status_code == 403
        assert (await other.post(f"{path}/cancel")).status_code == 404
        for actor in (operator, regulator):
            assert (await actor.post(f"{path}/cancel")).status_code == 403
        assert (await other.get(path)).status_code == 404
        for actor in (party, operator, regulator):
            assert (await actor.get(path)).status_code == 200
        assert (await operator.post("/v1/withdrawals/wdr_missing/paid")).status_code == 404
        assert (await party.post("/v1/withdrawals/wdr_missing/cancel")).status_code == 404
        assert balances(await cash_of(party)) == ("7.00", "3.00", "10.00")


class TestReads:
    async def test_unauthenticated(self, operator: Actor) -> None:
        client = operator.client
        for method, path in (
            ("GET", "/v1/cash"),
            ("GET", "/v1/ledger/entries"),
            ("GET", "/v1/deposits/dep_x"),
            ("POST", "/v1/deposits"),
            ("POST", "/v1/withdrawals"),
            ("POST", "/v1/withdrawals/wdr_x/paid"),
        ):
            response = await client.request(
                method, path, json={"amount": "1.00"} if method == "POST" else None,
                headers={"Authorization": "Bearer nope"},
            )  # fmt: skip
            assert response.status_code == 401, (path, response.text)

    async def test_cash_visibility(self, operator: Actor, make_party: PartyFactory) -> None:
        party, other = await make_party("enterprise"), await make_party("collective")
        regulator = await make_party("regulator")
        await deposit(operator, party, "8.00")
        assert (await other.get("/v1/cash", params={"party_id": party.id})).status_code == 404
        for reader in (operator, regulator):
            assert balances(await cash_of(reader, party.id)) == ("8.00", "0.00", "8.00")
        assert (await cash_of(party, party.id))["available"] == "8.00"
        missing = await regulator.get("/v1/cash", params={"party_id": "pty_missing"})
        assert missing.status_code == 404

    async def test_ledger_visibility_and_pages(
        self, operator: Actor, make_party: PartyFactory
    ) -> None:
        party, other = await make_party("enterprise"), await make_party("collective")
        regulator = await make_party("regulator")
        ids = [(await deposit(operator, party, f"{n}.00"))["id"] for n in (1, 2, 3)]
        response = await other.get("/v1/ledger/entries", params={"party_id": party.id})
        assert response.status_code == 404
        assert (await entries_of(other))["items"] == []
        first = await entries_of(regulator, party.id, limit=2)
        assert first["next_cursor"] is not None and len(first["items"]) == 2
        second = await entries_of(regulator, party.id, limit=2, cursor=first["next_cursor"])
        assert second["next_cursor"] is None
        seen = [e["ref_id"] for e in first["items"] + second["items"]]
        assert sorted(seen) == sorted(ids) and len(set(seen)) == 3
        newest_first = [e["id"] for e in first["items"] + second["items"]]
        assert newest_first == sorted(newest_first, reverse=True)
        assert (await entries_of(regulator, party.id))["items"] == (await entries_of(party))[
            "items"
        ]
        # The operator reads its own entries and the fee account's (the platform's), no others.
        assert (
            await operator.get("/v1/ledger/entries", params={"party_id": party.id})
        ).status_code == 404
        second_operator = await make_party("operator")
        assert (
            await second_operator.get("/v1/ledger/entries", params={"party_id": party.id})
        ).status_code == 404
        platform = await entries_of(second_operator, operator.id)
        assert platform["items"] == (await entries_of(operator))["items"]
        bad = await party.get("/v1/ledger/entries", params={"limit": 0})
        assert bad.status_code == 422
