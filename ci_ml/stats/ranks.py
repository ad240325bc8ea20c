"""ROC AUC over rows that are never in one place: ranks from histograms.

A row's ROC AUC components (ci_ml.stats.metrics.Pairs.ranked) need its rank
among every holdout row: how many negatives score below each positive, how
many positives above each negative. Over partitions on a cluster that is a
global sort. Instead, a first pass counts each partition's positives and
negatives per bin of a fixed grid of the score, the counts are added up, and a
second pass reads each row's placement from the cumulative counts: negatives in
lower bins, plus half of those in its own bin. The pair count is then exact
except for pairs of a positive and a negative in the same bin, which count half
whatever their order; so the AUC is off by at most

    0.5 * sum_b pos_b * neg_b / (P * N)

(`tie_bound`), which every build records. Measured on 2M holdout rows of the
Dask benchmark's data (probabilities of a logistic model): with 2^20 bins the
bound is about 1e-6 and the AUC off by about 1e-9; with 1 % positives, scores
crowded near 0, the bound grows to about 1e-5 and the error to 1e-7.

The grid is the mean of a uniform grid of the probability and a uniform grid of
its logit (clipped to +-LOGIT): both increase with the score, so the bins are at
least as fine as either with half as many, fine in the middle (the uniform
grid) and in the tails (the logit's), where an imbalanced problem's scores crowd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

BINS = 1 << 20  # per AUC column: 8 MB of counts per class side
MIN_BINS = 1 << 16
CELLS = 1 << 21  # the counts of every column of one model together: 16 MB
LOGIT = 37.0  # float64 probabilities within 1e-16 of 0 or 1 share the end bins


def bins_for(columns: int) -> int:
    """The grid's size for a model with this many AUC columns (one for a binary
    classifier, one per class for more): BINS, fewer for many classes, so one
    partition's counts stay under CELLS."""
    bins = BINS
    while bins > MIN_BINS and 2 * bins * columns > CELLS:
        bins //= 2
    return bins


def bin_of(score: np.ndarray, bins: int) -> np.ndarray:
    """Each score's bin (0..bins-1), increasing with the score."""
    import numpy as np

    p = np.clip(np.nan_to_num(score.astype(np.float64), nan=0.0), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        logit = np.clip(np.log(p) - np.log1p(-p), -LOGIT, LOGIT)
    where = 0.5 * (p + (logit + LOGIT) / (2 * LOGIT))
    return np.minimum((where * bins).astype(np.int64), bins - 1)


def histogram(score: np.ndarray, positive: np.ndarray, bins: int) -> np.ndarray:
    """(2, bins) counts of [negatives, positives] per bin."""
    import numpy as np

    b = bin_of(score, bins)
    return np.stack(
        [np.bincount(b[~positive], minlength=bins), np.bincount(b[positive], minlength=bins)]
    ).astype(np.int64)


def placements(counts: np.ndarray) -> np.ndarray:
    """(2, bins) from the summed counts of every row: per bin, the negatives a
    positive there ranks above and the positives a negative there ranks below
    (those in its own bin counting half)."""
    import numpy as np

    neg, pos = counts[0].astype(np.float64), counts[1].astype(np.float64)
    neg_below = np.cumsum(neg) - neg + 0.5 * neg
    pos_above = pos.sum() - np.cumsum(pos) + 0.5 * pos
    return np.stack([neg_below, pos_above])


def fill(score: np.ndarray, positive: np.ndarray, placed: np.ndarray, out: np.ndarray) -> None:
    """The (n, 4) Pairs columns of these rows (ci_ml.stats.metrics.Pairs.ranked)
    read from `placements`: [negatives below, positive, negative, positives above]."""
    b = bin_of(score, placed.shape[1])
    out[:, 0] = placed[0][b] * positive
    out[:, 1] = positive
    out[:, 2] = ~positive
    out[:, 3] = placed[1][b] * ~positive


def pair_count(counts: np.ndarray) -> float:
    """The binned pair count of the summed counts: what column 0 of `fill` sums
    to over every row (computed in integers: exact)."""
    import numpy as np

    neg, pos = counts[0].astype(np.int64), counts[1].astype(np.int64)
    twice = int((pos * (2 * (np.cumsum(neg) - neg) + neg)).sum())
    return twice / 2


def tie_bound(counts: np.ndarray) -> float:
    """The most the binned AUC can differ from the exact one: half the share of
    (positive, negative) pairs that fall in one bin."""
    neg, pos = counts[0].astype(float), counts[1].astype(float)
    total = float(pos.sum()) * float(neg.sum())
    return 0.5 * float((pos * neg).sum()) / total if total > 0 else 0.0
