"""GEP methodologies, accounts (draft → published → superseded) and monitoring records."""

from __future__ import annotations

import secrets
from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.conftest import Actor
from tests.api.registry_helpers import Registry
from tests.api.test_registry_refusals import expect
from tests.api.trading_helpers import Market
from tests.api.valuation_helpers import (
    account_body,
    drafted,
    fresh_region,
    monitoring_record,
    published,
)


def _methodology(code: str, instrument: str | None = None) -> dict[str, Any]:
    carbon: dict[str, Any] = {
        "code": "carbon_fixation", "name": "固碳", "category": "regulating", "unit": "tCO2e",
        "price": None, "market_instrument": instrument or "NONE", "default_price": "60.00",
    }  # fmt: skip
    return {
        "code": code,
        "version": "1",
        "indicators": [
            {"code": "water_conservation", "name": "水源涵养", "category": "regulating",
             "unit": "m3", "price": "6.11", "price_source": "test"},
            {"code": "recreation", "name": "休闲旅游", "category": "cultural", "unit": "visit",
             "price": "150.00"},
            carbon,
        ],
    }  # fmt: skip


class TestMethodologies:
    async def test_the_default_is_seeded_with_illustrative_prices(
        self, client: AsyncTestClient[Any]
    ) -> None:
        response = await client.get("/v1/gep/methodologies")
        assert response.status_code == 200
        default = next(m for m in response.json()["items"] if m["code"] == "CN-GEP")
        codes = {i["code"]: i for i in default["indicators"]}
        assert {"water_conservation", "carbon_fixation", "recreation", "water_supply"} <= set(codes)
        assert {i["category"] for i in default["indicators"]} == {
            "provisioning", "regulating", "cultural",
        }  # fmt: skip
        assert all("illustrative" in (i["price_source"] or "") for i in default["indicators"])
        carbon = codes["carbon_fixation"]
        assert carbon["price"] is None and carbon["default_price"] == "50.00"
        assert carbon["market_instrument"]

    async def test_operator_creates_a_version_once(self, registry: Registry) -> None:
        code = f"T{secrets.token_hex(3)}"
        created = await registry.operator.post("/v1/gep/methodologies", json=_methodology(code))
        assert created.status_code == 201, created.text
        assert created.json()["indicators"][0]["price"] == "6.11"
        again = await registry.operator.post("/v1/gep/methodologies", json=_methodology(code))
        expect(again, 409, "methodology_exists")

    async def test_refusals(self, registry: Registry) -> None:
        collective = await registry.trader()
        expect(
            await collective.post("/v1/gep/methodologies", json=_methodology("X1")),
            403,
            "forbidden",
        )
        bad = _methodology("X2")
        bad["indicators"][2]["default_price"] = None  # market-priced without a default
        expect(
            await registry.operator.post("/v1/gep/methodologies", json=bad), 422, "validation_error"
        )
        bad = _methodology("X3")
        bad["indicators"][0]["price"] = "6.1"  # not exactly two places
        expect(
            await registry.operator.post("/v1/gep/methodologies", json=bad), 422, "validation_error"
        )
        bad = _methodology("X4\x00")
        expect(
            await registry.operator.post("/v1/gep/methodologies", json=bad), 422, "validation_error"
        )
        listed = (await registry.operator.get("/v1/gep/methodologies?limit=500")).json()["items"]
        assert not {"X1", "X2", "X3"} & {m["code"] for m in listed}


