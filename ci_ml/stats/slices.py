"""Metrics per slice of the holdout rows, every slice and every model from one
paired bootstrap.

A slice is a set of holdout rows (a column's value, a bin, a crossing of two
columns); slices may overlap. Each slice is resampled on its own, as a sample
of its own size (a stratified bootstrap: the slice's size is held fixed), the
candidate's and the baseline's rows with the same weights (paired). All slices
share one weight matrix per batch of resamples: its units are laid out slice
after slice, and each model's per-row metric components (ci_ml.stats.metrics,
computed within the slice: ROC AUC ranks its pairs within it) sit in that
slice's own block of columns of one sparse matrix. One sparse product per
batch then gives every slice of every model, at a cost that grows with the
units, not with units x slices.

Units are a slice's rows while the slices hold at most MAX_UNITS rows in all
(the exact bootstrap of each slice; ROC AUC's pairs are counted up to
EXACT_PAIRS rows, as for the overall metrics). Above that, a slice larger than
its share of units is resampled as that many random blocks of its rows, at
least SLICE_UNITS: each block is a sum of iid rows, so the sums keep their
variance, as in the overall block bootstrap (ci_ml.stats.bootstrap). With 1,000
units the interval's width is within about 2 % of the row bootstrap's, under the
Monte Carlo error of 1,000 resamples.

Deltas are tested slice by slice, and many slices mean many tests: a slice is
called improved or regressed only when its bootstrap p-value survives Holm's
adjustment over the slices tested together, so 50 slices of an unchanged
model do not produce two or three "regressions" by chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.stats.bootstrap import (
    MAX_UNITS,
    Delta,
    Estimate,
    holm,
    intervals,
    p_values,
    stratified_sums,
    verdict,
)
from ci_ml.stats.metrics import METRICS, Scored, component_blocks

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.stats.metrics import Pairs, Scored

SLICE_UNITS = 1_000  # the fewest units a slice above it is resampled as


@dataclass
class Units:
    """How each slice's rows become resampling units: per slice, the unit of each
    of its rows (None: every row is a unit), and where its units start."""

    of_rows: list[np.ndarray | None]
    starts: np.ndarray  # (slices + 1,) offsets into the units


def units(sizes: list[int], seed: int, max_units: int = MAX_UNITS) -> Units:
    """Rows as units while all slices together hold at most `max_units` rows;
    above, each slice keeps at most max(SLICE_UNITS, max_units / slices) units,
    blocks of its rows dealt at random."""
    import numpy as np

    rng = np.random.default_rng([seed, 1])
    cap = max(SLICE_UNITS, max_units // max(len(sizes), 1))
    exact = sum(sizes) <= max_units
    of_rows: list[np.ndarray | None] = []
    counts = []
    for n in sizes:
        if exact or n <= cap:
            of_rows.append(None)
            counts.append(n)
        else:
            of_rows.append(rng.permutation(n) % cap)
            counts.append(cap)
    return Units(of_rows, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


@dataclass
class SliceComponents:
    """One model's metric components summed into each slice's units, slice after
    slice: (units, k), with the pair-count columns in the per-slice layout
    (slice s, column c -> s * k + c)."""

    matrix: np.ndarray
    pairs: dict[int, Pairs]
    where: dict[str, slice]  # metric -> its columns within a slice's block
    k: int


def _subset(s: Scored, idx: np.ndarray) -> Scored:

    proba = None if s.proba is None else s.proba[idx]
    return Scored(s.task, s.y[idx], s.pred[idx], proba, s.classes)


def _unit_sums(matrix: np.ndarray, of_rows: np.ndarray, n_units: int) -> np.ndarray:
    import numpy as np
    from scipy import sparse

    rows = of_rows.shape[0]
    member = sparse.csr_matrix((np.ones(rows), (of_rows, np.arange(rows))), shape=(n_units, rows))
    return np.asarray(member @ matrix)


def slice_components(
    model: Scored, names: list[str], slices: list[np.ndarray], layout: Units
) -> SliceComponents:
    """The model's metric components within each slice, summed into its units."""
    import numpy as np

    n = model.y.shape[0]
    _, where = component_blocks(_subset(model, np.arange(min(n, 1))), names)
    k = max((sl.stop for sl in where.values()), default=0)
    matrix = np.zeros((int(layout.starts[-1]), k))
    pairs: dict[int, Pairs] = {}
    for s, idx in enumerate(slices):
        if idx.size == 0 or k == 0:
            continue
        parts, _ = component_blocks(_subset(model, idx), names)
        start, stop = int(layout.starts[s]), int(layout.starts[s + 1])
        of_rows = layout.of_rows[s]
        if of_rows is None:
            matrix[start:stop] = parts.matrix
        else:
            matrix[start:stop] = _unit_sums(parts.matrix, of_rows, stop - start)
        for c, p in parts.pairs.items():
            p.countable = of_rows is None  # blocks of rows: pairs can only be projected
            pairs[s * k + c] = p.on_rows(np.arange(start, stop)) if of_rows is None else p
    return SliceComponents(matrix, pairs, where, k)


@dataclass
class SliceStats:
    """Every metric of every model on every slice: the full rows and each resample."""

    rows: np.ndarray  # (S,) rows per slice
    point: list[dict[str, np.ndarray]]  # per model: metric -> (S,)
    samples: list[dict[str, np.ndarray]]  # per model: metric -> (resamples, S)


def resample_slices(
    models: list[Scored], names: list[str], slices: list[np.ndarray], resamples: int, seed: int
) -> SliceStats:
    """Every metric of every model on every slice (row index arrays), all models
    resampled with the same weights, each slice within itself."""
    import numpy as np

    layout = units([idx.size for idx in slices], seed)
    comps = [slice_components(m, names, slices, layout) for m in models]
    rows = np.array([idx.size for idx in slices], dtype=np.int64)
    return resample_components(comps, layout.starts, rows, resamples, seed)


def resample_components(
    comps: list[SliceComponents], starts: np.ndarray, rows: np.ndarray, resamples: int, seed: int
) -> SliceStats:
    """`resample_slices` from each model's components already summed into each
    slice's units (`starts`: where each slice's units begin; `rows`: its rows)."""
    import numpy as np

    totals, sums = stratified_sums(
        [c.matrix for c in comps], starts, resamples, seed, [c.pairs for c in comps]
    )
    n_slices = rows.shape[0]
    empty = rows == 0
    points: list[dict[str, np.ndarray]] = []
    samples: list[dict[str, np.ndarray]] = []
    for c, total, resampled in zip(comps, totals, sums, strict=True):
        full = total.reshape(n_slices, c.k)
        each = resampled.reshape(resampled.shape[0], n_slices, c.k)
        point, sample = {}, {}
        for name, sl in c.where.items():
            value = METRICS[name].value
            with np.errstate(invalid="ignore", divide="ignore"):
                point[name] = np.where(empty, np.nan, value(full[:, sl]))
                sample[name] = np.where(empty, np.nan, value(each[..., sl]))
        if points and c.matrix.shape == comps[0].matrix.shape and c.where == comps[0].where:
            # The first model's components bit for bit (two builds of one model): its
            # numbers, so every delta is exactly zero (see bootstrap._same_as_first).
            for name, sl in c.where.items():
                if np.array_equal(c.matrix[:, sl], comps[0].matrix[:, sl]) and all(
                    c.pairs[k].same_as(comps[0].pairs[k])
                    for k in c.pairs
                    if sl.start <= k < sl.stop and k in comps[0].pairs
                ):
                    point[name], sample[name] = points[0][name], samples[0][name]
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
