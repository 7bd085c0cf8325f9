"""`market demo`: load the value-accounting and compensation scenario into a running server.

A district government compensates its villages' forests — a classified scheme per ecosystem
service and a comprehensive scheme weighted by published GEP — and one village sells carbon
credits from its forest, so that forest's carbon fixation is not paid for twice; two cities
settle a horizontal (对赌) agreement on the water at a river section for two months. Every step
goes through the public HTTP API with the operator's token, as a newcomer would.

    market serve &            # with MARKET_OPERATOR_TOKEN=demo-token
    market demo --url http://127.0.0.1:8000 --token demo-token
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from market.parties.credit_code import complete_credit_code

YEAR = {"period_start": "2025-01-01", "period_end": "2025-12-31"}
METHODOLOGY = {"code": "CN-GEP", "version": "2022-illustrative"}


class DemoFailed(RuntimeError):
    pass


class Demo:
    def __init__(self, http: httpx.AsyncClient, operator_token: str) -> None:
        self.http = http
        self.operator = operator_token
        self.ids: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.run = secrets.randbelow(80)  # regions and boundaries of this run
        self.log: list[str] = []

    async def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        token = self.operator if who == "operator" else self.tokens[who]
        response = await self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code >= 400:
            raise DemoFailed(f"{method} {path} as {who}: {response.status_code} {response.text}")
        return response.json()

    async def party(self, key: str, kind: str, name: str, region: str) -> None:
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        code = complete_credit_code(
            "91" + region + "".join(secrets.choice(alphabet) for _ in range(9))
        )
        created = await self.call("operator", "POST", "/v1/parties", {
            "name": name, "kind": kind, "credit_code": code, "region_code": region})  # fmt: skip
        self.ids[key], self.tokens[key] = created["party"]["id"], created["api_key"]

    async def unused_prefix(self) -> str:
        """A prefecture-level prefix (9xxx) with no registered asset and no GEP account yet, so
        the demo can run again on the same server."""
        for _ in range(50):
            prefix = f"9{secrets.randbelow(1000):03d}"
            assets = await self.call("operator", "GET", f"/v1/assets?region_code={prefix}00")
            accounts = await self.call(
                "operator", "GET", f"/v1/gep/accounts?region_code={prefix}01"
            )
            if not assets["items"] and not accounts["items"]:
                return prefix
        raise DemoFailed("no unused region prefix found")

    def boundary(self, n: int) -> dict[str, Any]:
        lon, lat = 116.0 + self.run * 0.05 + n * 0.02, 40.3 + secrets.randbelow(1000) * 0.002
        ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01],
                [lon, lat]]  # fmt: skip
        return {"type": "Polygon", "coordinates": [ring]}

    async def load(self) -> dict[str, Any]:
        prefix = await self.unused_prefix()
        east, west = f"{prefix}01", f"{prefix}02"
        for key, kind, name, region in (
            ("registrar", "registrar", "区自然资源确权登记中心", f"{prefix}00"),
            ("certifier", "certifier", "生态产品价值核算与认证中心", f"{prefix}00"),
            ("district", "government", "区财政局", f"{prefix}00"),
            ("east_village", "collective", "东山村股份经济合作社", east),
            ("west_village", "collective", "西坡村股份经济合作社", west),
            ("west_coop", "collective", "西坡林业专业合作社", west),
            ("upstream", "government", "上游市财政局", "130800"),
            ("downstream", "government", "下游市财政局", "110100"),
        ):
            await self.party(key, kind, name, region)
        for key, amount in (("district", "1000000.00"), ("upstream", "2000000.00"),
                            ("downstream", "2000000.00")):  # fmt: skip
            await self.call("operator", "POST", "/v1/deposits", {
                "party_id": self.ids[key], "amount": amount, "method": "bank_transfer",
                "reference": f"demo-{key}"})  # fmt: skip
        self.log.append("parties created, governments funded by bank transfer")

        forests = {}
        for n, (village, region, area, rights) in enumerate((
            ("east_village", east, "120.50", [("ownership", "east_village", "100")]),
            ("west_village", west, "80.25", [("ownership", "west_village", "100"),
                                             ("operation", "west_coop", "100")]),
        )):  # fmt: skip
            asset = await self.call(village, "POST", "/v1/assets", {
                "resource_type": "forest", "name": f"{village} 集体林地", "region_code": region,
                "area_ha": area, "boundary": self.boundary(n),
                "rights": [{"kind": k, "holder_id": self.ids[h], "share": s,
                            "valid_from": "2020-01-01"} for k, h, s in rights]})  # fmt: skip
            await self.call("registrar", "POST", f"/v1/assets/{asset['id']}/confirm")
            forests[village] = asset["id"]
        self.log.append("two villages' forests registered and confirmed")

        product = await self.call("east_village", "POST", "/v1/eco-products", {
            "product_type": "CARBON_SINK", "name": "东山林业碳汇",
            "asset_ids": [forests["east_village"]]})  # fmt: skip
        await self.call("certifier", "POST", f"/v1/eco-products/{product['id']}/certify",
                        {"standard": "CCER-14-001-V01"})  # fmt: skip
        batch = await self.call("certifier", "POST", f"/v1/eco-products/{product['id']}/batches",
                                {"quantity": 5000, "vintage": 2025, **YEAR})  # fmt: skip
        self.log.append(f"east village issued 5000 carbon-sink units for 2025: {batch['serial']}")

        async def account(region: str, lines: list[dict[str, Any]], **more: Any) -> Any:
            drafted = await self.call("certifier", "POST", "/v1/gep/accounts", {
                "region_code": region, "year": 2025, "methodology": METHODOLOGY,
                "lines": lines, **more})  # fmt: skip
            path = f"/v1/gep/accounts/{drafted['id']}/publish"
            return await self.call("certifier", "POST", path)

        def water(quantity: str, village: str) -> dict[str, str]:
            return {"indicator": "water_conservation", "quantity": quantity,
                    "asset_id": forests[village]}  # fmt: skip

        carbon = {"indicator": "carbon_fixation", "quantity": "500"}
        visits = {"indicator": "recreation", "quantity": "2000"}
        first = await account(east, [water("1000000", "east_village"), carbon, visits])
        await account(west, [water("800000", "west_village"),
                             {"indicator": "recreation", "quantity": "1000"}])  # fmt: skip
        corrected = await account(east, [water("1200000", "east_village"), carbon, visits],
                                  supersedes=first["id"], reason="水库库容复核修正")  # fmt: skip
        self.log.append(f"GEP 2025 published for {east} and {west}; {east} corrected: "
                        f"{first['total']} → {corrected['total']} CNY")  # fmt: skip
        for region, cover in ((east, "70"), (west, "55")):
            await self.call("registrar", "POST", "/v1/monitoring/records", {
                "subject": {"region_code": region}, "indicator": "forest_cover", **YEAR,
                "value": cover, "unit": "%"})  # fmt: skip

        async def scheme(name: str, kind: str, rules: dict[str, Any], amount: str | None) -> str:
            created = await self.call("district", "POST", "/v1/compensation/schemes",
                                      {"name": name, "kind": kind, "rules": rules})  # fmt: skip
            if amount:
                path = f"/v1/compensation/schemes/{created['id']}/fund"
                await self.call("district", "POST", path, {"amount": amount})
            return str(created["id"])

        in_district = {"region_prefix": prefix, "resource_type": "forest"}
        settled: dict[str, Any] = {}
        for name, kind, rules, amount in (
            ("森林固碳分类补偿", "classified",
             {**in_district, "service": "carbon_fixation", "rate_per_ha": "30.00"}, "10000.00"),
            ("森林水源涵养分类补偿", "classified",
             {**in_district, "service": "water_conservation", "rate_per_ha": "45.50"}, "20000.00"),
            ("生态涵养区综合性补偿", "comprehensive", {
                "budget_per_period": "100000.00",
                "recipients": [self.ids["east_village"], self.ids["west_village"]],
                "weights": [{"indicator": "gep_total", "weight": "0.7"},
                            {"indicator": "forest_cover", "weight": "0.3"}]}, "100000.00"),
        ):  # fmt: skip
            scheme_id = await scheme(name, kind, rules, amount)
            path = f"/v1/compensation/schemes/{scheme_id}/periods"
            await self.call("district", "POST", path, {**YEAR, "preview": True})
            settled[name] = await self.call("district", "POST", path, {**YEAR, "preview": False})
            paid = ", ".join(f"{p['amount']}" for p in settled[name]["payments"])
            excluded = len(settled[name]["excluded"])
            self.log.append(f"{name}: paid {paid}; excluded {excluded} (double claim)")

        section = f"潮白河古北口断面-{self.run}-{secrets.token_hex(2)}"
        river = await self.call("downstream", "POST", "/v1/compensation/schemes", {
            "name": "潮白河流域横向生态保护补偿", "kind": "horizontal", "rules": {
                "upstream_party_id": self.ids["upstream"],
                "downstream_party_id": self.ids["downstream"],
                "section": section, "indicator": "water_quality_class",
                "target": {"op": "<=", "value": "3"}, "amount": "1000000.00"}})  # fmt: skip
        for start, end, quality in (
            ("2025-01-01", "2025-01-31", "2"),
            ("2025-02-01", "2025-02-28", "4"),
        ):
            await self.call("registrar", "POST", "/v1/monitoring/records", {
                "subject": {"section": section}, "indicator": "water_quality_class",
                "period_start": start, "period_end": end, "value": quality,
                "unit": "class"})  # fmt: skip
            path = f"/v1/compensation/schemes/{river['id']}/periods"
            period = await self.call("upstream", "POST", path,
                                     {"period_start": start, "period_end": end})  # fmt: skip
            payment = period["payments"][0]
            who = (
                "downstream → upstream"
                if payment["to_party_id"] == self.ids["upstream"]
                else "upstream → downstream"
            )
            self.log.append(f"{section} {start[:7]}: class {quality}, {who} {payment['amount']}")
        return {"parties": self.ids, "assets": forests, "batch": batch["id"], "log": self.log,
                "settled": {k: v["id"] for k, v in settled.items()}}  # fmt: skip


async def load_demo(http: httpx.AsyncClient, operator_token: str) -> dict[str, Any]:
    """Run the scenario against `http` (its base URL the server); a summary of what it made."""
    return await Demo(http, operator_token).load()
