"""Store number normalisation (scalar and vectorised) and the rejected-rows helpers."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from include.transforms.common import (
    FirstReason,
    make_rejects,
    normalise_store_id,
    normalise_store_ids,
    raw_dicts,
    store_id_problem,
)

VALID = [
    (126, "000126"),
    ("126", "000126"),
    ("000126", "000126"),
    (126.0, "000126"),
    (" 126 ", "000126"),
    ("126.0", "000126"),
    (np.int64(126), "000126"),
    (np.float64(126.0), "000126"),
    (999999, "999999"),
    ("1", "000001"),
    (0, "000000"),
    (Decimal("126"), "000126"),
]

INVALID = [
    ("ABC12", "invalid store number: 'ABC12' is not 1-6 digits"),
    ("", "invalid store number: empty"),
    ("   ", "invalid store number: empty"),
    (None, "invalid store number: empty"),
    (float("nan"), "invalid store number: empty"),
    ("1234567", "invalid store number: '1234567' has more than 6 digits"),
    (1234567, "invalid store number: '1234567' has more than 6 digits"),
    ("0000126", "invalid store number: '0000126' has more than 6 digits"),
    (-126, "invalid store number: '-126' is negative"),
    ("-126", "invalid store number: '-126' is negative"),
    (126.5, "invalid store number: '126.5' is fractional"),
    ("126.5", "invalid store number: '126.5' is fractional"),
    (True, "invalid store number: 'True' is not 1-6 digits"),
    ("12 6", "invalid store number: '12 6' is not 1-6 digits"),
    ("１２６", "invalid store number: '１２６' is not 1-6 digits"),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_valid_store_numbers_normalise_to_six_digits(value, expected):
    assert normalise_store_id(value) == expected
    assert store_id_problem(value) is None


@pytest.mark.parametrize(("value", "reason"), INVALID)
def test_invalid_store_numbers_are_explained(value, reason):
    assert normalise_store_id(value) is None
    assert store_id_problem(value) == reason


def test_vectorised_normalisation_agrees_with_the_scalar_rule():
    values = [v for v, _ in VALID if not isinstance(v, np.generic)] + [
        v for v, _ in INVALID if not isinstance(v, (bool, Decimal))
    ]
    vectorised = normalise_store_ids(pd.Series(values, dtype=object))
    expected = [normalise_store_id(v) for v in values]
    assert [None if pd.isna(v) else v for v in vectorised] == expected
    floats = normalise_store_ids(pd.Series([126.0, np.nan, 1e7]))
    assert floats.iloc[0] == "000126" and floats.iloc[1:].isna().all()
    ints = normalise_store_ids(pd.Series([126, None], dtype="Int64"))
    assert ints.iloc[0] == "000126" and pd.isna(ints.iloc[1])


def test_raw_dicts_are_json_text_with_none_for_missing():
    frame = pd.DataFrame({"a": [1.5, np.nan], "b": ["x", None], "c": pd.array([3, None], dtype="Int64"),
                          "source_row": [1, 2]})
    raws = raw_dicts(frame)
    assert raws == [{"a": "1.5", "b": "x", "c": "3"}, {"a": None, "b": None, "c": None}]
    json.dumps(raws)


def test_make_rejects_has_the_quarantine_columns():
    rejects = make_rejects([3], [{"a": "1"}], ["invalid thing: because"])
    assert list(rejects.columns) == ["source_row", "raw", "reason"]
    assert rejects.to_dict("records") == [{"source_row": 3, "raw": {"a": "1"}, "reason": "invalid thing: because"}]
    assert make_rejects([], [], []).empty


def test_first_reason_wins():
    reasons = FirstReason(4)
    reasons.add(np.array([True, False, True, False]), "first: a")
    reasons.add(np.array([True, True, False, False]), lambda positions: [f"second: {p}" for p in positions])
    assert reasons.reasons.tolist() == ["first: a", "second: 1", "first: a", None]
    assert reasons.ok.tolist() == [False, False, False, True]
