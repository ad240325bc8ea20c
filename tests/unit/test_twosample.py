"""Two-sample tests of one column, against scipy and known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from ci_ml.stats.twosample import categorical_shift, numeric_shift, psi


def test_psi_of_equal_shares_is_zero_and_grows_with_the_shift() -> None:
    even = np.full(10, 0.1)
    assert psi(even, even) == 0
    tilted = np.array([0.05] * 5 + [0.15] * 5)
    assert psi(even, tilted) == pytest.approx(np.sum((tilted - even) * np.log(tilted / even)))
    assert psi(even, tilted) > 0.05


def test_numeric_shift_matches_scipys_ks_on_small_samples() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=3000), rng.normal(0.3, 1, size=2000)
    got = numeric_shift(a, b)
    ref = ks_2samp(a, b)
    assert got.statistic == pytest.approx(ref.statistic) and got.p_value == pytest.approx(
        ref.pvalue
    )
    assert got.psi > 0.05
    same = numeric_shift(a, rng.normal(size=2000))
    assert same.p_value > 0.01 and same.psi < 0.05


def test_numeric_shift_ignores_missing_values_and_empty_sides() -> None:
    a = np.array([1.0, np.nan, 2.0, 3.0])
    assert numeric_shift(a, np.array([np.nan])).p_value == 1.0


def test_categorical_shift_matches_scipys_chi2() -> None:
    a = np.array(["x"] * 60 + ["y"] * 40, dtype=object)
    b = np.array(["x"] * 30 + ["y"] * 70, dtype=object)
    got = categorical_shift(a, b)
    ref = chi2_contingency(np.array([[60, 40], [30, 70]]))
    assert got.statistic == pytest.approx(ref.statistic) and got.p_value == pytest.approx(
        ref.pvalue
    )
    assert got.psi == pytest.approx(psi(np.array([0.6, 0.4]), np.array([0.3, 0.7])))


def test_large_samples_are_subsampled_but_still_see_a_shift() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=400_000), rng.normal(0.05, 1, size=400_000)
    assert numeric_shift(a, b).p_value < 1e-6
