"""Calibration of predicted probabilities: Brier score, expected calibration
error (ECE) and the reliability table, each a function of sums of per-row
components like every metric in ci_ml.stats.metrics, so the paired bootstrap
gives their intervals and the candidate-minus-baseline deltas for free.

- Brier score: scikit-learn's `brier_score_loss`: the mean squared difference
  between the positive class's probability and the outcome for a binary model;
  for more classes, the mean over rows of the squared distance between the
  probability vector and the one-hot truth.
- ECE and the reliability table use equal-width bins of a confidence: for a
  binary model the positive class's probability against how often the row is
  positive (scikit-learn's `calibration_curve`, bins closed on the right); for
  more classes the top label's probability against how often the top label is
  right (Guo et al., 2017). ECE = sum over bins of |observed - confidence|
  weighted by the bin's share of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.stats.bootstrap import Delta, Estimate, _interval, delta_of, totals_and_sums

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.stats.metrics import Scored

NAMES = ("brier", "ece")
LABELS = {"brier": "Brier score", "ece": "Expected calibration error"}


def confidence_outcome(s: Scored) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, outcome) per row: the positive class's probability and whether
    the row is positive (binary), or the top label's probability and whether the
    top label is right."""
    import numpy as np

    assert s.proba is not None
    if s.proba.shape[1] == 2:
        return s.proba[:, 1], (s.y == 1).astype(np.float64)
    top = s.proba.argmax(axis=1)
    return s.proba[np.arange(s.y.shape[0]), top], (top == s.y).astype(np.float64)


def bin_of(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins on [0, 1], closed on the right, as scikit-learn's calibration_curve."""
    import numpy as np

    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], confidence)


def components(s: Scored, bins: int) -> np.ndarray:
    """Per row: [squared error, 1, bin one-hot (B), bin x confidence (B), bin x outcome (B)]."""
    import numpy as np

    assert s.proba is not None
    n, k = s.proba.shape
    onehot = np.zeros((n, k))
    onehot[np.arange(n), s.y] = 1.0
    if k == 2:
        squared = (s.proba[:, 1] - onehot[:, 1]) ** 2
    else:
        squared = ((s.proba - onehot) ** 2).sum(axis=1)
    conf, outcome = confidence_outcome(s)
    b = bin_of(conf, bins)
    out = np.zeros((n, 2 + 3 * bins))
    rows = np.arange(n)
    out[:, 0], out[:, 1] = squared, 1.0
    out[rows, 2 + b] = 1.0
    out[rows, 2 + bins + b] = conf
    out[rows, 2 + 2 * bins + b] = outcome
    return out


def brier(sums: np.ndarray) -> np.ndarray:
    return sums[..., 0] / sums[..., 1]


def ece(sums: np.ndarray) -> np.ndarray:
    import numpy as np

    bins = (sums.shape[-1] - 2) // 3
    conf = sums[..., 2 + bins : 2 + 2 * bins]
    observed = sums[..., 2 + 2 * bins :]
    return np.abs(observed - conf).sum(axis=-1) / sums[..., 1]


VALUES = {"brier": brier, "ece": ece}


@dataclass
class Bin:
    low: float
    high: float
    rows: int
    confidence: float | None  # mean confidence in the bin (None when empty)
    observed: float | None  # how often the outcome happened in the bin


def reliability(sums: np.ndarray) -> list[Bin]:
    """The reliability table from the full sample's component sums."""
    bins = (sums.shape[-1] - 2) // 3
    out = []
    for b in range(bins):
        rows = sums[2 + b]

        def mean(v: float, r: float = rows) -> float | None:
            return float(v / r) if r > 0 else None

        out.append(
            Bin(
                b / bins,
                (b + 1) / bins,
                int(round(rows)),
                mean(sums[2 + bins + b]),
                mean(sums[2 + 2 * bins + b]),
            )
        )
    return out


@dataclass
class CalibrationStats:
    """The candidate's calibration with intervals and, with a baseline scored on
    the same rows, the paired deltas."""

    candidate: dict[str, Estimate]
    reliability: list[Bin]
    deltas: dict[str, Delta] | None = None
    baseline_reliability: list[Bin] | None = None


def calibration(
    models: list[Scored], bins: int, resamples: int, confidence: float, seed: int
) -> CalibrationStats:
    """Brier score and ECE of the candidate (models[0]) and, given, of the baseline
    (models[1]) on the same bootstrap weights as every other statistic."""

    import numpy as np

    parts = [components(m, bins) for m in models]
    totals, sums = totals_and_sums(parts, resamples, seed)
    if len(parts) > 1 and parts[1].shape == parts[0].shape and np.array_equal(parts[1], parts[0]):
        # Two builds of one model: the same numbers, so every delta is exactly zero
        # (see bootstrap._same_as_first).
        totals, sums = [totals[0], totals[0]], [sums[0], sums[0]]
    values = [
        {n: (float(VALUES[n](t)), VALUES[n](r)) for n in NAMES}
        for t, r in zip(totals, sums, strict=True)
    ]
    result = CalibrationStats(
        {n: Estimate(v, *_interval(r, confidence)) for n, (v, r) in values[0].items()},
        reliability(totals[0]),
    )
    if len(models) > 1:
        result.deltas = {
            n: delta_of(n, False, values[0][n], values[1][n], confidence) for n in NAMES
        }
        result.baseline_reliability = reliability(totals[1])
    return result
