"""Ids sort in the order they were made, even within one millisecond."""

from __future__ import annotations

from market.kit.ids import new_id


def test_ids_made_one_after_another_sort_in_that_order() -> None:
    ids = [new_id("trd") for _ in range(5_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("trd_") and len(i) == 30 for i in ids)
