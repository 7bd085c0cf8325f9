"""`market serve | db upgrade | operator create | invariants | reconcile | verify FILE`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

from market.settings import Settings, get_settings


def prepare_database(settings: Settings) -> tuple[str, bool]:
    """The database URL to use, starting the embedded server when `DATABASE_URL` is unset.

    Also exported as `DATABASE_URL` so worker processes join the same database.
    """
    if settings.database_url:
        return settings.database_url, False
    from market.db.embedded import start_embedded

    settings.market_data_dir.mkdir(parents=True, exist_ok=True)
    url = start_embedded(settings.market_data_dir)
    os.environ["DATABASE_URL"] = url
    settings.database_url = url
    return url, True


async def bootstrap(settings: Settings) -> None:
    """First-start work: the platform operator and its signing key, the bootstrap API key."""
    from market.certification.keyring import install_keyring
    from market.certification.service import CertificateService
    from market.db.engine import create_engine, session_factory
    from market.parties.service import PartyService

    install_keyring(settings)
    engine = create_engine(str(settings.database_url), 2)
    try:
        async with session_factory(engine)() as session:
            await CertificateService(session).ensure_platform()
            if settings.market_operator_token is not None:
                await PartyService(session).ensure_bootstrap_operator(
                    settings.market_operator_token.get_secret_value()
                )
            await session.commit()
    finally:
        await engine.dispose()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from market.db.embedded import stop_embedded
    from market.db.migrate import upgrade

    os.environ.setdefault("MARKET_TUNE_GC", "1")  # read by each worker's app (market.app)
    settings = get_settings()
    url, embedded = prepare_database(settings)
    # uvicorn re-raises the SIGTERM/SIGINT it captured once it has shut down; with the
    # default handler that would kill us before the `finally` stops the embedded database.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_on_signal)
    try:
        upgrade(url)
        asyncio.run(bootstrap(settings))
        if args.workers > 1:
            from market.workers.supervisor import run_workers

            run_workers(args.host, args.port, args.workers)
        else:
            uvicorn.run(
                "market.app:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                log_level="info",
                access_log=False,
            )
    finally:
        if embedded:
            stop_embedded(settings.market_data_dir)
    return 0


def cmd_db_upgrade(_: argparse.Namespace) -> int:
    from market.db.migrate import upgrade

    settings = get_settings()
    url, _embedded = prepare_database(settings)
    upgrade(url)
    print("migrations applied")
    return 0


async def _create_operator(settings: Settings, name: str) -> str:
    from market.db.engine import create_engine, session_factory
    from market.parties.service import PartyService, new_token

    token = new_token()
    engine = create_engine(str(settings.database_url), 2)
    try:
        async with session_factory(engine)() as session:
            await PartyService(session).ensure_bootstrap_operator(token, name)
            await session.commit()
    finally:
        await engine.dispose()
    return token


def cmd_operator_create(args: argparse.Namespace) -> int:
    from market.db.migrate import upgrade

    settings = get_settings()
    url, _embedded = prepare_database(settings)
    upgrade(url)
    print(asyncio.run(_create_operator(settings, args.name)))
    return 0


async def _invariants(settings: Settings) -> bool:
    from market.db.engine import create_engine
    from market.oversight.invariants import run_invariants

    engine = create_engine(str(settings.database_url), 1)
    try:
        result = await run_invariants(engine)
    finally:
        await engine.dispose()
    for check in result.checks:
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return result.ok


def cmd_invariants(_: argparse.Namespace) -> int:
    """Exit 0 when every invariant holds, 1 otherwise."""
    settings = get_settings()
    prepare_database(settings)
    return 0 if asyncio.run(_invariants(settings)) else 1


async def _reconcile(
    settings: Settings, since: datetime | None, only: str | None
) -> list[str] | None:
    from market.db.engine import create_engine, session_factory
    from market.payments.gateway import gateway_from_settings
    from market.payments.reconcile import Reconciler

    gateway = gateway_from_settings(settings)
    if gateway is None:
        return None
    engine = create_engine(str(settings.database_url), 1)
    try:
        async with session_factory(engine)() as session:
            differences = await Reconciler(session, gateway).differences(
                since, deposits=only != "payouts", payouts=only != "deposits"
            )
            await session.rollback()
    finally:
        await engine.dispose()
        await gateway.close()
    return [d.line() for d in differences]


def cmd_reconcile(args: argparse.Namespace) -> int:
    """List every difference between our deposits/payouts and Stripe's PaymentIntents/transfers;
    exit 1 when there is one, 2 when Stripe is not configured or cannot be reached."""
    from market.payments.gateway import GatewayDeclined, GatewayUnavailable

    settings = get_settings()
    prepare_database(settings)
    since = datetime.combine(args.since, time.min, tzinfo=UTC) if args.since else None
    try:
        lines = asyncio.run(_reconcile(settings, since, args.only))
    except (GatewayUnavailable, GatewayDeclined) as error:
        print(f"cannot reach Stripe: {error}", file=sys.stderr)
        return 2
    if lines is None:
        print("Stripe is not configured (STRIPE_API_KEY)", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    print(f"{len(lines)} difference(s)" if lines else "no differences")
    return 1 if lines else 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a certificate (or a bundle with tree head and proof) offline: no server, no DB."""
    import json

    from market.certification.offline import verify_certificate, verify_inclusion_bundle

    document = json.loads(Path(args.file).read_text(encoding="utf-8"))
    keys = json.loads(Path(args.keys).read_text(encoding="utf-8")) if args.keys else None
    if isinstance(document, dict) and "certificate" in document:
        keys = keys or document.get("keys")
        certificate = document["certificate"]
        result = verify_certificate(certificate, keys)
        report: dict[str, object] = {"certificate": result.to_json()}
        if result.valid and "tree_head" in document and "inclusion_proof" in document:
            inclusion = verify_inclusion_bundle(
                certificate, document["tree_head"], document["inclusion_proof"], keys
            )
            report["inclusion"] = inclusion.to_json()
            result = inclusion if not inclusion.valid else result
    else:
        result = verify_certificate(document, keys)
        report = {"certificate": result.to_json()}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if result.valid else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the GEP and compensation scenario into a running server (market/demo.py)."""
    import json

    import httpx

    from market.demo import DemoFailed, load_demo

    token = args.token or os.environ.get("MARKET_OPERATOR_TOKEN")
    if not token:
        print("an operator token is needed: --token or MARKET_OPERATOR_TOKEN", file=sys.stderr)
        return 2

    async def run() -> dict[str, object]:
        async with httpx.AsyncClient(base_url=args.url, timeout=60) as http:
            return await load_demo(http, token)

    try:
        summary = asyncio.run(run())
    except (DemoFailed, httpx.HTTPError) as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="market", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the API (applies migrations first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    operator = sub.add_parser("operator", help="operator accounts")
    op_sub = operator.add_subparsers(dest="operator_command", required=True)
    create = op_sub.add_parser("create", help="create an operator API key and print it")
    create.add_argument("--name", default="Platform operator")
    create.set_defaults(func=cmd_operator_create)

    sub.add_parser("invariants", help="run every invariant; exit 1 on a violation").set_defaults(
        func=cmd_invariants
    )
    reconcile = sub.add_parser(
        "reconcile", help="compare deposits and payouts with Stripe; exit 1 on a difference"
    )
    reconcile.add_argument(
        "--since", type=date.fromisoformat, help="only objects created on or after YYYY-MM-DD"
    )
    reconcile.add_argument(
        "--only",
        choices=("deposits", "payouts"),
        help="compare only card deposits (e.g. against localstripe, which has no transfers)",
    )
    reconcile.set_defaults(func=cmd_reconcile)
    demo = sub.add_parser("demo", help="load the GEP and compensation scenario into a server")
    demo.add_argument("--url", default="http://127.0.0.1:8000")
    demo.add_argument("--token", help="an operator API key (default: MARKET_OPERATOR_TOKEN)")
    demo.set_defaults(func=cmd_demo)
    verify = sub.add_parser("verify", help="verify a certificate or bundle offline")
    verify.add_argument(
        "file", help="certificate JSON, or a bundle from /v1/certificates/{id}/bundle"
    )
    verify.add_argument("--keys", help="KEYS.json as published at GET /v1/keys")
    verify.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
