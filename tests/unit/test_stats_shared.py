"""The statistics' fast paths give what the plain ones give, to the bit: the
component matrix written in place, and the bootstrap units and counts one stage
keeps for the next (`ci-ml run`)."""

import numpy as np
import pytest

from ci_ml.stats import bootstrap as stats
from ci_ml.stats.metrics import DEFAULTS, Pairs, Scored, component_blocks

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def _pair_columns_by_brute_force(score: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """[negatives below each positive, positive, negative, positives above each
    negative], ties counting half, pair by pair."""
    below = (score[:, None] > score[None, :]) + 0.5 * (score[:, None] == score[None, :])
    neg_below = (below @ ~positive) * positive
    pos_above = (positive @ below) * ~positive
    return np.stack([neg_below, positive, ~positive, pos_above], axis=1).astype(float)


def _scored(rng: np.random.Generator, n: int, k: int, decimals: int) -> Scored:
    y = rng.integers(0, k, n)
    proba = rng.dirichlet(np.ones(k), n)
    proba = np.round(proba, decimals)  # few distinct scores: many ties
    return Scored("classification", y, proba.argmax(1), proba, list(range(k)))


@pytest.mark.parametrize(("n", "k", "decimals"), [(1, 2, 1), (40, 2, 1), (300, 2, 2), (250, 3, 1)])
def test_component_matrix_is_every_column_computed_apart(n: int, k: int, decimals: int) -> None:
    """One preallocated matrix, each block written into its columns: the same
    numbers as stacking columns computed one by one (the AUC's pair columns
    counted pair by pair, ties included)."""
    s = _scored(np.random.default_rng(n + k), n, k, decimals)
    parts, where = component_blocks(s, DEFAULTS["classification"])
    m = parts.matrix
    rows = np.arange(n)
    correct = (s.y == s.pred).astype(float)
    onehot = np.eye(k)
    confusion = np.hstack([onehot[s.y], onehot[s.pred], onehot[s.y] * correct[:, None]])
    p_true = np.clip(s.proba[rows, s.y], np.finfo(float).eps, 1 - np.finfo(float).eps)
    classes = [1] if k == 2 else range(k)
    auc = np.hstack([_pair_columns_by_brute_force(s.proba[:, c], s.y == c) for c in classes])
    want = {
        "accuracy": np.stack([correct, np.ones(n)], axis=1),
        "balanced_accuracy": confusion,
        "roc_auc": auc,
        "log_loss": np.stack([-np.log(p_true), np.ones(n)], axis=1),
    }
    for name, cols in want.items():
        np.testing.assert_array_equal(m[:, where[name]], cols, err_msg=name)
    for col, pairs in parts.pairs.items():
        assert pairs.total == m[:, col].sum() == m[:, col + 3].sum()


@pytest.mark.parametrize("decimals", [0, 1, 3])
def test_pairs_ranked_into_a_view_equals_its_own_matrix(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    score = np.round(rng.normal(size=500), decimals)
    positive = rng.random(500) < 0.3
    _, alone = Pairs.ranked(score, positive)
    wide = np.full((500, 9), np.nan)
    _, view = Pairs.ranked(score, positive, wide[:, 3:7])
    np.testing.assert_array_equal(wide[:, 3:7], alone)
    assert np.isnan(wide[:, [0, 1, 2, 7, 8]]).all() and view.base is wide
    np.testing.assert_array_equal(alone, _pair_columns_by_brute_force(score, positive))


def _pair(n: int, k: int, seed: int) -> tuple[Scored, Scored]:
    rng = np.random.default_rng(seed)
    c, b = _scored(rng, n, k, 2), _scored(rng, n, k, 2)
    return c, Scored(b.task, c.y, b.pred, b.proba, b.classes)


@pytest.mark.parametrize(
    ("n", "k"), [(60, 2), (400, 3), (4_000, 2), (9_000, 2), (30_000, 2), (30_000, 3)]
)
def test_shared_units_give_the_numbers_computed_afresh(
    n: int, k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """evaluate then compare in one process (shared) against each alone: the
    same intervals and deltas to the bit, from fewer computations."""
    cand, base = _pair(n, k, n)
    names = DEFAULTS["classification"]
    alone_est = stats.estimates(cand, names, 200, 0.95, 4)
    alone_deltas = stats.paired_deltas(cand, base, names, 200, 0.95, 4)
    built = []
    real = stats.model_units
    monkeypatch.setattr(stats, "model_units", lambda *a: built.append(1) or real(*a))
    shared = stats.Shared()
    copy = Scored(cand.task, cand.y.copy(), cand.pred.copy(), cand.proba.copy(), cand.classes)
    assert stats.estimates(cand, names, 200, 0.95, 4, shared) == alone_est
    assert stats.paired_deltas(copy, base, names, 200, 0.95, 4, shared) == alone_deltas
    assert len(built) == 2  # the candidate once (found again by content), the baseline once
    # another seed, other resamples: computed afresh, not taken from the cache
    assert stats.estimates(cand, names, 150, 0.95, 5, shared) == stats.estimates(
        cand, names, 150, 0.95, 5
    )


def test_shared_regression_numbers_are_the_ones_computed_afresh() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(10, 3, 25_000)
    cand = Scored("regression", y, y + rng.normal(0, 1, y.size))
    base = Scored("regression", y, y + rng.normal(0, 1.2, y.size))
    names = DEFAULTS["regression"]
    shared = stats.Shared()
    stats.estimates(cand, names, 300, 0.9, 1, shared)
    got = stats.paired_deltas(cand, base, names, 300, 0.9, 1, shared)
    assert got == stats.paired_deltas(cand, base, names, 300, 0.9, 1)


def test_a_kept_plan_replays_its_counts_and_an_unkept_one_refuses() -> None:
    kept = stats.Plan.draw(30_000, 250, seed=3, max_units=1_000, keep=True)
    first = [c.copy() for c in kept.counts()]
    again = list(kept.counts())
    assert [c.shape for c in first] == [(100, 1_000), (100, 1_000), (50, 1_000)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
        assert b.dtype == np.float64
    once = stats.Plan.draw(30_000, 250, seed=3, max_units=1_000)
    for a, b in zip(first, once.counts(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(RuntimeError):
        next(once.counts())


def test_fingerprint_is_the_content() -> None:
    s = _scored(np.random.default_rng(1), 50, 3, 2)
    same = Scored(s.task, s.y.copy(), s.pred.copy(), s.proba.copy(), list(s.classes))
    assert stats.fingerprint(s) == stats.fingerprint(same)
    other = Scored(s.task, s.y, s.pred, s.proba.round(1), s.classes)
    assert stats.fingerprint(other) != stats.fingerprint(s)
    relabelled = Scored(s.task, s.y, s.pred, s.proba, ["a", "b", "c"])
    assert stats.fingerprint(relabelled) != stats.fingerprint(s)
    assert stats.fingerprint(Scored("regression", s.y.astype(object), s.pred)) is None
