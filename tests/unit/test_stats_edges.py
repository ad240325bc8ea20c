"""Statistics at the edges (issue 22, 7): identical models give exact zeros, a
p-value has the floor B resamples allow, ROC AUC is undefined where scikit-learn
says so, a metric a few rows dominate is flagged and never excused by
`only_if_significant`, and a relative gate of a first build is skipped."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ci_ml.checks.gates import evaluate_gate
from ci_ml.config import Gate
from ci_ml.stats.bootstrap import _p_value, p_values, paired_deltas
from ci_ml.stats.calibration import calibration
from ci_ml.stats.metrics import DEFAULTS, Scored, point_estimates, tail_problem
from ci_ml.stats.slices import resample_slices, slice_results


def _classified(n: int, k: int, seed: int) -> Scored:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.3
    proba /= proba.sum(axis=1, keepdims=True)
    return Scored("classification", y, proba.argmax(1), proba, list(range(k)))


def _copy(s: Scored) -> Scored:
    return Scored(
        s.task, s.y.copy(), s.pred.copy(), None if s.proba is None else s.proba.copy(), s.classes
    )


@pytest.mark.parametrize(("n", "k"), [(200, 2), (300, 3), (30_000, 3)])
def test_two_identical_models_give_exact_zeros_for_every_metric(n: int, k: int) -> None:
    """Before: the joint product rounded identical columns differently by position
    (log loss [−1.39e-16, +1.67e-16], p 0.99)."""
    a = _classified(n, k, seed=n)
    deltas = paired_deltas(a, _copy(a), DEFAULTS["classification"], 300, 0.95, seed=1)
    for d in deltas.values():
        assert (d.delta, d.ci_low, d.ci_high, d.p_value) == (0.0, 0.0, 0.0, 1.0), d
        assert d.verdict == "within noise"


def test_identical_models_give_exact_zeros_in_slices_and_calibration() -> None:
    a = _classified(2_000, 2, seed=3)
    slices = [np.arange(0, 700), np.arange(700, 2_000)]
    stats = resample_slices([a, _copy(a)], ["accuracy", "roc_auc", "log_loss"], slices, 200, 0)
    for sm in slice_results(stats, 0.95, np.array([True, True])).values():
        for r in sm.results:
            assert (r.delta, r.ci_low, r.ci_high) == (0.0, 0.0, 0.0)
    cal = calibration([a, _copy(a)], 10, 200, 0.95, 0)
    for d in (cal.deltas or {}).values():
        assert (d.delta, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("resamples", [99, 400, 1000])
def test_a_p_value_is_never_below_the_floor_b_resamples_allow(resamples: int) -> None:
    """Before: 0.0 in comparison.json when no resample crossed zero."""
    deltas = np.linspace(0.01, 0.05, resamples)  # every resample on one side
    floor = 2 / (resamples + 1)
    assert _p_value(deltas) == pytest.approx(floor)
    assert p_values(deltas.reshape(-1, 1))[0] == pytest.approx(floor)
    assert _p_value(np.zeros(resamples)) == 1.0
    assert math.isnan(_p_value(np.full(resamples, np.nan)))


def test_multiclass_roc_auc_is_undefined_when_a_class_is_absent_as_in_scikit_learn() -> None:
    """Before: the average over the classes present (0.58 where scikit-learn gives NaN)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100)  # classes 0 and 1 present; 2 absent
    proba = rng.dirichlet([1, 1, 1], 100)
    s = Scored("classification", y, proba.argmax(1), proba, [0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = roc_auc_score(y, proba, multi_class="ovr", labels=[0, 1, 2])
    assert math.isnan(reference) and math.isnan(point_estimates(s, ["roc_auc"])["roc_auc"])
    # every class present: scikit-learn's macro one-vs-rest
    y3 = np.r_[y, [2, 2, 2]]
    proba3 = np.vstack([proba, rng.dirichlet([1, 1, 1], 3)])
    s3 = Scored("classification", y3, proba3.argmax(1), proba3, [0, 1, 2])
    assert point_estimates(s3, ["roc_auc"])["roc_auc"] == pytest.approx(
        roc_auc_score(y3, proba3, multi_class="ovr", labels=[0, 1, 2]), abs=1e-12
    )


def test_a_metric_a_few_rows_dominate_is_flagged_and_its_gate_not_excused() -> None:
    rng = np.random.default_rng(1)
    n = 200
    y = rng.integers(0, 2, n)
    p1 = np.clip(rng.beta(2, 2, n) * 0.6 + 0.2 + 0.2 * (y - 0.5), 0.05, 0.95)
    smooth = Scored(
        "classification", y, (p1 > 0.5).astype(int), np.column_stack([1 - p1, p1]), [0, 1]
    )
    hard = p1.copy()
    hard[:3] = 1.0 - y[:3]  # three rows get probability 0 for their true class
    tailed = Scored(
        "classification", y, (hard > 0.5).astype(int), np.column_stack([1 - hard, hard]), [0, 1]
    )
    assert tail_problem(smooth, "log_loss") is None
    assert "3 row(s) give their true class a probability of 0" in tail_problem(tailed, "log_loss")
    d = paired_deltas(tailed, smooth, ["log_loss", "accuracy"], 300, 0.95, seed=0)
    assert d["log_loss"].verdict == "unreliable" and "the candidate" in d["log_loss"].unreliable
    assert d["accuracy"].unreliable is None
    gate = Gate(metric="log_loss", max_regression=0.0, only_if_significant=True)
    result = evaluate_gate(gate, d["log_loss"].candidate.value, d["log_loss"], False)
    assert result.status == "fail" and "only_if_significant does not apply" in result.reason


def test_a_regression_target_with_one_huge_error_is_flagged() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.1, size=300)
    pred[0] += 100.0
    s = Scored("regression", y, pred)
    assert "carry" in tail_problem(s, "rmse") and tail_problem(s, "r2") is None


def test_a_relative_gate_of_a_first_build_is_skipped_even_when_its_metric_is_undefined() -> None:
    """Before: exit 4 ("could not be computed") although the README says relative
    gates are skipped on a first build; an absolute gate still fails on it."""
    relative = Gate(metric="roc_auc", max_regression=0.01)
    result = evaluate_gate(relative, math.nan, None, True)
    assert result.status == "skipped" and "no baseline" in result.reason
    absolute = Gate(metric="roc_auc", min=0.6)
    assert evaluate_gate(absolute, math.nan, None, True).status == "fail"
