"""Build registry state over HTTP: confirmed assets, certified products, issued batches."""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass
from typing import Any

from tests.api.conftest import Actor, PartyFactory

_cells = itertools.count()


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


def fresh_square() -> dict[str, Any]:
    """A boundary no other test uses (a grid of disjoint cells)."""
    n = next(_cells)
    return square(100.0 + (n % 500) * 0.02, 20.0 + (n // 500) * 0.02)


def asset_body(
    holder: Actor, boundary: dict[str, Any] | None = None, **over: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource_type": "forest",
        "name": "东山村集体林地",
        "region_code": "330521",
        "area_ha": "120.50",
        "boundary": boundary or fresh_square(),
        "rights": [
            {
                "kind": "ownership",
                "holder_id": holder.id,
                "share": "100",
                "valid_from": "2020-01-01",
            }
        ],
        "attributes": {"forest_stock_m3": "5400"},
    }
    body.update(over)
    return body


@dataclass
class Registry:
    operator: Actor
    registrar: Actor
    certifier: Actor
    regulator: Actor
    make_party: PartyFactory

    async def confirmed_asset(self, holder: Actor, **over: Any) -> dict[str, Any]:
        applied = await holder.post("/v1/assets", json=asset_body(holder, **over))
        assert applied.status_code == 201, applied.text
        confirmed = await self.registrar.post(f"/v1/assets/{applied.json()['id']}/confirm")
        assert confirmed.status_code == 200, confirmed.text
        return dict(confirmed.json())

    async def certified_product(
        self, holder: Actor, product_type: str = "CARBON_SINK"
    ) -> dict[str, Any]:
        asset = await self.confirmed_asset(holder)
        applied = await holder.post(
            "/v1/eco-products",
            json={"product_type": product_type, "name": "东山林业碳汇", "asset_ids": [asset["id"]],
                  "methodology": "CCER-14-001-V01"},
        )  # fmt: skip
        assert applied.status_code == 201, applied.text
        certified = await self.certifier.post(
            f"/v1/eco-products/{applied.json()['id']}/certify", json={"standard": "CCER"}
        )
        assert certified.status_code == 200, certified.text
        return dict(certified.json())

    async def batch(
        self, holder: Actor, quantity: int, product_type: str = "CARBON_SINK"
    ) -> dict[str, Any]:
        product = await self.certified_product(holder, product_type)
        issued = await self.certifier.post(
            f"/v1/eco-products/{product['id']}/batches",
            json={"quantity": quantity, "vintage": 2025, "period_start": "2025-01-01",
                  "period_end": "2025-12-31"},
        )  # fmt: skip
        assert issued.status_code == 201, issued.text
        return dict(issued.json())

    async def trader(self, kind: str = "collective") -> Actor:
        return await self.make_party(kind)

    async def applied_asset(self, holder: Actor, **over: Any) -> dict[str, Any]:
        """An asset application (status `applied`), not yet decided."""
        applied = await holder.post("/v1/assets", json=asset_body(holder, **over))
        assert applied.status_code == 201, applied.text
        return dict(applied.json())

    async def product_on(
        self, holder: Actor, asset_ids: list[str], product_type: str = "CARBON_SINK"
    ) -> dict[str, Any]:
        """A certified eco-product of `holder` on the given (confirmed) assets."""
        applied = await holder.post(
            "/v1/eco-products",
            json={"product_type": product_type, "name": "产品", "asset_ids": asset_ids},
        )
        assert applied.status_code == 201, applied.text
        certified = await self.certifier.post(
            f"/v1/eco-products/{applied.json()['id']}/certify", json={"standard": "CCER"}
        )
        assert certified.status_code == 200, certified.text
        return dict(certified.json())

    async def issue(
        self,
        product_id: str,
        quantity: int,
        period_start: str = "2025-01-01",
        period_end: str = "2025-12-31",
        vintage: int = 2025,
    ) -> dict[str, Any]:
        """Issue a batch of a certified eco-product for the given period."""
        issued = await self.certifier.post(
            f"/v1/eco-products/{product_id}/batches",
            json={"quantity": quantity, "vintage": vintage, "period_start": period_start,
                  "period_end": period_end},
        )  # fmt: skip
        assert issued.status_code == 201, issued.text
        return dict(issued.json())

    async def current_batch(
        self, holder: Actor, quantity: int, product_type: str = "WATER_RIGHT"
    ) -> dict[str, Any]:
        """A batch whose period has not ended (today .. a year from now)."""
        today = _dt.date.today()
        product = await self.certified_product(holder, product_type)
        return await self.issue(
            product["id"],
            quantity,
            period_start=(today - _dt.timedelta(days=1)).isoformat(),
            period_end=(today + _dt.timedelta(days=365)).isoformat(),
            vintage=today.year,
        )
