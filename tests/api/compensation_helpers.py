"""Build compensation state over HTTP: fresh regions, funded schemes, settled periods."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from market.cli import main as cli_main
from tests.api.conftest import Actor

_prefixes = itertools.count(1)


def fresh_prefix() -> str:
    """A prefecture-level prefix (4 digits) no other test in this run uses: its counties are
    `{prefix}01`, `{prefix}02`…"""
    n = next(_prefixes)
    return f"9{1 + n // 100 % 9}{n % 100:02d}"


async def scheme(payer: Actor, name: str, kind: str, rules: dict[str, Any]) -> dict[str, Any]:
    response = await payer.post(
        "/v1/compensation/schemes", json={"name": name, "kind": kind, "rules": rules}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def fund(payer: Actor, scheme_id: str, amount: str) -> dict[str, Any]:
    response = await payer.post(
        f"/v1/compensation/schemes/{scheme_id}/fund", json={"amount": amount}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def settle(
    actor: Actor, scheme_id: str, start: str, end: str, *, preview: bool
) -> dict[str, Any]:
    response = await actor.post(
        f"/v1/compensation/schemes/{scheme_id}/periods",
        json={"period_start": start, "period_end": end, "preview": preview},
    )
    assert response.status_code == (200 if preview else 201), response.text
    return dict(response.json())


def paid(period: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    """(party, asset) → amount."""
    return {(p["to_party_id"], p["asset_id"]): p["amount"] for p in period["payments"]}


async def verified_offline(
    client: AsyncTestClient[Any], certificate_id: str, tmp_path: Path
) -> dict[str, Any]:
    """The certificate's bundle verifies with no server (`market verify`); its payload."""
    bundle = (await client.get(f"/v1/certificates/{certificate_id}/bundle")).json()
    path = tmp_path / f"{certificate_id}.json"
    path.write_text(json.dumps(bundle))
    assert cli_main(["verify", str(path)]) == 0
    return dict(bundle["certificate"]["payload"])
