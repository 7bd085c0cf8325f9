"""create_app(): the one place that wires controllers, DI, error mapping and lifecycle."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar, MediaType, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from sqlalchemy import text

from market.cash.controllers import CashController
from market.certification.controllers import CertificateController, VerifyPageController
from market.certification.keyring import install_keyring
from market.certification.log_integrator import LogIntegrator
from market.compensation.controllers import CompensationController
from market.db.engine import create_engine, session_factory
from market.db.migrate import current_revision, head_revision
from market.db.statement_stats import StatementStats
from market.http.dependencies import provide_caller, provide_list_params
from market.http.metrics import Metrics, MetricsMiddleware, SequencerCollector, metrics_endpoint
from market.http.nul_guard import NulGuardMiddleware
from market.http.openapi import serve_tightened_schema
from market.http.problems import EXCEPTION_HANDLERS, problem
from market.http.transaction import TransactionMiddleware, provide_db_session
from market.kit.logs import configure_logging
from market.oversight import invariant_watch, surveillance
from market.oversight.controllers import OversightController
from market.parties.controllers import PartyController
from market.payments.controllers import (
    PaymentController,
    StripeWebhookController,
    close_gateway,
)
from market.registry.asset_controllers import AssetController
from market.registry.claim_controllers import ClaimController
from market.registry.product_controllers import ProductController
from market.registry.unit_controllers import PublicRetirementController, UnitController
from market.settings import Settings, get_settings
from market.trading import expiry
from market.trading.controllers import (
    InstrumentController,
    OrderController,
    OversightTradingController,
)
from market.trading.deal_controllers import AuctionController, BlockTradeController
from market.trading.instrument_service import symbols_in_creation_order
from market.trading.order_service import answer_peer
from market.trading.sequencer import Sequencer
from market.trading.stream import instrument_stream
from market.valuation.controllers import MonitoringController, ValuationController
from market.workers.homes import InstrumentHomes
from market.workers.peers import Peers

MAX_BODY_BYTES = 1_048_576
SEQUENCER_POOL = 6
INTEGRATOR_POOL = 4
GC_GEN0_THRESHOLD = 20_000
# Every statement of an order batch is written for index access. Their plans are prepared
# once per connection; planned while a table was still small (a new database, before
# autovacuum's first ANALYZE) some picked sequential scans, and kept them as the table grew
# (in a 20 s benchmark: ~2,500 full scans of `orders`, 8 million rows read).
SEQUENCER_SETTINGS = {"enable_seqscan": "off"}


@get("/health", tags=["operations"])
async def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/ready", tags=["operations"])
async def ready(state: State) -> Response[dict[str, Any]]:
    """The database answers and its schema is at the newest migration."""
    try:
        async with state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(state.engine)
    except Exception as exc:  # the database is down: not ready, never a 500
        return problem(503, "database_unavailable", f"database unreachable: {type(exc).__name__}")
    head = head_revision()
    if revision != head:
        return problem(503, "migrations_pending", f"schema at {revision}, code expects {head}")
    return Response({"status": "ready", "revision": revision}, media_type=MediaType.JSON)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL must be set (market serve starts the embedded database)")
    database_url = settings.database_url
    install_keyring(settings)

    @asynccontextmanager
    async def database(app: Litestar) -> AsyncGenerator[None, None]:
        engine = create_engine(database_url, settings.db_pool_size)
        factory = session_factory(engine)
        app.state.engine = engine
        app.state.session_factory = factory
        app.state.settings = settings
        # The sequencer has its own pool: requests waiting for their batch hold request
        # connections, and must never starve the batch that would answer them.
        sequencer_engine = create_engine(database_url, SEQUENCER_POOL, SEQUENCER_SETTINGS)
        # The log integrator has its own small pool too: writers wait for it after their
        # commit, holding their connections no more, but it must never wait behind them.
        integrator_engine = create_engine(database_url, INTEGRATOR_POOL)
        integrator = app.state.integrator = LogIntegrator(
            session_factory(integrator_engine), integrator_engine
        )
        statements = StatementStats() if settings.market_statement_stats else None
        if statements is not None:
            for profiled in (engine, sequencer_engine, integrator_engine):
                statements.attach(profiled)
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, statements.reset)
        await integrator.start()  # appends what a crash left pending
        sequencer = app.state.sequencer = Sequencer(
            session_factory(sequencer_engine), sequencer_engine, integrator
        )
        metrics.registry.register(SequencerCollector(app.state))
        if settings.market_tune_gc:  # `market serve` (not tests, which build many apps)
            # Start-up objects (modules, models, compiled SQL) never die: keep them out of the
            # collector's way, and collect the young generation less often (requests allocate
            # many short-lived objects; most die by reference counting anyway).
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
        app.state.peers = app.state.homes = None
        if (
            settings.market_peer_dir is not None
            and settings.market_workers > 1
            and settings.market_route_orders
        ):
            app.state.homes = InstrumentHomes(
                partial(symbols_in_creation_order, factory), settings.market_workers
            )
            app.state.peers = Peers(
                settings.market_peer_dir,
                settings.market_worker_index,
                settings.market_workers,
                partial(answer_peer, sequencer, factory),
            )
            await app.state.peers.start()
        try:
            async with (
                expiry.running(app.state.sequencer, factory),
                surveillance.running(factory, settings.market_surveillance_interval_s),
                invariant_watch.running(engine, factory, settings.market_invariant_interval_s),
            ):
                yield
        finally:
            if app.state.peers is not None:
                await app.state.peers.close()
            await app.state.sequencer.close()
            await integrator.close()
            await sequencer_engine.dispose()
            await integrator_engine.dispose()
            await engine.dispose()
            if statements is not None and settings.market_statement_stats is not None:
                statements.dump(settings.market_statement_stats)

    metrics = Metrics()
    handlers: list[Any] = []
    if os.environ.get("MARKET_BENCH_ENDPOINTS") == "1":
        from market.http.bench_endpoint import bench_ping

        handlers.append(bench_ping)
    return Litestar(
        route_handlers=[
            *handlers,
            health,
            ready,
            metrics_endpoint,
            PartyController,
            AssetController,
            ProductController,
            ClaimController,
            UnitController,
            PublicRetirementController,
            OversightController,
            CertificateController,
            VerifyPageController,
            CashController,
            PaymentController,
            StripeWebhookController,
            InstrumentController,
            OrderController,
            OversightTradingController,
            BlockTradeController,
            AuctionController,
            instrument_stream,
            ValuationController,
            MonitoringController,
            CompensationController,
        ],
        lifespan=[database],
        on_shutdown=[close_gateway],
        dependencies={
            "db_session": Provide(provide_db_session),
            "caller": Provide(provide_caller),
            "list_params": Provide(provide_list_params, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(MetricsMiddleware, metrics=metrics),
            DefineMiddleware(NulGuardMiddleware),
            DefineMiddleware(TransactionMiddleware),
        ],
        state=State({"metrics": metrics}),
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="market",
            version="1",
            description="Eco-product registry and trading marketplace",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
        ),
        debug=False,
        on_startup=[serve_tightened_schema],
    )
