"""Where a write's time goes: per request, the transactions, rows and SQL statements it costs,
and which Python functions the server spends its CPU in.

    uv run python bench/profile_writes.py [--workload orders|retirements|ping] [--seconds 10]
                                          [--clients 64] [--workers 1] [--no-py-spy]

Runs `market serve` on a fresh database with `MARKET_STATEMENT_STATS` (every statement counted
and timed per worker, `market.db.statement_stats`), drives one workload with wrk (as
`bench/e2e.py` does), stops the server (so PostgreSQL's per-table counters are flushed) and
prints one JSON object:

- `per_request`: transactions committed, rows inserted / updated (HOT or not) / deleted, and
  statements sent, each divided by the requests answered 2xx;
- `rows_by_table`: the same rows per request for each table;
- `statements`: the statements that cost most round-trip time, with count per request and mean
  milliseconds;
- `functions`: with py-spy (`uvx py-spy`, sampled at 250 Hz without pausing the
  worker processes), the
  functions with the most samples of their own, then our own functions by inclusive samples,
  as shares of all samples (idle threads left out).

py-spy needs ptrace; pass `--no-py-spy` where it is not allowed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from e2e import ORDER_LUA, PING_LUA, RETIRE_LUA, wrk
from harness import TOKEN, execute, holders_with_units, machine, running_server

TABLE_ROWS = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables
"""
COMMITS = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
SESSIONS = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"


def table_rows(url: str) -> dict[str, tuple[int, int, int, int]]:
    rows = execute(url, TABLE_ROWS, all_rows=True)
    return {name: (ins, upd, hot, dele) for name, ins, upd, hot, dele in rows}


