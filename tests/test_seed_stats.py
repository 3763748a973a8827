"""Mean ± standard deviation over seeds, checked against sums done by hand."""

from __future__ import annotations

import math

import pytest

from prunetui.describe import percent_spread, times_spread
from prunetui.engine.core.seed_stats import MeanStd, mean_std


def test_mean_and_sample_std_of_three_seeds() -> None:
    # mean (0.90 + 0.92 + 0.97) / 3 = 0.93; squared deviations 0.0009 + 0.0001 + 0.0016 = 0.0026, / (3 - 1) = 0.0013
    result = mean_std([0.90, 0.92, 0.97])
    assert result.n == 3
    assert result.mean == pytest.approx(0.93)
    assert result.std == pytest.approx(math.sqrt(0.0013))


def test_one_seed_has_no_spread_and_nan_is_left_out() -> None:
    assert mean_std([0.5]) == MeanStd(0.5, None, 1)
    assert mean_std([0.4, float("nan"), 0.6]) == MeanStd(pytest.approx(0.5), pytest.approx(math.sqrt(0.02)), 2)


def test_a_spread_is_shown_over_two_seeds_and_over_one_the_mean_alone() -> None:
    one, two = mean_std([0.828]), mean_std([0.80, 0.82])  # std of 0.80, 0.82: sqrt(0.0002) = 0.01414
    assert (percent_spread(one), percent_spread(one, pm="±"), times_spread(mean_std([9.7]))) == (
        "82.8 %", "82.8 %", "9.7×",
    )  # fmt: skip
    assert (percent_spread(two), percent_spread(two, pm="±")) == ("81.0 ± 1.4 %", "81.0±1.4 %")
    assert times_spread(mean_std([9.6, 9.8])) == "9.7 ± 0.1×"


def test_no_values_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no values"):
        mean_std([float("nan")])
