"""Per-slice statistics and calibration against references: scikit-learn on each
slice, the overall paired bootstrap, statsmodels' Holm, by simulation."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from statsmodels.stats.multitest import multipletests

from ci_ml.stats import bootstrap
from ci_ml.stats.calibration import calibration
from ci_ml.stats.metrics import Scored
from ci_ml.stats.slices import SLICE_UNITS, resample_slices, slice_results, units

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

NAMES = ["roc_auc", "accuracy", "log_loss", "f1_macro"]


def classifiers(n: int, seed: int = 0, shift: float = 0.2) -> tuple[Scored, Scored]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)

    def model(s: float) -> Scored:
        score = rng.normal(size=n) + y * (1.2 + s)
        p = 1 / (1 + np.exp(-(score - 0.6)))
        proba = np.stack([1 - p, p], axis=1)
        return Scored("classification", y, (p > 0.5).astype(np.int64), proba, [0, 1])

    return model(shift), model(0.0)


@pytest.mark.parametrize("n", [300, 6_000])
def test_a_slice_of_every_row_is_the_overall_comparison(n: int) -> None:
    """Same seed, same draws: up to MAX_UNITS rows (pairs counted up to 5,000,
    projected above) the one slice's intervals are the overall ones, number for number."""
    cand, base = classifiers(n)
    st = resample_slices([cand, base], NAMES, [np.arange(n)], 400, seed=3)
    got = slice_results(st, 0.95, np.array([True]))
    want = bootstrap.paired_deltas(cand, base, NAMES, 400, 0.95, 3)
    for name in NAMES:
        g, w = got[name].results[0], want[name]
        assert g.delta == pytest.approx(w.delta, abs=1e-12)
        assert (g.ci_low, g.ci_high) == pytest.approx((w.ci_low, w.ci_high), abs=1e-12)
        assert g.p_value == pytest.approx(w.p_value)
        assert g.candidate.ci_low == pytest.approx(w.candidate.ci_low, abs=1e-12)


def test_each_slice_value_is_scikit_learns_on_its_rows() -> None:
    cand, base = classifiers(3_000)
    rng = np.random.default_rng(1)
    code = rng.integers(0, 4, 3_000)
    slices = [np.flatnonzero(code == c) for c in range(4)] + [np.arange(0, 3_000, 7)]
    st = resample_slices([cand, base], NAMES, slices, 200, seed=0)
    for s, idx in enumerate(slices):
        for model, point in zip([cand, base], st.point, strict=True):
            y, p = model.y[idx], model.proba[idx]
            assert point["roc_auc"][s] == pytest.approx(skm.roc_auc_score(y, p[:, 1]), abs=1e-12)
            assert point["accuracy"][s] == pytest.approx(skm.accuracy_score(y, model.pred[idx]))
            assert point["log_loss"][s] == pytest.approx(skm.log_loss(y, p), rel=1e-9)
            assert point["f1_macro"][s] == pytest.approx(
                skm.f1_score(y, model.pred[idx], average="macro"), abs=1e-12
            )
    assert st.rows.tolist() == [len(i) for i in slices]


def test_regression_slices_match_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(50, 10, 1_000)
    cand = Scored("regression", y, y + rng.normal(0, 3, 1_000))
    idx = np.flatnonzero(y > 55)
    st = resample_slices([cand], ["rmse", "mae", "r2"], [idx, np.arange(1_000)], 200, 0)
    p = st.point[0]
    assert p["rmse"][0] == pytest.approx(skm.root_mean_squared_error(y[idx], cand.pred[idx]))
    assert p["mae"][0] == pytest.approx(skm.mean_absolute_error(y[idx], cand.pred[idx]))
    assert p["r2"][0] == pytest.approx(skm.r2_score(y[idx], cand.pred[idx]))
    res = slice_results(st, 0.9, np.array([True, True]))
    est = res["rmse"].results[0]
    assert est.ci_low <= est.value <= est.ci_high  # the candidate alone: estimates


def test_an_empty_slice_and_a_one_class_slice_are_undefined_not_wrong() -> None:
    cand, base = classifiers(500)
    positives = np.flatnonzero(cand.y == 1)
    st = resample_slices([cand, base], NAMES, [np.array([], dtype=np.int64), positives], 200, 0)
    assert np.isnan(st.point[0]["accuracy"][0]) and np.isnan(st.point[0]["roc_auc"][0])
    assert np.isnan(st.point[0]["roc_auc"][1])  # one class: no pairs
    assert st.point[0]["accuracy"][1] == pytest.approx(np.mean(cand.pred[positives] == 1))
    res = slice_results(st, 0.95, np.array([False, True]))
    assert res["roc_auc"].results[1].verdict == "n/a"


def test_identical_models_change_nothing_on_any_slice() -> None:
    cand, _ = classifiers(2_000)
    slices = [np.arange(i, 2_000, 5) for i in range(5)]
    st = resample_slices([cand, cand], NAMES, slices, 300, 0)
    res = slice_results(st, 0.95, np.ones(5, dtype=bool))
    for name in NAMES:
        for d in res[name].results:
            assert d.delta == 0 and d.ci_low == 0 and d.ci_high == 0 and d.verdict == "within noise"
        assert np.all(res[name].p_adjusted == 1.0)


