"""Order checks before any reservation, eligibility of batches, fees — pure functions."""

from __future__ import annotations

from datetime import date

from market.registry.models import ProductType
from market.trading.engine import InstrumentRules
from market.trading.models import AnyOrder, Instrument
from market.trading.rows import DeliverableHolding

BPS = 10_000


def fee(notional_fen: int, bps: int) -> int:
    """Fees round down to the fen; a sum of per-fill fees never exceeds the reserved maximum."""
    return notional_fen * bps // BPS


def precheck(
    order: AnyOrder, instrument: Instrument, rules: InstrumentRules, party_status: str
) -> str | None:
    """The rejection reason, or None when the order may be reserved and matched."""
    if party_status != "active":
        return "party_frozen"
    if instrument.status == "halted":
        return "instrument_halted"
    if instrument.status == "closed":
        return "instrument_closed"
    if order.quantity % rules.lot_size:
        return "quantity_not_on_lot"
    if order.price_fen is not None:
        if order.price_fen % rules.tick_size_fen:
            return "price_not_on_tick"
        low, high = rules.band_low_fen, rules.band_high_fen
        if (low is not None and order.price_fen < low) or (
            high is not None and order.price_fen > high
        ):
            return "price_out_of_band"
    return None


def eligible(
    holding: DeliverableHolding, instrument: Instrument, product_type: ProductType, today: date
) -> bool:
    """Whether a holding's batch can be delivered into the instrument."""
    rules = instrument.eligibility
    if rules.get("vintage_from") is not None and holding.vintage < rules["vintage_from"]:
        return False
    if rules.get("vintage_to") is not None and holding.vintage > rules["vintage_to"]:
        return False
    if rules.get("region_prefix") and not str(holding.region_code).startswith(
        rules["region_prefix"]
    ):
        return False
    if rules.get("batch_ids") and holding.batch_id not in rules["batch_ids"]:
        return False
    return not (product_type.expires and holding.period_end < today)
