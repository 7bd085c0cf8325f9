"""Money is integer fen inside, a decimal string with exactly two places at the edge."""

from __future__ import annotations

import re
from decimal import Decimal

MONEY_PATTERN = r"^(0|[1-9][0-9]{0,14})\.[0-9]{2}$"
# The same, above zero: what amounts and prices must be.
POSITIVE_MONEY_PATTERN = r"^(0\.(0[1-9]|[1-9][0-9])|[1-9][0-9]{0,14}\.[0-9]{2})$"
_MONEY_RE = re.compile(MONEY_PATTERN)


def parse_money(text: str) -> int:
    """`"52.00"` → 5200. Raises ValueError on anything but a non-negative 2-place decimal."""
    if not _MONEY_RE.match(text):
        raise ValueError("money must be a decimal string with exactly 2 places, e.g. '52.00'")
    whole, frac = text.split(".")
    return int(whole) * 100 + int(frac)


def format_money(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def format_decimal(value: Decimal, min_places: int = 2) -> str:
    """A stored decimal as a plain string with at least `min_places` places."""
    text = format(value.normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(min_places, '0')}"
