"""Metrics per slice of the holdout rows, every slice and every model from one
bootstrap, with the same row weights as the overall comparison.

A slice is a set of holdout rows (a column's value, a bin, a crossing of two
columns); slices may overlap. Each model's per-row metric components
(ci_ml.stats.metrics) are computed within each slice (ROC AUC ranks its pairs
within the slice) and written into that slice's own block of columns of one
sparse (rows, slices x components) matrix: a slice's indicator times the
components. One bootstrap of those matrices (ci_ml.stats.bootstrap) then sums
every slice of every model per resample, so 50 slices cost one product per
batch of resamples, not 50 bootstraps. With the same seed and rows as the
overall comparison, resample r weighs every row exactly as the comparison's
resample r did: a slice holding every row reproduces the overall intervals.

Deltas are tested slice by slice, and many slices mean many tests: a slice is
called improved or regressed only when its bootstrap p-value survives Holm's
adjustment over the slices tested together, so 50 slices of an unchanged
model do not produce two or three "regressions" by chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.stats.bootstrap import Delta, Estimate, _sums, holm, intervals, p_values

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.stats.metrics import Pairs, Scored


@dataclass
class SliceComponents:
    """One model's components, slice by slice: (n, slices * k), sparse."""

    matrix: object  # scipy.sparse matrix
    pairs: dict[int, Pairs]
    where: dict[str, slice]  # metric -> its columns within a slice's block
    k: int


@dataclass
class SliceStats:
    """Every metric of every model on every slice: the full rows and each resample."""

    rows: np.ndarray  # (S,) rows per slice
    point: list[dict[str, np.ndarray]]  # per model: metric -> (S,)
    samples: list[dict[str, np.ndarray]]  # per model: metric -> (resamples, S)


def _subset(s: Scored, idx: np.ndarray) -> Scored:
    from ci_ml.stats.metrics import Scored

    proba = None if s.proba is None else s.proba[idx]
    return Scored(s.task, s.y[idx], s.pred[idx], proba, s.classes)


def slice_components(model: Scored, names: list[str], slices: list[np.ndarray]) -> SliceComponents:
    """The model's metric components within each slice, each slice in a block of
    k columns of its own; rows outside a slice are zero in its block."""
    import numpy as np
    from scipy import sparse

    from ci_ml.stats.metrics import component_blocks

    n = model.y.shape[0]
    _, where = component_blocks(_subset(model, np.arange(min(n, 1))), names)
    k = max((sl.stop for sl in where.values()), default=0)
    rows, cols, data = [], [], []
    pairs: dict[int, Pairs] = {}
    for s, idx in enumerate(slices):
        if idx.size == 0 or k == 0:
            continue
        parts, _ = component_blocks(_subset(model, idx), names)
        rows.append(np.repeat(idx, k))
        cols.append(np.tile(np.arange(s * k, (s + 1) * k), idx.size))
        data.append(parts.matrix.ravel())
        pairs.update({s * k + c: p.on_rows(idx) for c, p in parts.pairs.items()})
    shape = (n, len(slices) * k)
    if not data:
        return SliceComponents(sparse.csr_matrix(shape), pairs, where, k)
    matrix = sparse.csr_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    )
    return SliceComponents(matrix, pairs, where, k)


def resample_slices(
    models: list[Scored], names: list[str], slices: list[np.ndarray], resamples: int, seed: int
) -> SliceStats:
    """Every metric of every model on every slice (row index arrays), all models
    and slices resampled with the same row weights."""
    import numpy as np

    from ci_ml.stats.metrics import METRICS

    comps = [slice_components(m, names, slices) for m in models]
    totals, sums = _sums([c.matrix for c in comps], resamples, seed, pairs=[c.pairs for c in comps])
    n_slices = len(slices)
    rows = np.array([idx.size for idx in slices], dtype=np.int64)
    empty = rows == 0
    points, samples = [], []
    for c, total, resampled in zip(comps, totals, sums, strict=True):
        full = total.reshape(n_slices, c.k)
        each = resampled.reshape(resampled.shape[0], n_slices, c.k)
        point, sample = {}, {}
        for name, sl in c.where.items():
            value = METRICS[name].value
            with np.errstate(invalid="ignore", divide="ignore"):
                point[name] = np.where(empty, np.nan, value(full[:, sl]))
                sample[name] = np.where(empty, np.nan, value(each[..., sl]))
        points.append(point)
        samples.append(sample)
    return SliceStats(rows, points, samples)


@dataclass
class SliceMetric:
    """One metric on every slice: per slice a Delta (two models) or an Estimate
    (the candidate alone), and the p-value adjusted over the tested slices."""

    name: str
    results: list[Delta | Estimate]
    p_adjusted: np.ndarray


def slice_results(
    stats: SliceStats, confidence: float, tested: np.ndarray
) -> dict[str, SliceMetric]:
    """Per metric: the candidate's (and, with a baseline, the delta's) intervals on
    every slice. `tested` marks the slices whose deltas are tested together (the
    ones large enough to gate): the others get no adjusted p-value and no verdict
    beyond "within noise" / "n/a"."""
    import numpy as np

    from ci_ml.stats.bootstrap import verdict
    from ci_ml.stats.metrics import METRICS

    out = {}
    cand = stats.point[0]
    for name in cand:
        c_lo, c_hi = intervals(stats.samples[0][name], confidence)
        if len(stats.point) < 2 or name not in stats.point[1]:
            est = [
                Estimate(float(v), float(lo), float(hi))
                for v, lo, hi in zip(cand[name], c_lo, c_hi, strict=True)
            ]
            out[name] = SliceMetric(name, list(est), np.full(len(est), np.nan))
            continue
        gib = METRICS[name].greater_is_better
        base = stats.point[1][name]
        b_lo, b_hi = intervals(stats.samples[1][name], confidence)
        d_samples = stats.samples[0][name] - stats.samples[1][name]
        d_lo, d_hi = intervals(d_samples, confidence)
        p = p_values(d_samples)
        adjusted = np.full(p.shape, np.nan)
        adjusted[tested] = holm(p[tested])
        results: list[Delta | Estimate] = []
        for s in range(p.shape[0]):
            said = verdict(float(d_lo[s]), float(d_hi[s]), gib)
            if said in ("improved", "regressed") and not adjusted[s] < 1 - confidence:
                said = "within noise"
            results.append(
                Delta(
                    name,
                    gib,
                    Estimate(float(cand[name][s]), float(c_lo[s]), float(c_hi[s])),
                    Estimate(float(base[s]), float(b_lo[s]), float(b_hi[s])),
                    float(cand[name][s] - base[s]),
                    float(d_lo[s]),
                    float(d_hi[s]),
                    float(p[s]),
                    said,
                )
            )
        out[name] = SliceMetric(name, results, adjusted)
    return out
