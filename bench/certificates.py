"""Certificates issued per second through the service, and proof latency at 1,000,000 leaves.

    uv run python bench/certificates.py [--leaves 1000000] [--seconds 15] [--clients 32]

1. The log is pre-filled with `--leaves` synthetic leaves (nodes computed in memory, COPY'd
   into `log_nodes`), then inclusion and consistency proofs are fetched over HTTP one at a time
   and timed, with the number of stored nodes each proof read.
2. Clients retire 1 unit per request (each retirement is signed and appended to the log in its
   transaction) with `wrk` when installed, else httpx: certificates per second, p50/p99.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import time
from typing import Any

import asyncpg
import httpx
from harness import TOKEN, execute, holders_with_units, machine, percentile, running_server

from market.certification import merkle

RETIRE_LUA = """
holders = {%(holders)s}
function request()
  local h = holders[math.random(#holders)]
  return wrk.format("POST", "/v1/retirements",
    {["Authorization"] = "Bearer " .. h[1], ["Content-Type"] = "application/json"},
    '{"batch_id":"' .. h[2] .. '","quantity":1,"beneficiary":"bench","reason":"bench"}')
end
"""


async def prefill(database_url: str, leaves: int) -> float:
    store = merkle.InMemoryNodeStore()
    t0 = time.perf_counter()
    step = 10_000
    for start in range(0, leaves, step):
        store.append_many(
            [
                merkle.leaf_hash(b"bench-leaf-%d" % i)
                for i in range(start, min(leaves, start + step))
            ]
        )
    records = [(ref.level, ref.index, value) for ref, value in store.nodes.items()]
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "log_nodes", records=records, columns=["level", "idx", "hash"]
        )
        await connection.execute(
            "UPDATE log_state SET tree_size = $1, root_hash = $2 WHERE id = 1",
            leaves,
            store.root(leaves),
        )
    finally:
        await connection.close()
    return time.perf_counter() - t0


async def proof_latency(url: str, leaves: int, samples: int) -> dict[str, Any]:
    rng = random.Random(7)
    inclusion: list[float] = []
    consistency: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for _ in range(samples):
            t0 = time.perf_counter()
            r = await http.get("/v1/log/proof/inclusion",
                               params={"leaf_index": rng.randrange(leaves), "tree_size": leaves})  # fmt: skip
            inclusion.append(time.perf_counter() - t0)
            r.raise_for_status()
            first = rng.randrange(1, leaves)
            t0 = time.perf_counter()
            r = await http.get(
                "/v1/log/proof/consistency", params={"first": first, "second": leaves}
            )
            consistency.append(time.perf_counter() - t0)
            r.raise_for_status()
    return {
        "samples": samples,
        "inclusion_p50_ms": round(percentile(inclusion, 0.5) * 1000, 2),
        "inclusion_p99_ms": round(percentile(inclusion, 0.99) * 1000, 2),
        "consistency_p50_ms": round(percentile(consistency, 0.5) * 1000, 2),
        "consistency_p99_ms": round(percentile(consistency, 0.99) * 1000, 2),
        "node_reads_per_proof_max": max(
            len(merkle.inclusion_plan(leaves - 1, leaves)),
            len(merkle.consistency_plan(leaves - 1, leaves)),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--holders", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    with running_server(args.workers, {"MARKET_BENCH_ENDPOINTS": "1"}) as server:
        execute(server.database_url, "CREATE TABLE bench_pings (id BIGSERIAL PRIMARY KEY, "
                "at TIMESTAMPTZ NOT NULL DEFAULT now())")  # fmt: skip

        async def run() -> dict[str, Any]:
            build_s = await prefill(server.database_url, args.leaves)
            proofs = await proof_latency(server.url, args.leaves, args.samples)
            async with httpx.AsyncClient(base_url=server.url, timeout=300,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as http:  # fmt: skip
                holders = await holders_with_units(http, args.holders, 1_000_000, None)
                size_before = (await http.get("/v1/log/head")).json()["tree_size"]
            baseline = None
            if shutil.which("wrk"):
                from e2e import PING_LUA, wrk

                # Our app's own ping (middleware, session, one INSERT), same run, same load.
                baseline = wrk(server.url, "/v1/bench/ping", PING_LUA, args.clients, args.seconds)

                lua = RETIRE_LUA % {
                    "holders": ", ".join(f'{{"{h["token"]}", "{h["batch_id"]}"}}' for h in holders)
                }
                issued = wrk(server.url, "/v1/retirements", lua, args.clients, args.seconds)
            else:
                from e2e import hammer

                def retire(
                    i: int, rng: random.Random
                ) -> tuple[str, str, dict[str, str], dict[str, Any]]:
                    h = holders[i % len(holders)]
                    return ("POST", "/v1/retirements", {"Authorization": f"Bearer {h['token']}"},
                            {"batch_id": h["batch_id"], "quantity": 1, "beneficiary": "b", "reason": "r"})  # fmt: skip

                issued = await hammer(server.url, args.clients, args.seconds, retire)
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                size_after = (await http.get("/v1/log/head")).json()["tree_size"]
            return {
                "prefill_s": round(build_s, 1),
                "proofs_at_leaves": args.leaves,
                **proofs,
                "certificates": {**issued, "appended_to_log": size_after - size_before},
                "baseline_ping": baseline,
                "ratio_retirements_to_ping": round(issued["per_s"] / baseline["per_s"], 3)
                if baseline
                else None,
            }

        result = asyncio.run(run())
    print(json.dumps({"bench": "certificates", "workers": args.workers, "clients": args.clients,
                      "holders": args.holders,
                      **result, "machine": machine()}))  # fmt: skip


if __name__ == "__main__":
    main()
