"""Every SQL statement a process sends, counted and timed — for profiling, off by default.

`MARKET_STATEMENT_STATS=/path/prefix` makes each worker attach an asyncpg query logger to every
connection of its pools, start counting afresh on SIGUSR1, and write `{prefix}.{pid}.json` at
shutdown: per statement (whitespace
folded, cut at 160 characters), how often it ran and the seconds spent waiting for it (the round
trip as the client sees it). `bench/profile_writes.py` reads these files.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

STATEMENT_CHARS = 160


class StatementStats:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def reset(self) -> None:
        """Forget what was counted so far (SIGUSR1 in a worker: a benchmark's load starts)."""
        self.counts.clear()
        self.seconds.clear()

    def add(self, statement: str, seconds: float) -> None:
        key = " ".join(statement.split())[:STATEMENT_CHARS]
        self.counts[key] = self.counts.get(key, 0) + 1
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds

    def record(self, logged: Any) -> None:
        """asyncpg's query-logger callback (a `LoggedQuery`): what hot paths send on the raw
        connection, and BEGIN/COMMIT."""
        self.add(str(logged.query), float(logged.elapsed))

    def attach(self, engine: AsyncEngine) -> None:
        """Log every statement of every connection `engine` opens from now on: SQLAlchemy's
        own (asyncpg logs no prepared statement) and asyncpg's."""
        sync_engine = engine.sync_engine

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.driver_connection.add_query_logger(self.record)

        def before(conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
            conn.info.setdefault("statement_started", []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.add(statement, time.perf_counter() - conn.info["statement_started"].pop())

        event.listen(sync_engine, "connect", on_connect)
        event.listen(sync_engine, "before_cursor_execute", before)
        event.listen(sync_engine, "after_cursor_execute", after)

    def dump(self, prefix: Path) -> Path:
        path = prefix.with_name(f"{prefix.name}.{os.getpid()}.json")
        rows = [
            {"statement": key, "count": count, "seconds": round(self.seconds[key], 6)}
            for key, count in sorted(self.counts.items(), key=lambda item: -self.seconds[item[0]])
        ]
        path.write_text(json.dumps(rows, indent=1))
        return path
