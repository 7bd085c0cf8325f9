"""Run every benchmark, one after another, and print one JSON object per line.

    uv run python bench/all.py [--quick]

`--quick` shortens each run (fewer orders, seconds and leaves) for a smoke check; the figures
in docs/BENCHMARKS.md come from the full runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FULL = [
    ["engine.py"],
    ["engine.py", "--depth"],
    ["merkle.py"],
    ["certificates.py"],
    ["e2e.py"],
    ["request_overhead.py"],
    ["profile_writes.py", "--workload", "orders", "--no-py-spy"],
    ["compensation.py"],
]
QUICK = [
    ["engine.py", "--orders", "100000"],
    ["engine.py", "--depth", "--orders", "20000"],
    ["merkle.py", "--leaves", "100000"],
    ["certificates.py", "--leaves", "10000", "--seconds", "3", "--samples", "100"],
    ["e2e.py", "--seconds", "3"],
    ["request_overhead.py", "--requests", "800"],
    ["profile_writes.py", "--workload", "orders", "--no-py-spy", "--seconds", "3"],
    ["compensation.py", "--assets", "1000"],
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    failed = 0
    for command in QUICK if args.quick else FULL:
        result = subprocess.run(
            [sys.executable, str(HERE / command[0]), *command[1:]],
            cwd=HERE.parent, capture_output=True, text=True, check=False,
        )  # fmt: skip
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode or not lines:
            failed += 1
            print(f'{{"bench": "{command[0]}", "error": {result.returncode}}}', flush=True)
            sys.stderr.write(result.stderr[-2000:])
        else:
            print(lines[-1], flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
