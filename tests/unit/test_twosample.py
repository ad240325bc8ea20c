"""Two-sample tests of one column, against scipy and known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from ci_ml.stats import twosample
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


def _deciles_psi(a: np.ndarray, b: np.ndarray) -> float:
    """The PSI as one column at a time computes it: deciles of a, np.searchsorted."""
    edges = np.unique(np.quantile(a, np.linspace(0, 1, 11)[1:-1]))
    share_a = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1)
    share_b = np.bincount(np.searchsorted(edges, b, side="right"), minlength=edges.size + 1)
    return psi(share_a / a.size, share_b / b.size)


def _awkward(rng: np.random.Generator, na: int, nb: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns of every awkward kind: ties, few values, constants, missing values,
    a side with one value or none."""
    a, b = rng.normal(size=(na, 40)), rng.normal(0.2, 1, size=(nb, 40))
    a[:, 1], b[:, 1] = np.round(a[:, 1]), np.round(b[:, 1] + 0.3)
    a[rng.random(na) < 0.2, 2] = np.nan
    b[rng.random(nb) < 0.5, 2] = np.nan
    a[:, 3], b[:, 3] = 0.0, 0.0
    a[:, 4] = np.nan
    a[:, 5], b[:, 5] = rng.integers(0, 5, na), rng.integers(0, 6, nb)
    a[:, 6], a[0, 6] = np.nan, 1.0
    b[:, 7] = np.nan
    a[:, 8], b[:, 8] = rng.integers(0, 2, na), rng.integers(0, 2, nb)
    return a, b


@pytest.mark.parametrize("block", [None, 1_000])  # one block, and a few columns per block
def test_all_columns_at_once_give_each_columns_own_ks_test_and_psi(monkeypatch, block) -> None:
    if block:
        monkeypatch.setattr(twosample, "BLOCK", block)
    rng = np.random.default_rng(3)
    a, b = _awkward(rng, 350, 150)
    got = twosample.numeric_shifts(a, b)
    assert len(got) == a.shape[1]
    for k, shift in enumerate(got):
        x, y = a[:, k][~np.isnan(a[:, k])], b[:, k][~np.isnan(b[:, k])]
        assert shift.rows == (x.size, y.size)
        if x.size == 0 or y.size == 0:
            assert (shift.statistic, shift.p_value, shift.psi) == (0.0, 1.0, 0.0)
            continue
        ref = ks_2samp(x, y)
        # exactly scipy's numbers: the statistic as it reports it, the same p-value
        assert (shift.statistic, shift.p_value) == (ref.statistic, ref.pvalue), k
        assert shift.distance == shift.statistic
        assert shift.psi == pytest.approx(_deciles_psi(x, y), rel=0, abs=1e-12)
        assert shift.before == pytest.approx(x.mean()) and shift.after == pytest.approx(y.mean())
        if x.size > 1:
            assert shift.spread == pytest.approx(x.std(ddof=1))


def test_one_column_is_the_many_columns_case() -> None:
    rng = np.random.default_rng(4)
    a, b = _awkward(rng, 60, 25)
    many = twosample.numeric_shifts(a, b)
    one = [numeric_shift(a[:, k], b[:, k]) for k in range(a.shape[1])]
    assert repr(one) == repr(many)  # (repr: NaN spreads compare equal)


def test_small_counts_get_a_monte_carlo_p_value_close_to_scipys_permutation_test() -> None:
    from scipy.stats import PermutationMethod

    a = np.array(list("xxxxxyyz"), dtype=object)
    b = np.array(list("xyzzz"), dtype=object)
    got = categorical_shift(a, b)
    assert got.test == "chi2 monte carlo"
    table = np.array([[5, 2, 1], [1, 1, 3]])
    ref = chi2_contingency(
        table, correction=False, method=PermutationMethod(rng=np.random.default_rng(1))
    )
    assert got.statistic == pytest.approx(ref.statistic)
    assert abs(got.p_value - ref.pvalue) < 0.02  # two Monte Carlo estimates of 9,999 tables
    assert categorical_shift(a, b) == got  # seeded


def test_a_categorical_shift_says_which_level_moved_and_how_far() -> None:
    a = np.array(["gold"] * 12 + ["silver"] * 88 + [None] * 0, dtype=object)
    b = np.array(["gold"] * 30 + ["silver"] * 60 + [None] * 10, dtype=object)
    got = categorical_shift(a, b)
    # gold 12 % -> 30 %, silver 88 % -> 60 %, missing 0 % -> 10 %: silver moved most
    assert got.level == "silver" and (got.before, got.after) == (0.88, 0.60)
    assert got.distance == pytest.approx((0.18 + 0.28 + 0.10) / 2)
    assert got.rows == (100, 100)


def test_p_values_are_corrected_as_scipy_does_benjamini_hochberg() -> None:
    from scipy.stats import false_discovery_control

    ps = [0.001, 0.02, 0.04, 0.5, 0.03]
    assert twosample.adjusted(ps) == pytest.approx(list(false_discovery_control(ps)))
    assert twosample.adjusted([]) == []
