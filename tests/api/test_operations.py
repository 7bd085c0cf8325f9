"""Operations endpoints: health, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient


async def test_health_ready_metrics_schema(client: AsyncTestClient[Any]) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    await client.get("/v1/me")  # a 401, counted like everything else
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'market_http_requests_total{method="GET",status="401"}' in metrics.text
    assert "market_order_batches_total" in metrics.text
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.1")
    for path in ("/v1/parties", "/v1/assets", "/v1/orders", "/v1/log/head", "/v1/deposits"):
        assert path in document["paths"], path
    assert (await client.get("/schema")).status_code == 200
