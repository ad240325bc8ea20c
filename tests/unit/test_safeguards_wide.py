"""The leakage scores of a wide table, all features at once (issue 22, 6: a
10,000-column table had become 6x slower to check), give what one feature at a
time gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ci_ml.checks.data import UnivariateScorer, _bins, bin_matrix


def _table(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(350, 60))
    X[:, 1] = np.round(X[:, 1])  # few values: each its own bin
    X[rng.random(350) < 0.1, 2] = np.nan  # missing values: a bin of their own
    X[:, 3] = 0.0  # one value
    X[:3, 4] = np.nan
    X[:, 5] = rng.integers(0, 40, 350)  # just over the bin count
    X[:, 6] = np.where(rng.random(350) < 0.5, np.nan, 1.0)
    return X


def test_the_bins_of_all_columns_at_once_are_each_columns_own() -> None:
    X = _table(0)
    assert np.array_equal(bin_matrix(X), np.column_stack([_bins(X[:, j]) for j in range(60)]))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_scores_of_all_columns_at_once_are_each_columns_own(task: str) -> None:
    X = _table(1)
    rng = np.random.default_rng(2)
    if task == "classification":
        y = pd.Series(np.where(X[:, 0] + X[:, 1] > 0, "a", np.where(X[:, 0] > 1, "b", "c")))
    else:
        y = pd.Series(2 * X[:, 0] + X[:, 1] + rng.normal(size=350))
    scorer = UnivariateScorer(y, task)
    one = np.array([scorer.score(X[:, j]) for j in range(X.shape[1])])
    assert np.allclose(scorer.scores(X), one, rtol=0, atol=1e-12)
    assert one[0] > 0.2  # the informative feature scores
