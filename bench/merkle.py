"""Benchmark: Merkle proofs over a 1,000,000-leaf in-memory log (plan -> fetch -> compute).

Run: ``uv run python bench/merkle.py [--leaves N] [--batch K] [--samples S]``.
Prints ONE JSON object ``{"bench": "merkle_proofs", ...}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time

from market.certification import merkle


def _pct(sorted_values: list[float], q: float) -> float:
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=6962)
    args = parser.parse_args()
    n: int = args.leaves
    rng = random.Random(args.seed)

    store = merkle.InMemoryNodeStore()
    t0 = time.perf_counter()
    for start in range(0, n, args.batch):
        stop = min(n, start + args.batch)
        store.append_many([merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(start, stop)])
    build_s = time.perf_counter() - t0
    root = store.root()
    # Move the ~2M stored nodes out of the cyclic GC's view so collections during sampling do not
    # scan them (a long-lived service would do the same or keep nodes in PostgreSQL).
    gc.collect()
    gc.freeze()

    incl_us: list[float] = []
    incl_reads: list[int] = []
    for _ in range(args.samples):
        index = rng.randrange(n)
        t = time.perf_counter_ns()
        plan = merkle.inclusion_plan(index, n)
        fetched = store.fetch(plan)
        proof = merkle.inclusion_proof(index, n, fetched)
        incl_us.append((time.perf_counter_ns() - t) / 1000)
        incl_reads.append(len(plan))
        leaf = store.nodes[merkle.NodeRef(0, index)]
        assert merkle.verify_inclusion(leaf, index, n, proof, root)

    cons_us: list[float] = []
    cons_reads: list[int] = []
    for _ in range(args.samples):
        first = rng.randrange(1, n + 1)
        t = time.perf_counter_ns()
        plan = merkle.consistency_plan(first, n)
        fetched = store.fetch(plan)
        proof = merkle.consistency_proof(first, n, fetched)
        cons_us.append((time.perf_counter_ns() - t) / 1000)
        cons_reads.append(len(plan))
        assert merkle.verify_consistency(first, n, store.root(first), root, proof)

    incl_us.sort()
    cons_us.sort()
    print(
        json.dumps(
            {
                "bench": "merkle_proofs",
                "leaves": n,
                "append_batch": args.batch,
                "stored_nodes": len(store.nodes),
                "build_s": round(build_s, 2),
                "build_leaves_per_s": round(n / build_s),
                "samples": args.samples,
                "inclusion_us_median": round(statistics.median(incl_us), 1),
                "inclusion_us_p99": round(_pct(incl_us, 0.99), 1),
                "inclusion_node_reads_mean": round(statistics.fmean(incl_reads), 2),
                "inclusion_node_reads_max": max(incl_reads),
                "consistency_us_median": round(statistics.median(cons_us), 1),
                "consistency_us_p99": round(_pct(cons_us, 0.99), 1),
                "consistency_node_reads_mean": round(statistics.fmean(cons_reads), 2),
                "consistency_node_reads_max": max(cons_reads),
                "root_hash": root.hex(),
            }
        )
    )


if __name__ == "__main__":
    main()
