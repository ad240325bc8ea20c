"""Every metric against scikit-learn's own implementation."""

import numpy as np
import pytest
from sklearn import metrics as skm

from ci_ml.errors import ConfigError
from ci_ml.stats.metrics import DEFAULTS, Pairs, Scored, pair_counts, point_estimates, select


def _classification(k: int, n: int = 3000, seed: int = 0, ties: bool = False) -> Scored:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba[np.arange(n), y] += 0.4
    if ties:
        proba = np.round(proba, 1) + 1e-3
    proba /= proba.sum(1, keepdims=True)
    return Scored("classification", y, proba.argmax(1), proba, list(range(k)))


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("ties", [False, True])
def test_classification_metrics_match_sklearn(k: int, ties: bool) -> None:
    s = _classification(k, ties=ties)
    got = point_estimates(s, DEFAULTS["classification"])
    y, p, pr = s.y, s.pred, s.proba
    want = {
        "accuracy": skm.accuracy_score(y, p),
        "balanced_accuracy": skm.balanced_accuracy_score(y, p),
        "f1_macro": skm.f1_score(y, p, average="macro"),
        "precision_macro": skm.precision_score(y, p, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, p, average="macro", zero_division=0),
        "roc_auc": skm.roc_auc_score(y, pr[:, 1])
        if k == 2
        else skm.roc_auc_score(y, pr, multi_class="ovr"),
        "log_loss": skm.log_loss(y, pr, labels=list(range(k))),
    }
    for name, value in want.items():
        assert got[name] == pytest.approx(value, abs=1e-9), name


def test_macro_metrics_count_a_never_predicted_class_like_sklearn() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 1, 1, 1, 1])  # class 2 never predicted
    s = Scored("classification", y, p, None, [0, 1, 2])
    got = point_estimates(s, ["precision_macro", "recall_macro", "f1_macro", "balanced_accuracy"])
    assert got["precision_macro"] == pytest.approx(
        skm.precision_score(y, p, average="macro", zero_division=0)
    )
    assert got["f1_macro"] == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0))


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(1000, 300, 5000)
    p = y + rng.normal(0, 40, 5000)
    got = point_estimates(Scored("regression", y, p), ["rmse", "mae", "r2"])
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(y, p), rel=1e-10)


def test_proba_metrics_are_skipped_without_probabilities() -> None:
    s = _classification(2)
    s.proba = None
    assert set(point_estimates(s, DEFAULTS["classification"])) == set(
        DEFAULTS["classification"]
    ) - {"roc_auc", "log_loss"}


def test_select_checks_names_against_the_task() -> None:
    assert select("regression", None, None) == (["rmse", "mae", "r2"], "rmse")
    with pytest.raises(ConfigError, match="'accuracy' is a classification metric, but the task"):
        select("regression", ["accuracy"], None)
    with pytest.raises(ConfigError, match="metrics.primary"):
        select("classification", ["accuracy"], "roc_auc")
    with pytest.raises(ConfigError, match="'nope' is not a metric ci-ml computes"):
        select("classification", ["nope"], None)


@pytest.mark.parametrize(
    ("task", "names", "gates", "primary"),
    [
        ("classification", None, [], "roc_auc"),  # the task's usual headline
        ("classification", ["accuracy", "f1_macro"], [], "accuracy"),  # no AUC listed
        ("classification", None, ["f1_macro", "roc_auc"], "f1_macro"),  # the first gate's
        ("regression", None, [], "rmse"),
        ("regression", None, ["r2"], "r2"),
    ],
)
def test_primary_defaults_to_the_first_gate_then_the_tasks_headline(
    task, names, gates, primary
) -> None:
    assert select(task, names, None, gates)[1] == primary


@pytest.mark.parametrize("cells", [1, 500, 4_000_000])
def test_pair_counts_are_roc_auc_with_integer_weights(cells: int) -> None:
    """The resampled AUC's numerator: with integer row weights, pairs / (pos * neg)
    is scikit-learn's AUC with those sample weights (ties included), for many Pairs
    at once, however they are split into batches."""
    rng = np.random.default_rng(5)
    n, b = 60, 7
    cases = []
    for i in range(6):
        positive = rng.random(n) < [0.4, 0.1, 0.5, 0.3, 0.0, 1.0][i]
        score = np.round(rng.normal(size=n) + positive, [3, 1, 0, 2, 1, 1][i])  # ties
        cases.append((score, positive, *Pairs.ranked(score, positive)))
    weights = rng.multinomial(n, np.full(n, 1 / n), size=b).astype(float)
    got = pair_counts(weights, [p for _, _, p, _ in cases], cells=cells)
    for j, (score, positive, p, columns) in enumerate(cases):
        for r in range(b):
            w = weights[r]
            pos, neg = w[positive].sum(), w[~positive].sum()
            if pos == 0 or neg == 0:
                assert got[r, j] == 0
                continue
            want = skm.roc_auc_score(positive, score, sample_weight=w)
            assert got[r, j] / (pos * neg) == pytest.approx(want, abs=1e-12)
        full = pair_counts(np.ones((1, n)), [p])[0, 0]
        assert full == p.total == columns[:, 0].sum() == columns[:, 3].sum()
