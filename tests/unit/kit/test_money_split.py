"""Exact splits of money: largest remainder and half-even rounding."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.kit.money import half_even, split_largest_remainder


def test_largest_remainder_examples() -> None:
    assert split_largest_remainder(100, [1, 1, 1]) == [34, 33, 33]  # tie → the earlier one
    assert split_largest_remainder(10, [Fraction(1, 2), Fraction(1, 3), Fraction(1, 6)]) == [
        5,
        3,
        2,
    ]
    assert split_largest_remainder(7, [0, 0]) == [0, 0]
    assert split_largest_remainder(1001, [50, 30, 20]) == [501, 300, 200]


@given(
    st.integers(min_value=0, max_value=10**12),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30),
)
def test_shares_sum_exactly_and_stay_within_one_fen(total: int, weights: list[int]) -> None:
    shares = split_largest_remainder(total, weights)
    whole = sum(weights)
    if whole == 0:
        assert shares == [0] * len(weights)
        return
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        assert abs(Fraction(share) - Fraction(total * weight, whole)) < 1


def test_refuses_negative() -> None:
    with pytest.raises(ValueError):
        split_largest_remainder(-1, [1])


def test_half_even() -> None:
    assert [half_even(Fraction(n, 2)) for n in range(7)] == [0, 0, 1, 2, 2, 2, 3]
    assert half_even(Fraction(2501, 1000)) == 3
    assert half_even(Fraction(2499, 1000)) == 2
