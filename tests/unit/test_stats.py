"""The statistics against reference implementations and by simulation."""

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import softmax
from sklearn import metrics as skm
from statsmodels.stats.contingency_tables import mcnemar

from ci_ml.stats import bootstrap as stats
from ci_ml.stats.metrics import METRICS, Scored, component_blocks

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 9), (10, 10), (25, 7), (1, 40), (130, 95)])
def test_mcnemar_matches_statsmodels(b: int, c: int) -> None:
    both, neither = 50, 20
    cand = np.array([True] * b + [False] * c + [True] * both + [False] * neither)
    base = np.array([False] * b + [True] * c + [True] * both + [False] * neither)
    got = stats.mcnemar_exact(cand, base)
    want = mcnemar([[both, b], [c, neither]], exact=True).pvalue
    assert got["candidate_only_correct"] == b and got["baseline_only_correct"] == c
    assert got["p_value"] == pytest.approx(min(1.0, want), abs=1e-12)


def test_paired_error_test_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    e1, e2 = rng.normal(0, 1, 400), rng.normal(0, 1.1, 400)
    got = stats.paired_error_test(e1, e2, "squared")
    want = sps.ttest_rel(e1**2, e2**2)
    assert got["p_value"] == pytest.approx(want.pvalue, rel=1e-12)
    assert got["statistic"] == pytest.approx(want.statistic, rel=1e-12)


