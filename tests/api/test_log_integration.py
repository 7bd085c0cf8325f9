"""Grouped log appends: certificates are stored pending by the writer's commit and appended by
the log integrator before the 2xx; a crash between the two is repaired at start-up; a failed
append after the commit is a 503 whose effect stands; no commit path skips storing them."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
import rfc8785
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from market.app import create_app
from market.certification.errors import CertificateNotYetLogged
from market.certification.keyring import install_keyring
from market.certification.log_integrator import IntegrationFailed, LogIntegrator
from market.certification.models import Certificate
from market.certification.service import (
    CertificateService,
    has_pending_certificates,
    stored_certificate_ids,
)
from market.db.engine import session_factory
from market.settings import Settings
from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry
from tests.invariants import assert_invariants
from tests.unit.certification.test_merkle import ref_verify_inclusion

RETIRE = {"quantity": 1, "beneficiary": "b", "reason": "r"}


async def proven_at_once(client: Any, certificate_id: str) -> bool:
    """The bundle (certificate, signed head, inclusion proof) fetched right after the 2xx
    proves the certificate's leaf is in the head's tree (an independent RFC 9162 verifier)."""
    bundle = await client.get(f"/v1/certificates/{certificate_id}/bundle")
    assert bundle.status_code == 200, bundle.text
    body = bundle.json()
    certificate, head, proof = body["certificate"], body["tree_head"], body["inclusion_proof"]
    leaf = hashlib.sha256(b"\x00" + rfc8785.dumps(certificate["payload"])).digest()
    return bool(
        ref_verify_inclusion(
            leaf,
            certificate["log_index"],
            head["tree_size"],
            [bytes.fromhex(h) for h in proof["audit_path"]],
            bytes.fromhex(head["root_hash"]),
        )
    )


Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(settings: Settings, engine: AsyncEngine) -> Any:
    """The market's sessions in this test's own loop, with no server (and no integrator) up:
    what is committed here stays pending until an integrator runs. The invariants (none left
    pending, the log verifies) are checked at the end."""
    from market.cli import bootstrap

    await bootstrap(settings)
    install_keyring(settings)
    yield session_factory(engine)
    await assert_invariants(settings.database_url or "")


async def commit_pending(sessions: Sessions, subject: str) -> str:
    """A writer's transaction that signs one certificate and commits (stored, pending)."""
    async with sessions() as session:
        signed = await CertificateService(session).issue_as_platform(
            "retirement", subject, {"batch_id": "bat_x", "quantity": 1}
        )
        await session.commit()
        assert stored_certificate_ids(session) == [signed.id]
    return signed.id


async def log_index(sessions: Sessions, certificate_id: str) -> int | None:
    async with sessions() as session:
        return (await CertificateService(session).get(certificate_id)).log_index


async def holder_with_units(registry: Registry, quantity: int) -> tuple[Actor, str]:
    collective = await registry.trader("collective")
    batch = await registry.batch(collective, quantity)
    return collective, batch["id"]


async def test_concurrent_retirements_are_in_the_log_when_acknowledged(
    registry: Registry,
) -> None:
    client = registry.operator.client
    integrator: LogIntegrator = client.app.state.integrator
    holder, batch_id = await holder_with_units(registry, 100)
    before = (await client.get("/v1/log/head")).json()["tree_size"]
    appended_before = integrator.appended

    async def retire_and_prove() -> tuple[int, bool]:
        response = await holder.post("/v1/retirements", json={"batch_id": batch_id, **RETIRE})
        if response.status_code != 201:
            return response.status_code, False
        return 201, await proven_at_once(client, response.json()["certificate_id"])

    results = await asyncio.gather(*(retire_and_prove() for _ in range(30)))
    assert results == [(201, True)] * 30
    head = (await client.get("/v1/log/head")).json()
    assert head["tree_size"] == before + 30
    assert integrator.appended - appended_before == 30


