"""`market serve --workers N`: N server processes, each with its own listening socket.

uvicorn's own multi-process mode shares one listening socket; Linux then hands most of the
keep-alive connections to whichever process happens to accept first, and one process ends up
serving most of the load while the other idles. Here every worker binds the port with
`SO_REUSEPORT`, so the kernel spreads connections evenly across the workers, and each worker
knows its index and a directory of Unix sockets to reach the others (orders go to their
instrument's home worker: `market.workers.peers`). A worker that dies is started again with the
same index; SIGTERM/SIGINT stop them all.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import shutil
import socket
import tempfile
import time
from multiprocessing.process import BaseProcess

import structlog

log = structlog.get_logger()
RESTART_PAUSE_S = 0.5
STARTUP_S = 10.0


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, index: int, workers: int, peer_dir: str) -> None:
    import os

    import uvicorn

    os.environ["MARKET_WORKER_INDEX"] = str(index)
    os.environ["MARKET_WORKERS"] = str(workers)
    os.environ["MARKET_PEER_DIR"] = peer_dir

    config = uvicorn.Config(
        "market.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[_listening_socket(host, port)])


def run_workers(host: str, port: int, workers: int) -> None:
    """Run `workers` server processes until this process is told to stop."""
    context = multiprocessing.get_context("spawn")
    peer_dir = tempfile.mkdtemp(prefix="market-peers-")

    def start(index: int) -> BaseProcess:
        process = context.Process(
            target=_worker,
            args=(host, port, index, workers, peer_dir),
            name=f"market-worker-{index}",
        )
        process.start()
        return process

    processes = [start(i) for i in range(workers)]
    started = [time.monotonic()] * workers
    try:
        while True:
            time.sleep(RESTART_PAUSE_S)
            for i, process in enumerate(processes):
                if not process.is_alive():
                    log.warning("worker_died", pid=process.pid, exitcode=process.exitcode)
                    if time.monotonic() - started[i] < STARTUP_S:
                        # It could not even start (the port is taken, say): give up.
                        raise SystemExit(f"worker {i} failed to start")
                    processes[i] = start(i)
                    started[i] = time.monotonic()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + 30
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.join(5)
        shutil.rmtree(peer_dir, ignore_errors=True)
