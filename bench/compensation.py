"""A classified compensation period over a large region, through HTTP and PostgreSQL.

    uv run python bench/compensation.py [--assets 10000] [--holders-per-asset 2]

A fresh database and `market serve` (bench/harness.py). 10,000 confirmed forest assets and
20,000 right holders (two co-owners per asset, 60 % / 40 %) are written straight into the tables
(COPY; the registry's HTTP path is measured elsewhere); a district government then creates and
funds a classified scheme over HTTP, previews the period and settles it. The settlement pays
every holder (20,000 journal entries, 20,000 signed certificates appended to the Merkle log,
10,000 claims through the double-claim trigger) in one transaction. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import httpx
from harness import TOKEN, credit_code, machine, running_server

from market.kit.ids import new_id

REGION = "330521"
RATE = "12.34"
BOUNDARY = json.dumps(
    {"type": "Polygon", "coordinates": [[[0, 0], [0.001, 0], [0.001, 0.001], [0, 0]]]}
)


async def seed(database_url: str, assets: int, per_asset: int) -> None:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    try:
        parties = [(new_id("pty"), f"村民小组 {i}", "collective", credit_code(), REGION, "active", now)
                   for i in range(assets * per_asset)]  # fmt: skip
        await connection.copy_records_to_table(
            "parties", records=parties,
            columns=["id", "name", "kind", "credit_code", "region_code", "status", "created_at"],
        )  # fmt: skip
        rows, rights = [], []
        for i in range(assets):
            asset_id = new_id("ast")
            lon, lat = 100 + (i % 100) * 0.01, 20 + (i // 100) * 0.01
            rows.append((asset_id, parties[i * per_asset][0], "forest", f"林地 {i}", REGION,
                         Decimal(f"{10 + i % 90}.{i % 10000:04d}"), BOUNDARY, lon, lat, lon + 0.001,
                         lat + 0.001, "{}", "confirmed", f"BENCH-{i:06d}", now))  # fmt: skip
            shares = (
                [Decimal(60), Decimal(40)]
                if per_asset == 2
                else [Decimal(100) / per_asset] * per_asset
            )
            for k in range(per_asset):
                rights.append((new_id("rgt"), asset_id, "ownership", parties[i * per_asset + k][0],
                               shares[k], date(2020, 1, 1), None))  # fmt: skip
        await connection.copy_records_to_table(
            "assets", records=rows,
            columns=["id", "applicant_id", "resource_type", "name", "region_code", "area_ha",
                     "boundary", "min_lon", "min_lat", "max_lon", "max_lat", "attributes", "status",
                     "registration_number", "created_at"],
        )  # fmt: skip
        await connection.copy_records_to_table(
            "asset_rights", records=rights,
            columns=["id", "asset_id", "kind", "holder_id", "share", "valid_from", "valid_to"],
        )  # fmt: skip
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def run(url: str, database_url: str, assets: int, per_asset: int) -> dict[str, object]:
    t0 = time.perf_counter()
    await seed(database_url, assets, per_asset)
    seeded = time.perf_counter() - t0
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                                 timeout=120) as http:  # fmt: skip
        r = await http.post("/v1/parties", json={"name": "区财政局", "kind": "government",
                                                 "credit_code": credit_code(), "region_code": REGION})  # fmt: skip
        r.raise_for_status()
        gov = {"Authorization": f"Bearer {r.json()['api_key']}"}
        (await http.post("/v1/deposits", json={"party_id": r.json()["party"]["id"], "amount": "100000000.00",
                                               "method": "bank_transfer", "reference": "bench"})).raise_for_status()  # fmt: skip
        s = await http.post("/v1/compensation/schemes", headers=gov, json={
            "name": "森林生态效益分类补偿", "kind": "classified",
            "rules": {"region_prefix": REGION[:4], "resource_type": "forest",
                      "service": "water_conservation", "rate_per_ha": RATE}})  # fmt: skip
        s.raise_for_status()
        scheme = s.json()["id"]
        (await http.post(f"/v1/compensation/schemes/{scheme}/fund", headers=gov,
                         json={"amount": "100000000.00"})).raise_for_status()  # fmt: skip
        period = {"period_start": "2025-01-01", "period_end": "2025-12-31"}
        t1 = time.perf_counter()
        preview = await http.post(f"/v1/compensation/schemes/{scheme}/periods", headers=gov,
                                  json={**period, "preview": True})  # fmt: skip
        preview.raise_for_status()
        t2 = time.perf_counter()
        settled = await http.post(f"/v1/compensation/schemes/{scheme}/periods", headers=gov,
                                  json={**period, "preview": False})  # fmt: skip
        settled.raise_for_status()
        t3 = time.perf_counter()
        body = settled.json()
        invariants = await http.get("/v1/oversight/invariants")
        ok = invariants.json()["ok"] if invariants.status_code == 200 else None
    return {
        "benchmark": "compensation_classified_period",
        "machine": machine(),
        "assets": assets,
        "right_holders": assets * per_asset,
        "payments": len(body["payments"]),
        "total": body["total"],
        "preview_matches": preview.json()["total"] == body["total"],
        "seed_s": round(seeded, 2),
        "preview_s": round(t2 - t1, 2),
        "settle_s": round(t3 - t2, 2),
        "target_s": 10,
        "invariants_ok": ok,
        "run": secrets.token_hex(2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--holders-per-asset", type=int, default=2)
    args = parser.parse_args()
    with running_server(1) as server:
        print(json.dumps(asyncio.run(run(server.url, server.database_url, args.assets,
                                         args.holders_per_asset))))  # fmt: skip


if __name__ == "__main__":
    main()