async def test_writers_waiting_together_are_appended_in_one_transaction(
    sessions: Sessions,
) -> None:
    integrator = LogIntegrator(sessions)
    await integrator.start()
    try:
        committed = [await commit_pending(sessions, f"ret_group_{n}") for n in range(5)]
        assert [await log_index(sessions, c) for c in committed] == [None] * 5
        runs, appended = integrator.runs, integrator.appended
        await asyncio.gather(*(integrator.integrated([c]) for c in committed))
        assert (integrator.runs - runs, integrator.appended - appended) == (1, 5)
        indices = [await log_index(sessions, c) for c in committed]
        assert indices == list(range(indices[0] or 0, (indices[0] or 0) + 5))
    finally:
        await integrator.close()


async def test_a_crash_between_commit_and_append_is_repaired_at_start_up(
    sessions: Sessions,
) -> None:
    certificate_id = await commit_pending(sessions, "ret_crash")  # then the process dies
    assert await log_index(sessions, certificate_id) is None
    async with sessions() as session:
        size, _ = await CertificateService(session).log.state()
    restarted = LogIntegrator(sessions)
    await restarted.start()  # what the app's lifespan does at start-up
    try:
        assert restarted.appended >= 1
        assert await log_index(sessions, certificate_id) is not None
        async with sessions() as session:
            grown, _ = await CertificateService(session).log.state()
        assert grown >= size + 1
    finally:
        await restarted.close()
    # The fixture then checks that none is left pending and the whole log verifies.


async def test_the_app_appends_leftovers_at_start_up(
    sessions: Sessions, settings: Settings
) -> None:
    certificate_id = await commit_pending(sessions, "ret_left_behind")
    async with sessions() as session:
        with pytest.raises(CertificateNotYetLogged):  # the bundle's 409 while pending
            await CertificateService(session).logged(certificate_id)
    async with AsyncTestClient(app=create_app(settings)) as client:
        # The lifespan's start-up run appended it before serving the first request.
        assert await proven_at_once(client, certificate_id)


class FailingIntegrator:
    """The database went away right after the writer's commit."""

    def __init__(self, real: LogIntegrator) -> None:
        self.real = real

    async def integrated(self, certificate_ids: list[str]) -> None:
        raise IntegrationFailed("connection lost")


async def test_a_failed_append_after_the_commit_is_a_503_whose_effect_stands(
    registry: Registry,
) -> None:
    client = registry.operator.client
    real: LogIntegrator = client.app.state.integrator
    holder, batch_id = await holder_with_units(registry, 10)
    headers = {**holder.headers, "Idempotency-Key": "retire-once-0001"}
    body = {"batch_id": batch_id, **RETIRE}
    client.app.state.integrator = FailingIntegrator(real)
    try:
        failed = await client.post("/v1/retirements", json=body, headers=headers)
    finally:
        client.app.state.integrator = real
    assert failed.status_code == 503
    assert failed.json()["code"] == "database_unavailable"
    assert failed.headers["retry-after"] == "1"
    # The effect stands: the unit is retired once, and the retry gets the stored response.
    again = await client.post("/v1/retirements", json=body, headers=headers)
    assert again.status_code == 201, again.text
    holdings = (await holder.get("/v1/holdings")).json()
    retired = sum(h["retired"] for h in holdings["items"] if h["batch_id"] == batch_id)
    assert retired == 1
    # The integrator's next sweep appends the certificate.
    certificate_id = again.json()["certificate_id"]
    for _ in range(50):
        if (await client.get(f"/v1/certificates/{certificate_id}")).json()["log_index"] is not None:
            break
        await asyncio.sleep(0.1)
    assert await proven_at_once(client, certificate_id)