class TestAccounts:
    async def test_values_are_computed_half_even_per_line(self, registry: Registry) -> None:
        holder = await registry.trader()
        region = fresh_region()
        asset = await registry.confirmed_asset(holder, region_code=region)
        lines = [
            # 1234.5 m3 × 6.11 = 7542.795 → 7542.80 (half-even on fen: 754279.5 → 754280)
            {"indicator": "water_conservation", "quantity": "1234.5", "asset_id": asset["id"]},
            # 0.5 m3 × 6.11 = 3.055 → 305.5 fen → 306 (half-even: 305 odd → 306)
            {"indicator": "water_conservation", "quantity": "0.5"},
            # 2.5 visits × 150.00 = 375.00
            {"indicator": "recreation", "quantity": "2.5"},
            # no CCER trades: default 50.00 × 10 = 500.00
            {"indicator": "carbon_fixation", "quantity": "10"},
            # 0.2501 t × 1000.00 = 250.10
            {"indicator": "oxygen_release", "quantity": "0.2501"},
        ]
        account = await drafted(registry.certifier, account_body(region, lines))
        assert account["status"] == "draft" and account["certificate_id"] is None
        values = [(ln["indicator"], ln["unit_price"], ln["value"]) for ln in account["lines"]]
        assert values == [
            ("water_conservation", "6.11", "7542.80"),
            ("water_conservation", "6.11", "3.06"),
            ("recreation", "150.00", "375.00"),
            ("carbon_fixation", "50.00", "500.00"),
            ("oxygen_release", "1000.00", "250.10"),
        ]
        assert account["lines"][0]["asset_id"] == asset["id"]
        assert account["by_category"] == {
            "provisioning": "0.00", "regulating": "8295.96", "cultural": "375.00",
        }  # fmt: skip
        assert account["total"] == "8670.96"

    async def test_market_price_is_the_year_vwap(self, market: Market, registry: Registry) -> None:
        instrument = await market.instrument(price_band_pct="30")
        symbol = instrument["symbol"]
        code = f"V{secrets.token_hex(3)}"
        created = await registry.operator.post(
            "/v1/gep/methodologies", json=_methodology(code, symbol)
        )
        assert created.status_code == 201, created.text
        seller, _batch = await market.seller(100)
        buyer = await market.buyer()
        await market.order(seller, symbol, "sell", 3, "50.00")
        await market.order(seller, symbol, "sell", 4, "50.01")
        await market.order(buyer, symbol, "buy", 7, "50.01")
        # (3 × 50.00 + 4 × 50.01) / 7 = 50.005714… → 50.01
        from datetime import UTC, datetime

        region = fresh_region()
        body = account_body(region, [{"indicator": "carbon_fixation", "quantity": "100"}],
                            year=datetime.now(UTC).year,
                            methodology={"code": code, "version": "1"})  # fmt: skip
        account = await drafted(registry.certifier, body)
        assert account["lines"][0]["unit_price"] == "50.01"
        assert account["total"] == "5001.00"
        earlier = await drafted(registry.certifier, {**body, "year": 2001})
        assert earlier["lines"][0]["unit_price"] == "60.00"  # no trades that year: the default

    async def test_publish_correct_and_read_the_series(
        self, registry: Registry, client: AsyncTestClient[Any], make_party: Any
    ) -> None:
        region = fresh_region()
        certifier = registry.certifier
        first = await published(certifier, account_body(
            region, [{"indicator": "water_conservation", "quantity": "1000"}]))  # fmt: skip
        assert first["status"] == "published" and first["certificate_id"]
        certificate = (await client.get(f"/v1/certificates/{first['certificate_id']}")).json()
        assert certificate["kind"] == "gep_account"
        assert certificate["payload"]["issuer"] == certifier.id
        assert certificate["payload"]["total"] == "6110.00"
        verified = await client.post("/v1/certificates/verify", json=certificate)
        assert verified.json()["valid"] is True
        # a second account for the same region and year must be a correction
        other = await drafted(certifier, account_body(
            region, [{"indicator": "water_conservation", "quantity": "2000"}]))  # fmt: skip
        expect(await certifier.post(f"/v1/gep/accounts/{other['id']}/publish"), 409,
               "invalid_correction")  # fmt: skip
        expect(
            await certifier.post("/v1/gep/accounts", json=account_body(
                region, [{"indicator": "water_conservation", "quantity": "1"}],
                supersedes=first["id"])),
            422, "validation_error",
        )  # fmt: skip
        fixed = await published(certifier, account_body(
            region, [{"indicator": "water_conservation", "quantity": "1100"}],
            supersedes=first["id"], reason="补录水库库容数据"))  # fmt: skip
        assert fixed["supersedes"] == first["id"] and fixed["total"] == "6721.00"
        old = (await client.get(f"/v1/gep/accounts/{first['id']}")).json()
        assert old["status"] == "superseded" and old["superseded_by"] == fixed["id"]
        expect(await certifier.post(f"/v1/gep/accounts/{first['id']}/publish"), 409,
               "account_not_draft")  # fmt: skip
        # other years, then the series in one query (current versions only, year order)
        await published(certifier, account_body(
            region, [{"indicator": "water_conservation", "quantity": "900"}], year=2023))  # fmt: skip
        series = (await client.get(f"/v1/gep/accounts?region_code={region}")).json()["items"]
        assert [(a["year"], a["total"]) for a in series] == [(2023, "5499.00"), (2025, "6721.00")]
        # drafts: only the drafter and regulators see them
        assert (await client.get(f"/v1/gep/accounts/{other['id']}")).status_code == 404
        stranger = await make_party("certifier")
        assert (await stranger.get(f"/v1/gep/accounts/{other['id']}")).status_code == 404
        assert (await registry.regulator.get(f"/v1/gep/accounts/{other['id']}")).status_code == 200
        expect(await stranger.post(f"/v1/gep/accounts/{other['id']}/publish"), 404, "not_found")
        drafts = (await certifier.get(f"/v1/gep/accounts?region_code={region}&status=draft")).json()
        assert [a["id"] for a in drafts["items"]] == [other["id"]]

    async def test_refusals_change_nothing(
        self, registry: Registry, client: AsyncTestClient[Any]
    ) -> None:
        region = fresh_region()
        collective = await registry.trader()
        line = [{"indicator": "water_conservation", "quantity": "1"}]
        expect(
            await collective.post("/v1/gep/accounts", json=account_body(region, line)),
            403,
            "forbidden",
        )
        cases = [
            (
                account_body(region, [{"indicator": "unicorns", "quantity": "1"}]),
                422,
                "unknown_indicator",
            ),
            (
                account_body(region, line, methodology={"code": "NOPE", "version": "1"}),
                422,
                "unknown_methodology",
            ),
            (
                account_body(
                    region,
                    [{"indicator": "water_conservation", "quantity": "1", "asset_id": "ast_none"}],
                ),
                422,
                "unknown_asset",
            ),
            (
                account_body(region, [{"indicator": "water_conservation", "quantity": "1.00001"}]),
                422,
                "validation_error",
            ),
            (
                account_body(region, [{"indicator": "water_conservation", "quantity": "-1"}]),
                422,
                "validation_error",
            ),
            (
                account_body(region, [{"indicator": "water_conservation", "quantity": 1}]),
                422,
                "validation_error",
            ),
            (account_body("12345", line), 422, "validation_error"),
            (account_body(region, line + line), 422, "validation_error"),
            (
                account_body(region, line, supersedes="gep_nothing", reason="x"),
                409,
                "invalid_correction",
            ),
        ]
        for body, status, code in cases:
            expect(await registry.certifier.post("/v1/gep/accounts", json=body), status, code)
        other_region = await registry.confirmed_asset(collective, region_code=fresh_region())
        outside = account_body(region, [{"indicator": "water_conservation", "quantity": "1",
                                         "asset_id": other_region["id"]}])  # fmt: skip
        expect(
            await registry.certifier.post("/v1/gep/accounts", json=outside), 422, "unknown_asset"
        )
        listed = await registry.regulator.get(f"/v1/gep/accounts?region_code={region}&status=draft")
        assert listed.json()["items"] == []

    async def test_idempotent_draft(self, registry: Registry) -> None:
        body = account_body(fresh_region(), [{"indicator": "recreation", "quantity": "3"}])
        headers = {**registry.certifier.headers, "Idempotency-Key": secrets.token_hex(8)}
        first = await registry.certifier.client.post("/v1/gep/accounts", json=body, headers=headers)
        again = await registry.certifier.client.post("/v1/gep/accounts", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        drafts = await registry.certifier.get(
            f"/v1/gep/accounts?region_code={body['region_code']}&status=draft"
        )
        assert len(drafts.json()["items"]) == 1


class TestMonitoring:
    async def test_signed_records_by_subject(
        self, registry: Registry, client: AsyncTestClient[Any]
    ) -> None:
        section = f"潮白河古北口断面-{secrets.token_hex(3)}"
        record = await monitoring_record(registry.registrar, {"section": section}, "water_quality_class",
                                         "2025-01-01", "2025-01-31", "2", "class")  # fmt: skip
        assert record["subject"] == {"section": section} and record["value"] == "2"
        certificate = (await client.get(f"/v1/certificates/{record['certificate_id']}")).json()
        assert certificate["kind"] == "monitoring_record"
        assert certificate["payload"]["issuer"] == registry.registrar.id
        assert certificate["payload"]["value"] == "2"
        assert (await client.post("/v1/certificates/verify", json=certificate)).json()["valid"]
        await monitoring_record(registry.certifier, {"section": section}, "water_quality_class",
                                "2025-02-01", "2025-02-28", "4", "class")  # fmt: skip
        found = await client.get(
            f"/v1/monitoring/records?subject=section:{section}&from=2025-02-10"
        )
        assert [r["value"] for r in found.json()["items"]] == ["4"]
        both = await client.get(
            f"/v1/monitoring/records?subject=section:{section}&indicator=water_quality_class"
        )
        assert [r["value"] for r in both.json()["items"]] == ["2", "4"]

    async def test_refusals(self, registry: Registry, client: AsyncTestClient[Any]) -> None:
        collective: Actor = await registry.trader()
        good = {"subject": {"region_code": "110105"}, "indicator": "forest_cover",
                "period_start": "2025-01-01", "period_end": "2025-12-31", "value": "67.5", "unit": "%"}  # fmt: skip
        expect(await collective.post("/v1/monitoring/records", json=good), 403, "forbidden")
        bad_bodies = [
            {**good, "subject": {"region_code": "110105", "section": "x"}},
            {**good, "subject": {}},
            {**good, "period_end": "2024-12-31"},
            {**good, "value": 67.5},
            {**good, "indicator": "Forest Cover"},
        ]
        for body in bad_bodies:
            expect(
                await registry.registrar.post("/v1/monitoring/records", json=body),
                422,
                "validation_error",
            )
        expect(await registry.registrar.post("/v1/monitoring/records",
                                             json={**good, "subject": {"asset_id": "ast_nope"}}),
               422, "unknown_asset")  # fmt: skip
        expect(
            await client.get("/v1/monitoring/records?subject=planet:earth"), 422, "validation_error"
        )


async def test_concurrent_publications_leave_one_current_account(registry: Registry) -> None:
    import asyncio

    from tests.api.test_registry_races import statuses

    region = fresh_region()
    line = [{"indicator": "recreation", "quantity": "1"}]
    drafts = [await drafted(registry.certifier, account_body(region, line)) for _ in range(4)]
    responses = await asyncio.gather(
        *(registry.certifier.post(f"/v1/gep/accounts/{d['id']}/publish") for d in drafts)
    )
    assert statuses(list(responses)) == {(200, None): 1, (409, "invalid_correction"): 3}
    current = next(r.json() for r in responses if r.status_code == 200)
    fixes = []
    for n in range(3):
        body = account_body(region, line, supersedes=current["id"], reason=f"fix {n}")
        fixes.append(await drafted(registry.certifier, body))
    responses = await asyncio.gather(
        *(registry.certifier.post(f"/v1/gep/accounts/{d['id']}/publish") for d in fixes)
    )
    assert statuses(list(responses)) == {(200, None): 1, (409, "invalid_correction"): 2}
    series = (await registry.certifier.get(f"/v1/gep/accounts?region_code={region}")).json()
    assert len(series["items"]) == 1 and series["items"][0]["supersedes"] == current["id"]
