"""Ids sort in the order they were made, even within one millisecond."""

from __future__ import annotations

import random

from market.kit.ids import encode, new_id


def test_ids_made_one_after_another_sort_in_that_order() -> None:
    ids = [new_id("trd") for _ in range(5_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("trd_") and len(i) == 30 for i in ids)


def test_encoding_is_crockford_base32_of_the_value() -> None:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

    def digit_by_digit(value: int) -> str:
        return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))

    rng = random.Random(7)
    for value in [0, 1, 31, 32, (1 << 128) - 1, *(rng.getrandbits(128) for _ in range(2_000))]:
        assert encode(value) == digit_by_digit(value)
