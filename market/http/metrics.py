"""`GET /metrics`: Prometheus text for this worker process (requests, latency, order batches)."""

from __future__ import annotations

import time
from typing import Any

from litestar import MediaType, Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "market_http_requests", "HTTP requests", ["method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "market_http_request_seconds",
            "HTTP request latency",
            ["method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )


class SequencerCollector:
    """Order batches committed by this process and the commands they carried."""

    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self) -> Any:
        sequencer = getattr(self.state, "sequencer", None)
        batches = CounterMetricFamily("market_order_batches", "committed order batches")
        commands = CounterMetricFamily("market_order_commands", "commands in committed batches")
        batches.add_metric([], sequencer.batches if sequencer else 0)
        commands.add_metric([], sequencer.commands if sequencer else 0)
        yield batches
        yield commands


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, str(status)).inc()
            self.metrics.latency.labels(method).observe(time.perf_counter() - started)


@get("/metrics", media_type=MediaType.TEXT, tags=["operations"], include_in_schema=True)
async def metrics_endpoint(state: State) -> Response[bytes]:
    """Prometheus text exposition for the process that answers."""
    return Response(
        generate_latest(state.metrics.registry),
        media_type="text/plain; version=0.0.4; charset=utf-8",
    )
