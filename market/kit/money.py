"""Money is integer fen inside, a decimal string with exactly two places at the edge."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from math import lcm

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


def split_largest_remainder(total: int, weights: Sequence[Fraction | int]) -> list[int]:
    """Split `total` fen in proportion to non-negative `weights`, exactly: each share is the
    floor of its exact quota, and the fen left over go one each to the largest remainders
    (ties to the earlier weight). The shares sum to `total` (all zero weights → all zero)."""
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("a split needs a non-negative total and weights")
    if all(isinstance(w, int) for w in weights):  # the common case: integers only
        integers = [int(w) for w in weights]
    else:
        denominator = lcm(*(Fraction(w).denominator for w in weights))
        integers = [int(Fraction(w) * denominator) for w in weights]
    whole = sum(integers)
    if whole == 0:
        return [0] * len(weights)
    shares, remainders = [], []
    for n in integers:
        share, remainder = divmod(total * n, whole)
        shares.append(share)
        remainders.append(remainder)
    left = total - sum(shares)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-remainders[i], i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


def half_even(value: Fraction) -> int:
    """A non-negative exact amount rounded half-even to the integer (fen)."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor
