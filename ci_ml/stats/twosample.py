"""Two-sample tests of one column: does sample b come from the distribution of
sample a? Kolmogorov–Smirnov for numbers, chi-squared for categories, and the
population stability index for both. Pure numbers, no I/O: the safeguards
stage compares train with test, and a drift check on production data can
compare a release's training data with new rows through the same functions.

Large samples are subsampled (seeded, 100,000 rows per side): a KS test or a
PSI on that many rows has all the power and precision a data check needs, at
a cost that does not grow with the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MAX_ROWS = 100_000
PSI_BINS = 10
PSI_FLOOR = 1e-4  # an empty bin counts as this share, so the log stays finite


@dataclass(frozen=True)
class Shift:
    """How far b's distribution is from a's."""

    test: str  # "ks" or "chi2"
    statistic: float
    p_value: float
    psi: float


def _sample(x: np.ndarray, seed: int) -> np.ndarray:
    import numpy as np

    if x.shape[0] <= MAX_ROWS:
        return x
    return np.random.default_rng(seed).choice(x, MAX_ROWS, replace=False)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two vectors of bin shares."""
    import numpy as np

    e = np.maximum(expected, PSI_FLOOR)
    a = np.maximum(actual, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_shift(a: np.ndarray, b: np.ndarray, seed: int = 0) -> Shift:
    """KS test and PSI (deciles of a) of two numeric samples; NaN are left out."""
    import numpy as np
    from scipy.stats import ks_2samp

    a = _sample(a[~np.isnan(a)], seed)
    b = _sample(b[~np.isnan(b)], seed + 1)
    if a.size == 0 or b.size == 0:
        return Shift("ks", 0.0, 1.0, 0.0)
    res = ks_2samp(a, b)
    edges = np.unique(np.quantile(a, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    share_a = np.bincount(np.searchsorted(edges, a, side="right"), minlength=edges.size + 1)
    share_b = np.bincount(np.searchsorted(edges, b, side="right"), minlength=edges.size + 1)
    return Shift(
        "ks",
        float(res.statistic),
        float(res.pvalue),
        psi(share_a / a.size, share_b / b.size),
    )


def categorical_shift(a: np.ndarray, b: np.ndarray, seed: int = 0) -> Shift:
    """Chi-squared test of homogeneity and PSI of two samples of categories
    (missing values count as a category of their own)."""
    import numpy as np
    import pandas as pd
    from scipy.stats import chi2_contingency

    a, b = _sample(a, seed), _sample(b, seed + 1)
    codes, cats = pd.factorize(np.concatenate([a, b]), use_na_sentinel=False)
    if cats.size < 2 or a.size == 0 or b.size == 0:
        return Shift("chi2", 0.0, 1.0, 0.0)
    ca = np.bincount(codes[: a.size], minlength=cats.size)
    cb = np.bincount(codes[a.size :], minlength=cats.size)
    table = np.vstack([ca, cb])
    res = chi2_contingency(table[:, table.sum(axis=0) > 0])
    return Shift("chi2", float(res.statistic), float(res.pvalue), psi(ca / a.size, cb / b.size))
