"""A real `market serve --workers 2` process on the test database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from market.settings import Settings
from tests.api.conftest import client, make_party, market, operator, registry  # noqa: F401


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_server(
    settings: Settings, workers: int, log: Path, extra_env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "MARKET_DATA_DIR": str(settings.market_data_dir),
        "MARKET_OPERATOR_TOKEN": "operator-test-token",
        **(extra_env or {}),
    }
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "market.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return Server(url, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(Server(url, process, log), signal.SIGKILL)
    raise RuntimeError(f"server did not become ready: {log.read_text()[-3000:]}")


def stop_server(server: Server, sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(server.process.pid, sig)
    except ProcessLookupError:
        return
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


@pytest.fixture(params=["routed", "unrouted"])
def two_workers(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """Two workers; "routed": orders go to their instrument's home worker (the default),
    "unrouted": each worker runs every order it receives, so both processes write the same
    instruments and only the advisory lock keeps them apart."""
    routed = "1" if request.param == "routed" else "0"
    server = start_server(settings, 2, tmp_path / "server.log", {"MARKET_ROUTE_ORDERS": routed})
    yield server
    stop_server(server)
