"""Schema-driven fuzz of the served API, as every party kind: `uv run python bench/fuzz.py`.

Starts `market serve --workers 2` on a fresh database (see bench/harness.py), creates one party
(and API key) per kind, then for every operation of `/schema/openapi.json` and every kind lets
schemathesis generate requests the schema calls valid and checks each response:

- `not_a_server_error`: no 5xx;
- `response_schema_conformance`: the response matches what the schema documents for its status;
- positive data acceptance: a schema-valid request is not refused as malformed (400/422), except
  the rules JSON Schema cannot state (the allowlist of tests/system/test_schema_fuzz.py).

Prints one JSON object: requests, failures by check, and the first failures. Exits 1 on any.
`--examples N` (default 16) bounds the examples per operation and kind; `--min-requests` (default
10,000) makes it go round again with more examples until that many requests were sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from bench.harness import TOKEN, machine, make_party, running_server  # noqa: E402

KINDS = ("collective", "enterprise", "government", "registrar", "certifier", "regulator")


async def keys(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as h:
        made = {kind: (await make_party(h, kind))[1] for kind in KINDS}
    return {**made, "operator": TOKEN}


def fuzz(url: str, tokens: dict[str, str], examples: int, seed: int) -> dict[str, Any]:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from tests.system.test_schema_fuzz import NUL_REFUSED, UNSTATABLE

    api = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    requests = 0
    failures: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    samples: list[str] = []

    def fail(check: str, case: Any, response: Any, detail: str) -> None:
        failures[check] += 1
        if len(samples) < 30:
            samples.append(f"{check}: {case.method} {case.path} -> {response.status_code} "
                           f"{detail[:300]}")  # fmt: skip

    for token in tokens.values():
        headers = {"Authorization": f"Bearer {token}"}
        for operation in operations:
            allowed = UNSTATABLE.get((operation.method.upper(), operation.path), set())

            @given(case=operation.as_strategy())
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def check(case: Any) -> None:
                nonlocal requests
                response = case.call(base_url=url, headers=headers, timeout=30)  # noqa: B023
                requests += 1
                statuses[response.status_code] += 1
                for name, function in (("not_a_server_error", not_a_server_error),
                                       ("response_schema_conformance",
                                        response_schema_conformance)):  # fmt: skip
                    try:
                        case.validate_response(response, checks=[function], headers=headers)  # noqa: B023
                    except Exception as error:  # a failed check raises; record and go on
                        fail(name, case, response, str(error))
                if response.status_code in (400, 422) and NUL_REFUSED not in response.text:
                    code = response.json().get("code") if response.text.startswith("{") else None
                    if code not in allowed:  # noqa: B023 (run here)
                        fail("positive_data_acceptance", case, response, response.text)

            check._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
            check()
    return {"requests": requests, "operations": len(operations), "failures": dict(failures),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "samples": samples}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=16)
    parser.add_argument("--min-requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    started = time.monotonic()
    total: dict[str, Any] = {"requests": 0, "failures": Counter(), "statuses": Counter(),
                             "samples": []}  # fmt: skip
    rounds = 0
    with running_server(args.workers) as server:
        tokens = asyncio.run(keys(server.url))
        examples = args.examples
        while total["requests"] < args.min_requests:
            result = fuzz(server.url, tokens, examples, args.seed + rounds)
            rounds += 1
            total["requests"] += result["requests"]
            total["operations"] = result["operations"]
            total["failures"].update(result["failures"])
            total["statuses"].update(result["statuses"])
            total["samples"] += result["samples"][: 30 - len(total["samples"])]
            examples *= 2
    report = {
        "benchmark": "fuzz",
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "kinds": list(tokens),
        "operations": total["operations"],
        "rounds": rounds,
        "requests": total["requests"],
        "failures": dict(total["failures"]),
        "failed_total": sum(total["failures"].values()),
        "statuses": dict(total["statuses"]),
        "seconds": round(time.monotonic() - started, 1),
        "samples": total["samples"],
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    sys.exit(1 if report["failed_total"] else 0)


if __name__ == "__main__":
    main()