def test_a_slice_that_collapsed_is_named_regressed_and_the_rest_are_not() -> None:
    rng = np.random.default_rng(4)
    n = 4_000
    cand, base = classifiers(n, shift=0.0)
    code = rng.integers(0, 8, n)
    broken = code == 3
    proba = cand.proba.copy()
    proba[broken] = proba[broken][rng.permutation(broken.sum())]  # no signal left there
    cand = Scored("classification", cand.y, proba.argmax(1), proba, [0, 1])
    slices = [np.flatnonzero(code == c) for c in range(8)]
    res = slice_results(
        resample_slices([cand, base], ["roc_auc"], slices, 1000, 0), 0.95, np.ones(8, bool)
    )
    verdicts = [d.verdict for d in res["roc_auc"].results]
    assert verdicts[3] == "regressed"
    assert all(v == "within noise" for i, v in enumerate(verdicts) if i != 3)


def test_holm_matches_statsmodels_and_keeps_nan() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.2, 0.001])
    got = bootstrap.holm(p)
    ok = ~np.isnan(p)
    want = multipletests(p[ok], method="holm")[1]
    np.testing.assert_allclose(got[ok], want)
    assert np.isnan(got[2])


def test_vectorised_p_values_are_the_scalar_ones() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(0.1, 1, size=(500, 6))
    d[:, 2] = 0.0
    d[:7, 3] = np.nan
    d[:, 4] = np.nan
    got = bootstrap.p_values(d)
    for j in range(6):
        want = bootstrap._p_value(d[:, j])
        assert (np.isnan(got[j]) and np.isnan(want)) or got[j] == pytest.approx(want)


def test_units_are_rows_until_the_slices_hold_many() -> None:
    small = units([300, 50, 0], seed=0)
    assert small.of_rows == [None, None, None] and small.starts.tolist() == [0, 300, 350, 350]
    big = units([100_000, 400, 30_000], seed=0, max_units=20_000)
    cap = max(SLICE_UNITS, 20_000 // 3)
    assert big.starts.tolist() == [0, cap, cap + 400, 2 * cap + 400]
    assert big.of_rows[1] is None
    blocks = big.of_rows[0]
    assert blocks.shape == (100_000,) and set(np.bincount(blocks)) <= {15, 16}


def test_blocks_of_a_large_slice_keep_the_row_bootstrap_spread() -> None:
    """Above MAX_UNITS rows a slice is resampled as blocks; its interval is as wide as
    the exact bootstrap of the same rows (within the Monte Carlo error)."""
    n = 60_000
    cand, base = classifiers(n, seed=5)
    half = np.arange(0, n, 2)
    blocked = slice_results(
        resample_slices([cand, base], ["accuracy", "roc_auc"], [half, half + 1], 1000, 1),
        0.95,
        np.ones(2, bool),
    )
    sub_c = Scored("classification", cand.y[half], cand.pred[half], cand.proba[half], [0, 1])
    sub_b = Scored("classification", base.y[half], base.pred[half], base.proba[half], [0, 1])
    exact = bootstrap.paired_deltas(sub_c, sub_b, ["accuracy", "roc_auc"], 1000, 0.95, 1)
    for name in ("accuracy", "roc_auc"):
        b, e = blocked[name].results[0], exact[name]
        assert b.delta == pytest.approx(e.delta, abs=1e-12)
        assert (b.ci_high - b.ci_low) == pytest.approx(e.ci_high - e.ci_low, rel=0.12)


def test_calibration_matches_scikit_learn() -> None:
    cand, base = classifiers(2_000)
    st = calibration([cand, base], 10, 300, 0.95, 0)
    y, p = cand.y, cand.proba[:, 1]
    assert st.candidate["brier"].value == pytest.approx(skm.brier_score_loss(y, p))
    true, pred = calibration_curve(y, p, n_bins=10)
    table = [b for b in st.reliability if b.rows]
    np.testing.assert_allclose([b.observed for b in table], true)
    np.testing.assert_allclose([b.confidence for b in table], pred)
    ece = sum(b.rows / 2_000 * abs(b.observed - b.confidence) for b in table)
    assert st.candidate["ece"].value == pytest.approx(ece)
    d = st.deltas["brier"]
    assert d.delta == pytest.approx(
        skm.brier_score_loss(y, p) - skm.brier_score_loss(y, base.proba[:, 1])
    )
    assert d.ci_low <= d.delta <= d.ci_high


def test_multiclass_calibration_uses_the_top_label() -> None:
    rng = np.random.default_rng(3)
    proba = rng.dirichlet([1, 1, 1], 600)
    y = rng.integers(0, 3, 600)
    s = Scored("classification", y, proba.argmax(1), proba, [0, 1, 2])
    st = calibration([s], 5, 200, 0.9, 0)
    assert st.deltas is None and st.baseline_reliability is None
    assert st.candidate["brier"].value == pytest.approx(
        skm.brier_score_loss(y, proba, labels=[0, 1, 2])
    )
    top, right = proba.max(1), proba.argmax(1) == y
    assert sum(b.rows for b in st.reliability) == 600
    first = [b for b in st.reliability if b.rows][0]
    in_bin = top <= first.high
    assert first.observed == pytest.approx(right[in_bin].mean())
