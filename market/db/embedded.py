"""The embedded PostgreSQL (pgserver) used when `DATABASE_URL` is unset."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any


def _pgserver() -> Any:
    # pgserver logs every pg_ctl call at INFO, also from its atexit hook: keep output clean.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


_servers: dict[Path, Any] = {}


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server under `data_dir/pgdata`; return its postgresql:// URI."""
    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _pgserver().get_server(pgdata, cleanup_mode="stop")
    _servers[pgdata] = server
    return str(server.get_uri())


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server if it still runs, so no postgres outlives `market serve`."""
    pgdata = (data_dir / "pgdata").resolve()
    server = _servers.pop(pgdata, None)
    if server is not None:
        with contextlib.suppress(Exception):
            server.cleanup()
    if not (pgdata / "postmaster.pid").exists():
        return
    pg_ctl = _pgserver()._commands.pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
