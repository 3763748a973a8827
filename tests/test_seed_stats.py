"""Mean ± standard deviation over seeds, checked against sums done by hand."""

from __future__ import annotations

import math

import pytest

from prunetui.engine.core.seed_stats import MeanStd, mean_std


def test_mean_and_sample_std_of_three_seeds() -> None:
    # mean (0.90 + 0.92 + 0.97) / 3 = 0.93; squared deviations 0.0009 + 0.0001 + 0.0016 = 0.0026, / (3 - 1) = 0.0013
    result = mean_std([0.90, 0.92, 0.97])
    assert result.n == 3
    assert result.mean == pytest.approx(0.93)
    assert result.std == pytest.approx(math.sqrt(0.0013))


def test_one_seed_has_no_spread_and_nan_is_left_out() -> None:
    assert mean_std([0.5]) == MeanStd(0.5, 0.0, 1)
    assert mean_std([0.4, float("nan"), 0.6]) == MeanStd(pytest.approx(0.5), pytest.approx(math.sqrt(0.02)), 2)


def test_no_values_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no values"):
        mean_std([float("nan")])