async def test_every_commit_path_stores_signed_certificates(sessions: Sessions) -> None:
    # A commit that bypasses the unit of work's pre-commit step is refused, never silent.
    async with sessions() as session:
        signed = await CertificateService(session).issue_as_platform(
            "retirement", "ret_bypass", {"batch_id": "bat_x", "quantity": 1}
        )
        assert has_pending_certificates(session.sync_session)
        with pytest.raises(RuntimeError, match="pre-commit"):
            await session.run_sync(lambda sync: sync.commit())
        await session.rollback()
    async with sessions() as session:
        assert await session.get(Certificate, signed.id) is None
    # The ordinary commit stores them (pending) in the same transaction as the fact.
    async with sessions() as session:
        signed = await CertificateService(session).issue_as_platform(
            "retirement", "ret_commit", {"batch_id": "bat_x", "quantity": 1}
        )
        await session.commit()
        assert not has_pending_certificates(session.sync_session)
        assert stored_certificate_ids(session) == [signed.id]
    assert await log_index(sessions, signed.id) is None
    integrator = LogIntegrator(sessions)
    await integrator.start()
    await integrator.close()
    assert await log_index(sessions, signed.id) is not None


async def test_certificates_stay_append_only_but_for_their_log_index(sessions: Sessions) -> None:
    logged = await commit_pending(sessions, "ret_logged")
    integrator = LogIntegrator(sessions)
    await integrator.start()
    await integrator.close()
    pending = await commit_pending(sessions, "ret_trigger")
    refused = [
        # a logged certificate's index never changes, nor goes back to pending
        ("UPDATE certificates SET log_index = log_index + 1000000 WHERE id = :id", logged),
        ("UPDATE certificates SET log_index = NULL WHERE id = :id", logged),
        ("UPDATE certificates SET kind = 'transfer' WHERE id = :id", logged),
        ("DELETE FROM certificates WHERE id = :id", logged),
        # a pending one may only get its index, nothing else with it
        ("UPDATE certificates SET kind = 'transfer' WHERE id = :id", pending),
        (
            "UPDATE certificates SET log_index = 999999999, signature = '\\x00' WHERE id = :id",
            pending,
        ),
        ("DELETE FROM certificates WHERE id = :id", pending),
    ]
    for statement, certificate_id in refused:
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement), {"id": certificate_id})
            await session.rollback()
    # The one UPDATE allowed (what the integrator does): NULL → an index, all else unchanged.
    async with sessions() as session:
        result = await session.execute(
            text("UPDATE certificates SET log_index = 999999999 WHERE id = :id"), {"id": pending}
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]
        await session.rollback()
    integrator = LogIntegrator(sessions)
    await integrator.start()
    await integrator.close()
    assert await log_index(sessions, pending) is not None


async def test_a_trade_whose_append_fails_after_the_commit_is_a_503_and_stands(
    market: Any,
) -> None:
    from tests.api.trading_helpers import order_body

    client = market.registry.operator.client
    sequencer = client.app.state.sequencer
    real: LogIntegrator = sequencer.integrator
    symbol = (await market.instrument())["symbol"]
    seller, _ = await market.seller(100)
    buyer = await market.buyer("10000.00")
    await market.order(seller, symbol, "sell", 10, "50.00")
    body = order_body(symbol, "buy", 10, "50.00")
    sequencer.integrator = FailingIntegrator(real)
    try:
        failed = await buyer.post("/v1/orders", json=body)
    finally:
        sequencer.integrator = real
    assert failed.status_code == 503, failed.text
    assert failed.json()["code"] == "database_unavailable"
    # The trade stands (settled once); the same client_order_id gets the order as it is.
    again = await buyer.post("/v1/orders", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "filled"
    trades = (await buyer.get("/v1/trades")).json()["items"]
    assert len(trades) == 1
    certificate_id = trades[0]["certificate_id"]
    for _ in range(50):  # the integrator's next sweep appends the trade's certificate
        if (await client.get(f"/v1/certificates/{certificate_id}")).json()["log_index"] is not None:
            break
        await asyncio.sleep(0.1)
    assert await proven_at_once(client, certificate_id)
