"""Two-sample tests of columns: does sample b come from the distribution of
sample a? Kolmogorov–Smirnov for numbers, chi-squared for categories (a Monte
Carlo test over tables with the same margins when counts are small), with a
distance (how much moved: the KS statistic for numbers, the total variation
distance for categories), the population stability index, and which way the
column moved. Pure numbers, no I/O: the safeguards stage compares train with
test, and a drift check on production data can compare a release's training
data with new rows through the same functions.

Numeric columns are compared all at once (one sort of the stacked columns):
a table of 10,000 columns costs a few array operations, not 10,000 calls.
The KS p-value is scipy's (`ks_2samp`, exact up to 10,000 rows a side), asked
once per distinct (rows, rows, statistic).

Large samples are subsampled (seeded, 100,000 rows per side): a KS test or a
PSI on that many rows has all the power and precision a data check needs, at
a cost that does not grow with the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MAX_ROWS = 100_000
PSI_BINS = 10
PSI_FLOOR = 1e-4  # an empty bin counts as this share, so the log stays finite
# Below this expected count in a cell, chi-squared's p-value is not to be trusted
# (Cochran's rule): the p-value is then a Monte Carlo one over random tables.
MIN_EXPECTED = 5
RESAMPLES = 9_999
BLOCK = 2_000_000  # values sorted at once: the columns go in blocks of about this many


@dataclass(frozen=True)
class Shift:
    """How far b's distribution is from a's, and which way it moved."""

    test: str  # "ks", "chi2" or "chi2 monte carlo"
    statistic: float
    p_value: float
    psi: float
    # Numbers: the KS statistic (the largest gap between the two cumulative
    # shares). Categories: the total variation distance (the share of rows that
    # would have to change category for the two to match). Both in [0, 1].
    distance: float
    rows: tuple[int, int]  # values compared on each side (numbers: missing ones left out)
    # Numbers: a's and b's means and a's standard deviation. Categories: the
    # share of the level that moved most (`level`) in a and in b.
    before: float = math.nan
    after: float = math.nan
    spread: float = math.nan
    level: Any = None


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two vectors of bin shares."""
    import numpy as np

    e = np.maximum(expected, PSI_FLOOR)
    a = np.maximum(actual, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _sample_rows(x: np.ndarray, seed: int) -> np.ndarray:
    import numpy as np

    if x.shape[0] <= MAX_ROWS:
        return x
    return x[np.random.default_rng(seed).choice(x.shape[0], MAX_ROWS, replace=False)]


def numeric_shift(a: np.ndarray, b: np.ndarray, seed: int = 0) -> Shift:
    """KS test, PSI (deciles of a) and the means of two numeric samples; NaN are left out."""
    return numeric_shifts(a.reshape(-1, 1), b.reshape(-1, 1), seed)[0]


def numeric_shifts(a: np.ndarray, b: np.ndarray, seed: int = 0) -> list[Shift]:
    """`numeric_shift` of every column of two 2-D arrays (rows x columns) at once."""
    import numpy as np

    a = _sample_rows(np.asarray(a, dtype=np.float64), seed)
    b = _sample_rows(np.asarray(b, dtype=np.float64), seed + 1)
    step = max(1, BLOCK // max(1, a.shape[0] + b.shape[0]))
    blocks = [_measure(a[:, j : j + step], b[:, j : j + step]) for j in range(0, a.shape[1], step)]
    if not blocks:
        return []
    m = {k: np.concatenate([blk[k] for blk in blocks]) for k in blocks[0]}
    statistic, p_value = _ks_tests(m["na"], m["nb"], m["i"], m["j"], m["gap"])
    out = []
    for k in range(a.shape[1]):
        rows = (int(m["na"][k]), int(m["nb"][k]))
        if min(rows) == 0:
            out.append(Shift("ks", 0.0, 1.0, 0.0, 0.0, rows))
            continue
        out.append(
            Shift(
                "ks",
                float(statistic[k]),
                float(p_value[k]),
                float(m["psi"][k]),
                float(statistic[k]),
                rows,
                float(m["mean_a"][k]),
                float(m["mean_b"][k]),
                float(m["sd_a"][k]),
            )
        )
    return out


def _measure(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Per column of a block: sizes, the largest gap between the two empirical
    CDFs and a's and b's counts at its point, PSI, means and a's spread. Worked
    on transposed (one row per column), so every sort reads contiguous memory."""
    import warnings

    import numpy as np

    a, b = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
    na, nb = (~np.isnan(a)).sum(axis=1), (~np.isnan(b)).sum(axis=1)
    both = np.hstack([a, b])
    order = np.argsort(both, axis=1)  # NaN sort last; ties in any order (read at run ends)
    values = np.take_along_axis(both, order, axis=1)
    from_a = order < a.shape[1]
    # a's and b's values at or below each sorted value, read where a run of equal
    # values ends: the two empirical CDFs at every point, as ks_2samp has them.
    ca = np.cumsum(from_a, axis=1)
    cb = np.arange(1, both.shape[1] + 1) - ca
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = ca / na[:, None] - cb / nb[:, None]
    ends = np.ones(values.shape, dtype=bool)
    ends[:, :-1] = values[:, 1:] != values[:, :-1]
    gap[~(ends & ~np.isnan(values))] = 0.0
    at = np.abs(gap).argmax(axis=1)[:, None]
    largest = np.abs(np.take_along_axis(gap, at, axis=1))[:, 0]
    i = np.where(largest > 0, np.take_along_axis(ca, at, axis=1)[:, 0], 0)
    j = np.where(largest > 0, np.take_along_axis(cb, at, axis=1)[:, 0], 0)

    # An empty column has NaN for its deciles, means and spread; its counts say so.
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        edges = _deciles(np.sort(a, axis=1), na)
        # per decile: the values below it; the bins' counts are their differences
        below_a = (a[:, None, :] < edges[:, :, None]).sum(axis=2)
        below_b = (b[:, None, :] < edges[:, :, None]).sum(axis=2)
        zero = np.zeros((na.size, 1), dtype=na.dtype)
        share_a = np.diff(np.hstack([zero, below_a, na[:, None]]), axis=1) / na[:, None]
        share_b = np.diff(np.hstack([zero, below_b, nb[:, None]]), axis=1) / nb[:, None]
        e, s = np.maximum(share_a, PSI_FLOOR), np.maximum(share_b, PSI_FLOOR)
        return {
            "na": na,
            "nb": nb,
            "gap": largest,
            "i": i,
            "j": j,
            "psi": np.sum((s - e) * np.log(s / e), axis=1),
            "mean_a": np.nanmean(a, axis=1),
            "mean_b": np.nanmean(b, axis=1),
            "sd_a": np.nanstd(a, axis=1, ddof=1),
        }


def _ks_tests(
    na: np.ndarray, nb: np.ndarray, i: np.ndarray, j: np.ndarray, gap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """scipy's two-sided KS test (the statistic as it reports it: an exact test's
    is rounded to a multiple of 1 / lcm(sizes); and the p-value) of each column.
    Both depend on the two sizes and the largest gap alone, so scipy is asked once
    per distinct triple, with two-valued samples that have the very same gap
    (i of a's and j of b's values at or below its point), columns of equal sizes
    in one call."""
    import numpy as np
    from scipy.stats import ks_2samp

    statistic, p_value = np.zeros(na.size), np.ones(na.size)
    keys = np.stack([na, nb, gap.view(np.int64)], axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    asked = first[(na[first] > 0) & (nb[first] > 0)]  # an empty side: no test, p 1
    for size in np.unique(np.stack([na[asked], nb[asked]], axis=1), axis=0):
        these = asked[(na[asked] == size[0]) & (nb[asked] == size[1])]
        step = max(1, BLOCK // int(size.sum()))
        for start in range(0, these.size, step):
            cols = these[start : start + step]
            sa = (np.arange(size[0])[:, None] >= i[cols]).astype(np.float64)
            sb = (np.arange(size[1])[:, None] >= j[cols]).astype(np.float64)
            res = ks_2samp(sa, sb, axis=0)
            statistic[cols], p_value[cols] = res.statistic, res.pvalue
    same = first[inverse.reshape(-1)]  # each column's representative
    return statistic[same], p_value[same]


def _deciles(sorted_a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """np.quantile's (linear) deciles of each row of a row-sorted array whose
    first n[k] values in row k are its values (NaN after them): one gather
    instead of np.nanquantile's call per column."""
    import numpy as np

    q = np.linspace(0, 1, PSI_BINS + 1)[None, 1:-1]
    h = q * (np.maximum(n, 1) - 1)[:, None]
    lo = np.floor(h).astype(np.intp)
    t = h - lo
    below = np.take_along_axis(sorted_a, lo, axis=1)
    above = np.take_along_axis(sorted_a, np.minimum(lo + 1, sorted_a.shape[1] - 1), axis=1)
    step = above - below
    # numpy's lerp: from the lower value below the middle, from the upper one above it
    out = np.where(t >= 0.5, above - step * (1 - t), below + step * t)
    return np.where(t == 0, below, out)


def categorical_shift(a: np.ndarray, b: np.ndarray, seed: int = 0) -> Shift:
    """Chi-squared test of homogeneity, total variation distance, PSI and the
    level that moved most, of two samples of categories (missing values count as
    a category of their own). With an expected count below MIN_EXPECTED the
    p-value is a Monte Carlo one: the share of random tables with the same
    margins (scipy's `random_table`) at least as far from homogeneity."""
    import numpy as np
    import pandas as pd
    from scipy.stats import chi2_contingency

    a, b = _sample_rows(np.asarray(a), seed), _sample_rows(np.asarray(b), seed + 1)
    codes, cats = pd.factorize(np.concatenate([a, b]), use_na_sentinel=False)
    rows = (int(a.size), int(b.size))
    if cats.size < 2 or a.size == 0 or b.size == 0:
        return Shift("chi2", 0.0, 1.0, 0.0, 0.0, rows)
    ca = np.bincount(codes[: a.size], minlength=cats.size)
    cb = np.bincount(codes[a.size :], minlength=cats.size)
    table = np.vstack([ca, cb])
    share_a, share_b = ca / a.size, cb / b.size
    moved = int(np.abs(share_b - share_a).argmax())
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if expected.min() >= MIN_EXPECTED:
        res = chi2_contingency(table)
        test, statistic, p = "chi2", float(res.statistic), float(res.pvalue)
    else:
        test, statistic, p = "chi2 monte carlo", *_monte_carlo_chi2(table, expected, seed)
    return Shift(
        test,
        statistic,
        p,
        psi(share_a, share_b),
        float(np.abs(share_a - share_b).sum() / 2),
        rows,
        float(share_a[moved]),
        float(share_b[moved]),
        level=cats[moved],
    )


def _monte_carlo_chi2(table: np.ndarray, expected: np.ndarray, seed: int) -> tuple[float, float]:
    import numpy as np
    from scipy.stats import random_table

    def chi2(t: np.ndarray) -> np.ndarray:
        return np.sum((t - expected) ** 2 / expected, axis=(-2, -1))

    observed = float(chi2(table))
    tables = random_table(table.sum(axis=1), table.sum(axis=0)).rvs(
        RESAMPLES, random_state=np.random.default_rng(seed)
    )
    # A tolerance, so a table equal to the observed one counts as at least as far.
    beyond = int(np.sum(chi2(tables) >= observed * (1 - 1e-12)))
    return observed, (beyond + 1) / (RESAMPLES + 1)


def adjusted(p_values: list[float]) -> list[float]:
    """The p-values corrected over the columns (Benjamini–Hochberg: when nothing
    moved, the chance of any rejection is at most the level; when some columns
    moved, the expected share of false ones among those rejected is)."""
    import numpy as np
    from scipy.stats import false_discovery_control

    if not p_values:
        return []
    return [float(p) for p in false_discovery_control(np.asarray(p_values, dtype=np.float64))]


@dataclass(frozen=True)
class BinnedShift:
    """Two histograms over the same bins compared: how far apart and how surely."""

    test: str  # "chi2", "chi2 monte carlo", or "none" (fewer than two bins hold a value)
    statistic: float
    p_value: float
    psi: float
    tvd: float  # total variation distance of the two shares: in [0, 1]
    # The largest gap between the two cumulative shares over the bins in their
    # order: for bins of a number, the KS statistic read at the bin edges (a lower
    # bound of the exact one, equal when every bin holds one distinct value).
    cdf_gap: float
    moved: int  # the bin whose share moved most
    rows: tuple[int, int]


def binned_shift(
    a: np.ndarray, b: np.ndarray, seed: int = 0, quantile_bins: bool = False
) -> BinnedShift:
    """Chi-squared test of homogeneity of two vectors of counts over the same bins
    (a Monte Carlo one over tables with the same margins when an expected count is
    below MIN_EXPECTED), with the distances between their shares.

    `quantile_bins`: a's bins were cut at a's own quantiles (its values at the
    edges, no ties), so a's counts are not a multinomial sample: they are fixed
    by construction, and the randomness is in the bins' true masses, which are
    sums of the spacings of a's values (a Dirichlet with one more spacing than
    values: the top bin holds one more). Its p-value is then exact under that
    null (Monte Carlo: masses drawn from the Dirichlet, b's counts from the
    multinomial they give) while a's bins hold fewer than QUANTILE_ROWS values;
    above it the chi-squared approximation is calibrated (measured in
    tests/unit/test_drift.py).

    Why chi-squared on the bins rather than KS: the reference is a histogram (a
    profile, not rows); a KS p-value from binned data is conservative by an
    unknown amount, while a 2 × bins table is the exact question asked of counts.
    The binned KS statistic is kept as the effect size of a number, so its
    threshold reads as the skew check's."""
    import numpy as np
    from scipy.stats import chi2_contingency

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = float(a.sum()), float(b.sum())
    rows = (int(na), int(nb))
    if na == 0 or nb == 0:
        return BinnedShift("none", 0.0, 1.0, 0.0, 0.0, 0.0, 0, rows)
    share_a, share_b = a / na, b / nb
    diff = share_b - share_a
    tvd = float(np.abs(diff).sum() / 2)
    gap = float(np.abs(np.cumsum(diff)).max())
    moved = int(np.abs(diff).argmax())
    shift_psi = psi(share_a, share_b)
    used = (a + b) > 0
    if used.sum() < 2:
        return BinnedShift("none", 0.0, 1.0, shift_psi, tvd, gap, moved, rows)
    if quantile_bins and a.size > 1 and na < QUANTILE_ROWS * a.size:
        statistic, p = _dirichlet_chi2(a, b, seed)
        return BinnedShift("chi2 monte carlo", statistic, p, shift_psi, tvd, gap, moved, rows)
    table = np.vstack([a[used], b[used]])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    if expected.min() >= MIN_EXPECTED:
        res = chi2_contingency(table, correction=False)
        test, statistic, p = "chi2", float(res.statistic), float(res.pvalue)
    else:
        test, statistic, p = (
            "chi2 monte carlo",
            *_monte_carlo_chi2(table.astype(np.int64), expected, seed),
        )
    return BinnedShift(test, statistic, p, shift_psi, tvd, gap, moved, rows)


# Below this many reference values a quantile bin (on average), the p-value is a Monte Carlo one
# (the chi-squared approximation is liberal there when the other sample is much larger).
QUANTILE_ROWS = 100


def _chi2_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The chi-squared statistic of homogeneity of a (bins,) against each row of b."""
    import numpy as np

    total = a[None, :] + b
    na, nb = a.sum(), b.sum(axis=-1, keepdims=True)
    n = na + nb
    ea, eb = total * na / n, total * nb / n
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(total > 0, (a - ea) ** 2 / ea + (b - eb) ** 2 / eb, 0.0)
    out: np.ndarray = terms.sum(axis=-1)
    return out


def _dirichlet_chi2(a: np.ndarray, b: np.ndarray, seed: int) -> tuple[float, float]:
    """The chi-squared statistic and its Monte Carlo p-value when a's bins are cut at
    its own quantiles: the bins' masses are Dirichlet(a's counts, one more in the
    top bin), b's counts multinomial given them. Sequential: 999 draws first, and
    the rest of RESAMPLES only for a p-value that may matter (below 0.05)."""
    import numpy as np

    observed = float(_chi2_rows(a, b[None, :])[0])
    rng = np.random.default_rng(seed)
    spacings = a.copy()
    spacings[-1] += 1
    spacings = np.maximum(spacings, 1e-9)
    beyond, drawn = 0, 0
    for size in (FIRST_DRAWS, RESAMPLES - FIRST_DRAWS):
        gammas = rng.standard_gamma(spacings, size=(size, spacings.size))  # a Dirichlet draw
        masses = gammas / gammas.sum(axis=1, keepdims=True)
        counts = rng.multinomial(int(b.sum()), masses).astype(np.float64)
        beyond += int(np.sum(_chi2_rows(a, counts) >= observed * (1 - 1e-12)))
        drawn += size
        if (beyond + 1) / (drawn + 1) > 0.05:
            break
    if beyond == 0:
        # No draw as far: the p-value is below the Monte Carlo's resolution, where
        # the chi-squared tail says how far below (a correction over many columns
        # needs p-values smaller than 1 / RESAMPLES).
        from scipy.stats import chi2

        tail = float(chi2.sf(observed, max(1, int((a + b > 0).sum()) - 1)))
        return observed, min(tail, 1 / (drawn + 1))
    return observed, (beyond + 1) / (drawn + 1)


FIRST_DRAWS = 999
