"""The scale benchmark runs end to end (small, with validation) and holds its zero-write promise."""

from __future__ import annotations

import pytest

from bench.bench_metabase_sync import main

pytestmark = pytest.mark.metabase


def test_benchmark_small_scale_with_validation(capsys):
    assert main(["--stores", "15", "--users", "20", "--validate"]) == 0
    out = capsys.readouterr().out
    assert "no-change runs made zero writes" in out
    assert "permission sync (no change)" in out
