"""Timestamps are written as RFC 3339 UTC with exactly six fractional digits and a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from market.kit.time import isoformat

PATTERN = "%Y-%m-%dT%H:%M:%S.%fZ"


def test_whole_seconds_keep_their_microseconds() -> None:
    assert isoformat(datetime(2026, 11, 23, 7, 5, 3, tzinfo=UTC)) == "2026-11-23T07:05:03.000000Z"


def test_other_offsets_are_converted_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    moment = datetime(2026, 11, 24, 1, 0, 0, 42, tzinfo=beijing)
    assert isoformat(moment) == "2026-11-23T17:00:00.000042Z"


@given(
    st.datetimes(
        min_value=datetime(1000, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]
        ),
    )
)
def test_round_trips_to_the_same_instant(moment: datetime) -> None:
    text = isoformat(moment)
    assert datetime.strptime(text, PATTERN).replace(tzinfo=UTC) == moment
    assert text == moment.astimezone(UTC).strftime(PATTERN)
