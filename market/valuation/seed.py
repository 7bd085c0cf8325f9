"""The default GEP methodology, seeded by the migration: the main lines of the national GEP
accounting guideline (《生态产品总值核算规范（试行）》, 2022) — provisioning, regulating and
cultural services.

THE PRICES ARE ILLUSTRATIVE, NOT OFFICIAL: each indicator's `price_source` says so. A region
publishes its own methodology version with its own prices (`POST /v1/gep/methodologies`).
"""

from __future__ import annotations

DEFAULT_METHODOLOGY_ID = "gepm_default_v1"
DEFAULT_CODE = "CN-GEP"
DEFAULT_VERSION = "2022-illustrative"
DEFAULT_NAME = "生态产品总值核算规范（试行） main lines, illustrative prices"
ILLUSTRATIVE = "illustrative price, not an official figure"
CARBON_INSTRUMENT = "CCER"

# code, name, category, unit, price in fen per unit (None: market), market instrument, default
INDICATORS: tuple[tuple[str, str, str, str, int | None, str | None, int | None], ...] = (
    ("agricultural_products", "农业产品 crop products", "provisioning", "t", 300_000, None, None),
    ("forest_products", "林业产品 forest products", "provisioning", "m3", 80_000, None, None),
    ("water_supply", "水资源 water supply", "provisioning", "m3", 250, None, None),
    ("water_conservation", "水源涵养 water conservation", "regulating", "m3", 611, None, None),
    ("soil_retention", "土壤保持 soil retention", "regulating", "t", 1_250, None, None),
    ("flood_regulation", "洪水调蓄 flood regulation", "regulating", "m3", 611, None, None),
    ("carbon_fixation", "固碳 carbon fixation", "regulating", "tCO2e", None, CARBON_INSTRUMENT,
     5_000),
    ("oxygen_release", "释氧 oxygen release", "regulating", "t", 100_000, None, None),
    ("air_purification", "空气净化 air purification", "regulating", "t", 120_000, None, None),
    ("water_purification", "水质净化 water purification", "regulating", "t", 140_000, None, None),
    ("climate_regulation", "气候调节 climate regulation", "regulating", "kWh", 60, None, None),
    ("recreation", "休闲旅游 recreation and tourism", "cultural", "visit", 15_000, None, None),
    ("landscape_value", "景观价值 landscape value", "cultural", "ha", 500_000, None, None),
)  # fmt: skip

# The ecosystem service each product type claims on its source assets (None: none).
PRODUCT_TYPE_SERVICES = {
    "CARBON_SINK": "carbon_fixation",
    "WATER_RIGHT": "water_supply",
    "EMISSION_RIGHT": "water_purification",
    "BRAND_PRODUCT": "agricultural_products",
    "ENERGY_RIGHT": None,
    "GREEN_CERT": None,
}