def test_exact_bootstrap_equals_a_plain_loop() -> None:
    """Below max_units the matrix bootstrap is the textbook one: same draws, same sums."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    (sums,) = stats.bootstrap_sums([x], 300, seed=5)
    draws = np.random.default_rng(5)  # the first batch of 100 resamples is one (100, n) draw
    idx = draws.integers(0, 200, size=(100, 200), dtype=np.int32)
    loop = np.stack([x[i].sum(axis=0) for i in idx])
    np.testing.assert_allclose(sums[:100], loop, rtol=1e-12)


@pytest.mark.slow  # a simulation
@pytest.mark.no_cover
def test_block_bootstrap_keeps_the_variance_of_the_exact_one() -> None:
    rng = np.random.default_rng(1)
    x = rng.exponential(size=(50_000, 1))
    (exact,) = stats.bootstrap_sums([x], 2000, seed=1, max_units=100_000)
    (blocks,) = stats.bootstrap_sums([x], 2000, seed=1, max_units=2_000)
    assert blocks.std() == pytest.approx(exact.std(), rel=0.08)
    assert blocks.mean() == pytest.approx(exact.mean(), rel=1e-3)


@pytest.mark.parametrize(
    ("lo", "hi", "gib", "want"),
    [
        (0.01, 0.02, True, "improved"),
        (0.01, 0.02, False, "regressed"),
        (-0.02, -0.01, True, "regressed"),
        (-0.02, -0.01, False, "improved"),
        (-0.01, 0.02, True, "within noise"),
        (0.0, 0.0, True, "within noise"),
        (float("nan"), 0.1, True, "n/a"),
    ],
)
def test_verdict_table(lo: float, hi: float, gib: bool, want: str) -> None:
    assert stats.verdict(lo, hi, gib) == want


def _pair(rng: np.random.Generator, n: int, acc_a: float, acc_b: float) -> tuple[Scored, Scored]:
    y = rng.integers(0, 2, n)
    a_right = rng.random(n) < acc_a
    b_right = rng.random(n) < acc_b
    pa = np.where(a_right, y, 1 - y)
    pb = np.where(b_right, y, 1 - y)
    return Scored("classification", y, pa, None, [0, 1]), Scored(
        "classification", y, pb, None, [0, 1]
    )


def test_paired_ci_coverage_by_simulation() -> None:
    """A 90% interval for the accuracy delta covers the true delta about 90% of the time."""
    rng = np.random.default_rng(42)
    true_delta, covered, sims = 0.03, 0, 300
    for i in range(sims):
        a, b = _pair(rng, 400, 0.80, 0.77)
        d = stats.paired_deltas(a, b, ["accuracy"], 400, 0.90, seed=i)["accuracy"]
        covered += d.ci_low <= true_delta <= d.ci_high
    assert 0.85 <= covered / sims <= 0.95


def test_identical_models_are_within_noise_with_p_one() -> None:
    rng = np.random.default_rng(0)
    a, _ = _pair(rng, 500, 0.8, 0.8)
    d = stats.paired_deltas(a, a, ["accuracy", "f1_macro"], 200, 0.95, 0)
    assert all(
        x.verdict == "within noise" and x.delta == 0 and x.p_value == 1.0 for x in d.values()
    )


def test_clear_improvement_is_detected_and_direction_respected() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=5000)
    good = Scored("regression", y, y + rng.normal(0, 0.1, 5000))
    bad = Scored("regression", y, y + rng.normal(0, 0.5, 5000))
    d = stats.paired_deltas(good, bad, ["rmse", "r2"], 500, 0.95, 0)
    assert d["rmse"].delta < 0 and d["rmse"].verdict == "improved"
    assert d["r2"].delta > 0 and d["r2"].verdict == "improved"
    assert d["rmse"].p_value < 0.01


# --- against the textbook bootstrap ----------------------------------------------

SKLEARN = {
    "accuracy": lambda s: skm.accuracy_score(s.y, s.pred),
    "balanced_accuracy": lambda s: skm.balanced_accuracy_score(s.y, s.pred),
    "f1_macro": lambda s: skm.f1_score(s.y, s.pred, average="macro", zero_division=0),
    "precision_macro": lambda s: skm.precision_score(s.y, s.pred, average="macro", zero_division=0),
    "recall_macro": lambda s: skm.recall_score(s.y, s.pred, average="macro", zero_division=0),
    "roc_auc": lambda s: (
        skm.roc_auc_score(s.y, s.proba[:, 1])
        if s.proba.shape[1] == 2
        else skm.roc_auc_score(s.y, s.proba, multi_class="ovr")
    ),
    "log_loss": lambda s: skm.log_loss(s.y, s.proba, labels=s.classes),
    "rmse": lambda s: skm.root_mean_squared_error(s.y, s.pred),
    "mae": lambda s: skm.mean_absolute_error(s.y, s.pred),
    "r2": lambda s: skm.r2_score(s.y, s.pred),
}


def _rows(s: Scored, idx: np.ndarray) -> Scored:
    proba = None if s.proba is None else s.proba[idx]
    return Scored(s.task, s.y[idx], s.pred[idx], proba, s.classes)


def _small_pair(kind: str) -> tuple[Scored, Scored]:
    rng = np.random.default_rng({"binary": 1, "3-class": 2, "regression": 3}[kind])
    if kind == "regression":
        y = rng.normal(10, 3, 80)
        return (
            Scored("regression", y, y + rng.normal(0, 1, 80)),
            Scored("regression", y, 0.8 * y + rng.normal(2, 1.5, 80)),
        )
    k, n, sep = (2, 120, 1.2) if kind == "binary" else (3, 53, 3.5)  # 53 rows: the case
    y = rng.integers(0, k, n)
    z = sep * np.eye(k)[y] + rng.normal(size=(n, k))
    out = []
    for noise in (0.5, 1.0):
        proba = softmax(z + noise * rng.normal(size=(n, k)), axis=1)
        if kind == "binary":
            proba = np.round(proba, 1)  # ties
            proba /= proba.sum(1, keepdims=True)
        out.append(Scored("classification", y, proba.argmax(1), proba, list(range(k))))
    return out[0], out[1]


@pytest.mark.slow  # a plain bootstrap loop
@pytest.mark.no_cover
@pytest.mark.parametrize("kind", ["binary", "3-class", "regression"])
def test_intervals_equal_a_plain_percentile_bootstrap(kind: str) -> None:
    """Resample rows, recompute every metric with scikit-learn, take percentiles:
    with the same draws, ci-ml's intervals (ROC AUC included) are that bootstrap's,
    so the Monte Carlo error they share is the only error there is."""
    cand, base = _small_pair(kind)
    n, resamples, seed = cand.y.shape[0], stats.BATCH, 11  # scikit-learn is slow: one batch
    names = list(METRICS) if kind != "regression" else ["rmse", "mae", "r2"]
    names = [m for m in names if METRICS[m].task == cand.task]
    # ci-ml's draws: one (resamples, n) block per batch of resamples
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n), dtype=np.int32)
    plain = {
        name: np.array([[SKLEARN[name](_rows(m, i)) for m in (cand, base)] for i in idx])
        for name in names
    }
    got = stats.paired_deltas(cand, base, names, resamples, 0.95, seed)
    alone = stats.estimates(cand, names, resamples, 0.95, seed)
    for name in names:
        c, b = plain[name][:, 0], plain[name][:, 1]
        want = {
            "candidate": np.quantile(c, [0.025, 0.975]),
            "baseline": np.quantile(b, [0.025, 0.975]),
            "delta": np.quantile(c - b, [0.025, 0.975]),
        }
        d = got[name]
        have = {
            "candidate": (d.candidate.ci_low, d.candidate.ci_high),
            "baseline": (d.baseline.ci_low, d.baseline.ci_high),
            "delta": (d.ci_low, d.ci_high),
        }
        for part in want:
            np.testing.assert_allclose(have[part], want[part], atol=1e-9, err_msg=f"{name} {part}")
        np.testing.assert_allclose(
            (alone[name].ci_low, alone[name].ci_high), want["candidate"], atol=1e-9, err_msg=name
        )
        assert d.candidate.value == pytest.approx(SKLEARN[name](cand), abs=1e-12)


def test_block_bootstrap_of_the_auc_matches_the_exact_one() -> None:
    """On blocks the AUC's pairs come from their Hajek projection: its spread is
    the exact bootstrap's (a halved deviation would show as half the spread)."""
    rng = np.random.default_rng(4)
    n = 4_000
    y = rng.integers(0, 3, n)
    proba = softmax(1.2 * np.eye(3)[y] + rng.normal(size=(n, 3)), axis=1)
    s = Scored("classification", y, proba.argmax(1), proba, [0, 1, 2])
    parts, _ = component_blocks(s, ["roc_auc"])
    auc = METRICS["roc_auc"].value
    spread = {}
    for max_units in (n, 1_000):
        (sums,) = stats.bootstrap_sums(
            [parts.matrix], 1_000, seed=2, max_units=max_units, pairs=[parts.pairs]
        )
        spread[max_units] = auc(sums).std()
    assert spread[1_000] == pytest.approx(spread[n], rel=0.1)


def test_above_exact_pairs_rows_the_projected_auc_interval_is_the_counted_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above EXACT_PAIRS rows the pairs of a resample are projected, not counted:
    on the same draws the two intervals differ by a sliver of their width
    (a hard case: AUC near .97, 10 % positives)."""
    rng = np.random.default_rng(6)
    n = stats.EXACT_PAIRS + 1_000
    y = (rng.random(n) < 0.1).astype(np.int64)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 2.7 * y)))
    s = Scored("classification", y, (p > 0.5).astype(np.int64), np.stack([1 - p, p], 1), [0, 1])
    got = {}
    for limit in (stats.EXACT_PAIRS, n):
        monkeypatch.setattr(stats, "EXACT_PAIRS", limit)
        got[limit] = stats.estimates(s, ["roc_auc"], 1_000, 0.95, seed=3)["roc_auc"]
    projected, counted = got[n - 1_000], got[n]
    width = counted.ci_high - counted.ci_low
    assert projected.value == counted.value
    assert abs(projected.ci_low - counted.ci_low) < 0.02 * width
    assert abs(projected.ci_high - counted.ci_high) < 0.02 * width