def functions(raw: Path, top: int = 25) -> list[dict[str, Any]]:
    """py-spy's raw (collapsed) stacks summed per function: self and inclusive shares."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or "(threading.py" in stack.rsplit(";", 1)[-1]:
            continue  # an idle thread waiting (the log queue's listener), not work
        n = int(count)
        total += n
        names = []
        for frame in stack.split(";"):
            found = re.match(r"(.*) \((.*):\d+\)", frame)
            if found:
                where = found.group(2).split("site-packages/")[-1].split("market/", 1)[-1]
                names.append(f"{found.group(1)} ({where})")
        for name in set(names):
            inclusive[name] += n
        if names:
            own[names[-1]] += n
    return [
        {"function": name, "self": round(own[name] / total, 4), "inclusive": round(n / total, 4)}
        for name, n in own.most_common(top)
    ] + [
        {"function": name, "inclusive": round(n / total, 4)}
        for name, n in inclusive.most_common()
        if _ours(name)
    ][:top]


def _group(leader: int) -> list[int]:
    """The processes of `leader`'s process group (`market serve` and its workers)."""
    found = subprocess.run(["pgrep", "-g", str(leader)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _catches(pid: int, signum: int) -> bool:
    """Whether the process handles `signum` (its caught-signals mask in /proc): a worker that
    counts statements does; the supervisor does not, and would die of it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def _ours(name: str) -> bool:
    """A frame of our own code (its path was cut at `market/`), not a library's."""
    where = name.rsplit("(", 1)[-1]
    return "/" in where and where.split("/", 1)[0] in OUR_PACKAGES


OUR_PACKAGES = {
    "cash",
    "certification",
    "db",
    "http",
    "kit",
    "oversight",
    "parties",
    "payments",
    "registry",
    "trading",
    "valuation",
    "compensation",
    "workers",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", choices=["orders", "retirements", "ping"], default="orders")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-py-spy", action="store_true")
    args = parser.parse_args()
    stats_dir = Path(tempfile.mkdtemp(prefix="market-statements-"))
    env = {"MARKET_BENCH_ENDPOINTS": "1", "MARKET_STATEMENT_STATS": str(stats_dir / "stats")}
    symbols = [f"P{i}{secrets.token_hex(2).upper()}" for i in range(4)]
    py_spy = None if args.no_py_spy else shutil.which("uvx")
    result: dict[str, Any] = {"bench": "profile_writes", "workload": args.workload,
                              "workers": args.workers, "clients": args.clients}  # fmt: skip
    with running_server(args.workers, env) as server:
        execute(server.database_url, "CREATE TABLE bench_pings (id BIGSERIAL PRIMARY KEY, "
                "at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip

        async def prepare() -> tuple[str, str]:
            async with httpx.AsyncClient(base_url=server.url, timeout=300,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
                if args.workload == "ping":
                    return "/v1/bench/ping", PING_LUA
                if args.workload == "retirements":
                    holders = await holders_with_units(http, args.clients, 1_000_000, None)
                    lua = ", ".join(f'{{"{h["token"]}", "{h["batch_id"]}"}}' for h in holders)
                    return "/v1/retirements", RETIRE_LUA % {"holders": lua}
                for symbol in symbols:
                    (await http.post("/v1/instruments", json={
                        "symbol": symbol, "product_type": "CARBON_SINK", "reference_price": "50.00",
                        "buyer_fee_bps": 5, "seller_fee_bps": 5})).raise_for_status()  # fmt: skip
                holders = await holders_with_units(http, 16, 10_000_000, "100000000.00")
                tokens = ", ".join(f'"{h["token"]}"' for h in holders)
                return "/v1/orders", ORDER_LUA % {
                    "tokens": tokens, "symbols": ", ".join(f'"{s}"' for s in symbols)}  # fmt: skip

        path, script = asyncio.run(prepare())
        before_rows = table_rows(server.database_url)
        before_commits = int(execute(server.database_url, COMMITS))
        before_sessions = int(execute(server.database_url, SESSIONS))
        counting = [pid for pid in _group(server.pid) if _catches(pid, signal.SIGUSR1)]
        for pid in counting:  # the workers count statements from here on (not the setup's)
            os.kill(pid, signal.SIGUSR1)
        spy = None
        raw = stats_dir / "py-spy.txt"
        if py_spy:
            spy = subprocess.Popen(
                [py_spy, "py-spy", "record", "--format", "raw", "-r", "250", "--subprocesses",
                 "--nonblocking",
                 "-o", str(raw), "--duration", str(int(args.seconds) + 1),
                 "--pid", str(server.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        load = wrk(server.url, path, script, args.clients, args.seconds)
        if spy is not None:
            spy.wait(timeout=120)
        result["load"] = load
        # Stop the server (its backends flush their statistics on exit), then read the counters.
        os.killpg(server.pid, signal.SIGTERM)
        for _ in range(300):  # until every worker has written its statement counts
            if len(list(stats_dir.glob("stats.*.json"))) >= args.workers:
                break
            time.sleep(0.1)
        time.sleep(1.5)
        after_rows = table_rows(server.database_url)
        commits = int(execute(server.database_url, COMMITS)) - before_commits
        # Connections opened during the load, less the one each `execute` above opens.
        sessions = int(execute(server.database_url, SESSIONS)) - before_sessions - 3
    answered = max(1, load["requests"] - load["non_2xx"])
    by_table = {}
    totals = [0, 0, 0, 0]
    for name, after in after_rows.items():
        delta = [a - b for a, b in zip(after, before_rows.get(name, (0, 0, 0, 0)), strict=True)]
        if any(delta):
            by_table[name] = {"inserted": round(delta[0] / answered, 2),
                              "updated": round(delta[1] / answered, 2),
                              "hot_updated": round(delta[2] / answered, 2),
                              "deleted": round(delta[3] / answered, 2)}  # fmt: skip
            totals = [t + d for t, d in zip(totals, delta, strict=True)]
    counts: collections.Counter[str] = collections.Counter()
    seconds: collections.Counter[str] = collections.Counter()
    for dump in stats_dir.glob("stats.*.json"):
        for row in json.loads(dump.read_text()):
            counts[row["statement"]] += row["count"]
            seconds[row["statement"]] += row["seconds"]
    result["per_request"] = {
        "answered_2xx": answered,
        "transactions": round(commits / answered, 2),
        "rows_written": round((totals[0] + totals[1] + totals[3]) / answered, 2),
        "rows_inserted": round(totals[0] / answered, 2),
        "rows_updated": round(totals[1] / answered, 2),
        "rows_hot_updated": round(totals[2] / answered, 2),
        "statements": round(sum(counts.values()) / answered, 2),
        "connections_opened": sessions,
    }
    result["rows_by_table"] = dict(sorted(by_table.items(), key=lambda kv: -sum(kv[1].values())))
    result["statements"] = [
        {
            "statement": s,
            "per_request": round(counts[s] / answered, 3),
            "mean_ms": round(1000 * seconds[s] / counts[s], 3),
        }
        for s, _ in seconds.most_common(15)
    ]
    if py_spy and raw.exists():
        result["functions"] = functions(raw)
    result["machine"] = machine()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
