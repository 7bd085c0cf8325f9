"""Build value-accounting state over HTTP: regions no other test uses, accounts, records."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from tests.api.conftest import Actor

DEFAULT_METHODOLOGY = {"code": "CN-GEP", "version": "2022-illustrative"}
_regions = itertools.count(1)


def fresh_region() -> str:
    """A county code (GB/T 2260 shape) no other test in this run uses."""
    n = next(_regions) * 97 + secrets.randbelow(90)
    return f"{51 + n // 10000 % 40:02d}{n % 10000:04d}"


async def drafted(certifier: Actor, body: dict[str, Any]) -> dict[str, Any]:
    response = await certifier.post("/v1/gep/accounts", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def published(certifier: Actor, body: dict[str, Any]) -> dict[str, Any]:
    account = await drafted(certifier, body)
    response = await certifier.post(f"/v1/gep/accounts/{account['id']}/publish")
    assert response.status_code == 200, response.text
    return dict(response.json())


def account_body(
    region: str, lines: list[dict[str, Any]], year: int = 2025, **over: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "region_code": region,
        "year": year,
        "methodology": DEFAULT_METHODOLOGY,
        "lines": lines,
    }
    body.update(over)
    return body


async def monitoring_record(
    recorder: Actor,
    subject: dict[str, str],
    indicator: str,
    start: str,
    end: str,
    value: str,
    unit: str,
) -> dict[str, Any]:
    response = await recorder.post(
        "/v1/monitoring/records",
        json={
            "subject": subject,
            "indicator": indicator,
            "period_start": start,
            "period_end": end,
            "value": value,
            "unit": unit,
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
