"""Day-part lists and the split of a shift's minutes by clock hour."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np
import pytest

from include.transforms.dayparts import (
    LABOR_DAYPART_NAMES,
    LABOR_DAYPARTS,
    SALES_DAYPARTS,
    labor_daypart_of_hour,
    split_minutes_by_daypart,
    split_minutes_vectorised,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_labor_dayparts_cover_every_hour_once_in_business_order():
    assert LABOR_DAYPART_NAMES == ("Morning", "Lunch", "Afternoon", "Dinner", "Evening", "Late Night")
    hours = sorted(h for part in LABOR_DAYPARTS for h in range(part.start_hour, part.end_hour))
    assert hours == list(range(24))
    assert [labor_daypart_of_hour(h) for h in (0, 7, 8, 9, 10, 13, 14, 16, 17, 20, 21, 23)] == [
        "Late Night", "Late Night", "Morning", "Morning", "Lunch", "Lunch",
        "Afternoon", "Afternoon", "Dinner", "Dinner", "Evening", "Evening",
    ]
    assert SALES_DAYPARTS == ("Lunch", "Afternoon", "Dinner", "Evening")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-09-01 09:00", "2026-09-01 15:30", {"Morning": 60, "Lunch": 240, "Afternoon": 90}),
        ("2026-09-01 16:02", "2026-09-01 23:10", {"Afternoon": 58, "Dinner": 240, "Evening": 130}),
        ("2026-09-01 22:00", "2026-09-02 02:30", {"Evening": 120, "Late Night": 150}),
        ("2026-09-01 07:30", "2026-09-01 12:00", {"Late Night": 30, "Morning": 120, "Lunch": 120}),
        ("2026-09-02 05:00", "2026-09-02 08:00", {"Late Night": 180}),
        ("2026-09-01 10:00:00", "2026-09-01 10:00:30", {"Lunch": 0.5}),
        ("2026-09-01 13:59", "2026-09-01 14:01", {"Lunch": 1, "Afternoon": 1}),
        (
            "2026-09-01 08:00",
            "2026-09-02 09:00",
            {"Morning": 180, "Lunch": 240, "Afternoon": 180, "Dinner": 240, "Evening": 180, "Late Night": 480},
        ),
    ],
)
def test_split_minutes_by_daypart_hand_computed(start, end, expected):
    assert split_minutes_by_daypart(at(start), at(end)) == pytest.approx(expected)


def test_empty_or_reversed_interval_has_no_minutes():
    assert split_minutes_by_daypart(at("2026-09-01 10:00"), at("2026-09-01 10:00")) == {}
    assert split_minutes_by_daypart(at("2026-09-01 11:00"), at("2026-09-01 10:00")) == {}


def test_vectorised_split_matches_the_scalar_split_on_random_shifts():
    rng = random.Random(20260901)
    base = at("2026-09-01 00:00")
    starts, ends = [], []
    for _ in range(300):
        start = base + timedelta(minutes=rng.randrange(0, 32 * 60))
        starts.append(start)
        ends.append(start + timedelta(seconds=rng.randrange(60, 16 * 3600)))
    vectorised = split_minutes_vectorised(
        np.array(starts, dtype="datetime64[s]"), np.array(ends, dtype="datetime64[s]")
    )
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        scalar = split_minutes_by_daypart(start, end)
        assert {name: vectorised[name][i] for name in LABOR_DAYPART_NAMES if vectorised[name][i]} == pytest.approx(
            scalar
        )
        assert sum(scalar.values()) == pytest.approx((end - start).total_seconds() / 60)
