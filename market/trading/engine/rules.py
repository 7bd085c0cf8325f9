"""Instrument trading rules as the engine needs them: tick, lot and price band, in integers."""

from __future__ import annotations

from dataclasses import dataclass

_BPS = 10_000


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """Tick and lot sizes and an inclusive price band `[band_low_fen, band_high_fen]`.

    The band is given as absolute fen bounds so that the engine needs no reference price;
    `from_reference` derives them from a reference price and a band in basis points. `None`
    means unbounded on that side. Limit prices outside the band are rejected; market orders
    only take resting orders whose price is inside the band (price protection).
    """

    tick_size_fen: int = 1
    lot_size: int = 1
    band_low_fen: int | None = None
    band_high_fen: int | None = None

    def __post_init__(self) -> None:
        if self.tick_size_fen <= 0 or self.lot_size <= 0:
            raise ValueError("tick_size_fen and lot_size must be positive")
        low, high = self.band_low_fen, self.band_high_fen
        if low is not None and high is not None and low > high:
            raise ValueError("band_low_fen must not exceed band_high_fen")

    @classmethod
    def from_reference(
        cls,
        reference_price_fen: int,
        band_bps: int,
        *,
        tick_size_fen: int = 1,
        lot_size: int = 1,
    ) -> InstrumentRules:
        """Band of ±`band_bps` around the reference (10% = 1000 bps), rounded inward to ticks.

        Rounding inward keeps every allowed price strictly within the percentage limit.
        """
        if reference_price_fen <= 0 or not 0 <= band_bps <= _BPS:
            raise ValueError("reference price must be positive and band within 0..10000 bps")
        low_num = reference_price_fen * (_BPS - band_bps)
        high_num = reference_price_fen * (_BPS + band_bps)
        unit = _BPS * tick_size_fen
        low = -(-low_num // unit) * tick_size_fen  # ceil to a tick
        high = high_num // unit * tick_size_fen  # floor to a tick
        return cls(
            tick_size_fen=tick_size_fen,
            lot_size=lot_size,
            band_low_fen=max(low, tick_size_fen),
            band_high_fen=high,
        )
