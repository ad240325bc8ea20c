"""Uncertainty: paired bootstrap confidence intervals and paired tests.

The bootstrap resamples holdout rows with replacement, the same rows for the
candidate and the baseline (paired), and recomputes every metric from sums of
per-row components (ci_ml.stats.metrics): one matrix product per batch of
resamples instead of a Python loop.

Up to `max_units` rows this is the exact nonparametric bootstrap. Above it,
rows are shuffled (seeded) into `max_units` random blocks and blocks are
resampled: the sums the metrics are built from keep the same variance (each
block is a sum of iid rows), while the cost no longer grows with the
holdout's size. On a 1M-row holdout that is the difference between minutes
and a fraction of a second.

ROC AUC's pair counts are the exception to "one matrix product". Up to
EXACT_PAIRS rows they are counted for each resample's row weights, so every
interval there is the textbook bootstrap of each metric; above, they come from
their Hajek projection (ci_ml.stats.metrics.Pairs), a function of plain sums.
The projection errs by a few percent of an interval's width at a few hundred
rows (more with a small class or an AUC near 1, where it covers less), by
under 1 % from 5,000 rows on, while counting costs resamples x rows per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.stats.metrics import Pairs, Scored

MAX_UNITS = 20_000
EXACT_PAIRS = 5_000
BATCH = 100


def bootstrap_sums(
    matrices: list[np.ndarray],
    resamples: int,
    seed: int,
    max_units: int = MAX_UNITS,
    pairs: list[dict[int, Pairs]] | None = None,
) -> list[np.ndarray]:
    """Per-resample column sums (resamples, k) of each (n, k) matrix, all
    resampled with the same weights. `pairs[i]` names the pair-count columns of
    matrix i (each followed by its other three Pairs columns), which are
    counted per resample up to EXACT_PAIRS rows, and projected above."""
    return _sums(matrices, resamples, seed, max_units, pairs)[1]


def _sums(
    matrices: list[np.ndarray],
    resamples: int,
    seed: int,
    max_units: int = MAX_UNITS,
    pairs: list[dict[int, Pairs]] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """bootstrap_sums, with each matrix's plain column sums first."""
    import numpy as np

    from ci_ml.stats.metrics import PairCounter

    rng = np.random.default_rng(seed)
    n = matrices[0].shape[0]
    offsets = np.concatenate([[0], np.cumsum([m.shape[1] for m in matrices])])
    special = [
        (int(offsets[i]) + col, p) for i, cols in enumerate(pairs or []) for col, p in cols.items()
    ]
    exact = n <= max_units
    count = exact and n <= EXACT_PAIRS
    if exact:
        units = np.hstack(matrices)
    else:
        from scipy import sparse

        # A (blocks x rows) indicator matrix: one sparse product sums every column.
        block = rng.permutation(n) % max_units
        member = sparse.csr_matrix((np.ones(n), (block, np.arange(n))), shape=(max_units, n))
        units = np.hstack([np.asarray(member @ m) for m in matrices])
    g = units.shape[0]
    if special and count:
        cols = [c for c, _ in special]
        count_pairs = PairCounter([p for _, p in special], min(BATCH, resamples))
    out = np.empty((resamples, units.shape[1]))
    for start in range(0, resamples, BATCH):
        b = min(BATCH, resamples - start)
        draws = rng.integers(0, g, size=(b, g), dtype=np.int32)
        counts = np.empty((b, g))
        for i, row in enumerate(draws):  # one resample at a time: its counts stay in cache
            counts[i] = np.bincount(row, minlength=g)
        batch = counts @ units
        if special and count:
            batch[:, cols] = count_pairs(counts)
        elif special:
            for c, p in special:
                batch[:, c] = p.project(batch[:, c : c + 4])
        out[start : start + b] = batch
    splits = offsets[1:-1]
    return np.split(units.sum(axis=0), splits), np.split(out, splits, axis=1)


def stratified_sums(
    matrices: list[np.ndarray],
    strata: np.ndarray,
    resamples: int,
    seed: int,
    pairs: list[dict[int, Pairs]] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Column sums of each (units, k) matrix within each stratum, on the full
    sample and per resample, every stratum's units resampled among themselves (as
    many as it holds) and all matrices with the same weights: per-slice statistics
    (ci_ml.stats.slices). `strata` are ascending unit offsets, 0 to units.

    Matrix i's sums have strata x k columns, stratum after stratum; `pairs[i]`
    names its pair-count columns in that layout, counted per resample when their
    rows are units (`Pairs.countable`) and at most EXACT_PAIRS, else projected.
    One stratum holding every row draws exactly the weights `bootstrap_sums` does."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from ci_ml.stats.metrics import PairCounter

    rng = np.random.default_rng(seed)
    units = np.hstack(matrices)
    widths = [m.shape[1] for m in matrices]
    cols = np.concatenate([[0], np.cumsum(widths)])
    spans = [(int(a), int(b)) for a, b in zip(strata[:-1], strata[1:], strict=True)]
    n_strata = len(spans)

    def layout(per: np.ndarray) -> np.ndarray:  # (..., strata, k) -> (..., strata * k) per matrix
        lead = per.shape[:-2]
        return np.concatenate(
            [
                per[..., a:b].reshape(*lead, n_strata * (b - a))
                for a, b in zip(cols, cols[1:], strict=False)
            ],
            axis=-1,
        )

    out_off = np.concatenate([[0], np.cumsum([n_strata * w for w in widths])])
    special = [
        (int(out_off[i]) + c, p) for i, found in enumerate(pairs or []) for c, p in found.items()
    ]
    counted = [(c, p) for c, p in special if p.countable and p.n_pos + p.n_neg <= EXACT_PAIRS]
    projected = [(c, p) for c, p in special if c not in {c for c, _ in counted}]
    if counted:
        count_pairs = PairCounter([p for _, p in counted], min(BATCH, resamples))
    totals = np.zeros((n_strata, units.shape[1]))
    for s, (a, b) in enumerate(spans):
        totals[s] = units[a:b].sum(axis=0)
    g = units.shape[0]
    out = np.empty((resamples, int(out_off[-1])))
    for start in range(0, resamples, BATCH):
        b = min(BATCH, resamples - start)
        draws = _draws(rng, b, g, spans)
        counts = np.empty((b, g))
        for i, row in enumerate(draws):  # one resample at a time: its counts stay in cache
            counts[i] = np.bincount(row, minlength=g)
        per = np.zeros((b, n_strata, units.shape[1]))
        # Each unit is in one stratum: a small product each, which BLAS threads only
        # slow down (tenfold on a busy 2-core runner).
        with threadpool_limits(1, user_api="blas"):
            for s, (lo, hi) in enumerate(spans):
                if hi > lo:
                    per[:, s] = counts[:, lo:hi] @ units[lo:hi]
        batch = layout(per)
        if counted:
            batch[:, [c for c, _ in counted]] = count_pairs(counts)
        for c, p in projected:
            batch[:, c] = p.project(batch[:, c : c + 4])
        out[start : start + b] = batch
    splits = out_off[1:-1]
    return np.split(layout(totals), splits), np.split(out, splits, axis=1)


def _draws(rng: np.random.Generator, b: int, g: int, spans: list[tuple[int, int]]) -> np.ndarray:
    """(b, g) unit indexes drawn with replacement within each span of units, as
    many as it holds (one span of all g units: what `_sums` draws)."""
    import numpy as np

    parts = [rng.integers(lo, hi, size=(b, hi - lo), dtype=np.int32) for lo, hi in spans if hi > lo]
    return np.hstack(parts) if parts else np.zeros((b, 0), dtype=np.int32)


@dataclass
class Resampled:
    """One model's metrics on the full rows and on each bootstrap resample."""

    point: dict[str, float]
    samples: dict[str, np.ndarray]  # (resamples,) per metric


def resample(models: list[Scored], names: list[str], resamples: int, seed: int) -> list[Resampled]:
    """Every metric of every model, all models resampled with the same row
    weights: paired when they are scored on the same rows (they need the same
    number of rows)."""
    import numpy as np

    from ci_ml.stats.metrics import METRICS, component_blocks

    blocks = [component_blocks(m, names) for m in models]
    totals, sums = _sums(
        [parts.matrix for parts, _ in blocks], resamples, seed, pairs=[p.pairs for p, _ in blocks]
    )
    out = [Resampled({}, {}) for _ in models]
    # Models with the same metrics in the same columns are evaluated together.
    layouts: dict[tuple, list[int]] = {}
    for i, (parts, where) in enumerate(blocks):
        key = (parts.matrix.shape[1], *((n, sl.start, sl.stop) for n, sl in where.items()))
        layouts.setdefault(key, []).append(i)
    for members in layouts.values():
        where = blocks[members[0]][1]
        full = np.stack([totals[i] for i in members])  # (m, k)
        resampled = np.stack([sums[i] for i in members], axis=1)  # (resamples, m, k)
        for name, sl in where.items():
            value = METRICS[name].value
            points, samples = value(full[:, sl]), value(resampled[..., sl])
            for j, i in enumerate(members):
                out[i].point[name] = float(points[j])
                out[i].samples[name] = samples[:, j]
    return out


@dataclass
class Estimate:
    value: float
    ci_low: float
    ci_high: float


@dataclass
class Delta:
    metric: str
    greater_is_better: bool
    candidate: Estimate
    baseline: Estimate
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: str  # improved | regressed | within noise | n/a


def verdict(ci_low: float, ci_high: float, greater_is_better: bool) -> str:
    """improved / regressed when the delta's interval excludes zero, else within noise."""
    import math

    if math.isnan(ci_low) or math.isnan(ci_high):
        return "n/a"
    if ci_low > 0:
        return "improved" if greater_is_better else "regressed"
    if ci_high < 0:
        return "regressed" if greater_is_better else "improved"
    return "within noise"


def intervals(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals of each column of (resamples, m) samples, over its
    finite values (NaN where there are none)."""
    import numpy as np

    alpha = (1 - confidence) / 2
    finite = np.isfinite(samples)
    if finite.all():
        lo, hi = np.quantile(samples, [alpha, 1 - alpha], axis=0)
        return lo, hi
    lo, hi = np.full(samples.shape[1:], np.nan), np.full(samples.shape[1:], np.nan)
    for j in np.ndindex(samples.shape[1:]):
        col = samples[(slice(None), *j)]
        ok = col[np.isfinite(col)]
        if ok.size:
            lo[j], hi[j] = np.quantile(ok, [alpha, 1 - alpha])
    return lo, hi


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    lo, hi = intervals(samples, confidence)
    return float(lo), float(hi)


def _p_value(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value for 'no difference', consistent with the percentile CI."""
    import numpy as np

    d = deltas[np.isfinite(deltas)]
    if d.size == 0:
        return float("nan")
    if np.all(d == 0):
        return 1.0
    return float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))


def p_values(deltas: np.ndarray) -> np.ndarray:
    """_p_value of each column of (resamples, m) deltas, at once."""
    import numpy as np

    finite = np.isfinite(deltas)
    n = finite.sum(axis=0)
    below = ((deltas <= 0) & finite).sum(axis=0)
    above = ((deltas >= 0) & finite).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.minimum(1.0, 2 * np.minimum(below, above) / n)
    return np.where(n > 0, p, np.nan)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values for testing them together (NaN kept)."""
    import numpy as np

    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        order = ok[np.argsort(p[ok], kind="stable")]
        m = order.size
        stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        out[order] = np.minimum(1.0, stepped)
    return out


def estimates(
    scored: Scored, names: list[str], resamples: int, confidence: float, seed: int
) -> dict[str, Estimate]:
    """Point estimates with percentile bootstrap intervals for one model."""
    (r,) = resample([scored], names, resamples, seed)
    return {n: Estimate(v, *_interval(r.samples[n], confidence)) for n, v in r.point.items()}


def paired_deltas(
    candidate: Scored,
    baseline: Scored,
    names: list[str],
    resamples: int,
    confidence: float,
    seed: int,
) -> dict[str, Delta]:
    """Candidate minus baseline for each metric, on the same bootstrap resamples."""
    from ci_ml.stats.metrics import METRICS

    c, b = resample([candidate, baseline], names, resamples, seed)
    out = {}
    for name in names:
        if name not in c.point or name not in b.point:
            continue
        m = METRICS[name]
        d_samples = c.samples[name] - b.samples[name]
        lo, hi = _interval(d_samples, confidence)
        out[name] = Delta(
            metric=name,
            greater_is_better=m.greater_is_better,
            candidate=Estimate(c.point[name], *_interval(c.samples[name], confidence)),
            baseline=Estimate(b.point[name], *_interval(b.samples[name], confidence)),
            delta=c.point[name] - b.point[name],
            ci_low=lo,
            ci_high=hi,
            p_value=_p_value(d_samples),
            verdict=verdict(lo, hi, m.greater_is_better),
        )
    return out


def delta_of(
    metric: str,
    greater_is_better: bool,
    candidate: tuple[float, np.ndarray],
    baseline: tuple[float, np.ndarray],
    confidence: float,
) -> Delta:
    """A Delta from each model's (point, resamples) on the same row weights."""
    (c_point, c_samples), (b_point, b_samples) = candidate, baseline
    d_samples = c_samples - b_samples
    lo, hi = _interval(d_samples, confidence)
    return Delta(
        metric=metric,
        greater_is_better=greater_is_better,
        candidate=Estimate(c_point, *_interval(c_samples, confidence)),
        baseline=Estimate(b_point, *_interval(b_samples, confidence)),
        delta=c_point - b_point,
        ci_low=lo,
        ci_high=hi,
        p_value=_p_value(d_samples),
        verdict=verdict(lo, hi, greater_is_better),
    )


def mcnemar_exact(candidate_correct: np.ndarray, baseline_correct: np.ndarray) -> dict[str, float]:
    """McNemar's exact test on paired correctness (binomial on the discordant pairs)."""
    import numpy as np
    from scipy.stats import binomtest

    b = int(np.sum(candidate_correct & ~baseline_correct))  # only the candidate right
    c = int(np.sum(~candidate_correct & baseline_correct))  # only the baseline right
    p = 1.0 if b + c == 0 else float(binomtest(min(b, c), b + c, 0.5).pvalue)
    return {
        "test": "mcnemar_exact",
        "candidate_only_correct": b,
        "baseline_only_correct": c,
        "p_value": p,
    }


def paired_error_test(
    candidate_err: np.ndarray, baseline_err: np.ndarray, kind: str
) -> dict[str, float]:
    """Paired t-test on per-row losses (squared or absolute error)."""
    import numpy as np
    from scipy.stats import ttest_rel

    if kind == "squared":
        a, b = candidate_err**2, baseline_err**2
    else:
        a, b = np.abs(candidate_err), np.abs(baseline_err)
    if np.allclose(a, b):
        return {
            "test": f"paired_t_{kind}_error",
            "statistic": 0.0,
            "p_value": 1.0,
            "mean_difference": 0.0,
        }
    res = ttest_rel(a, b)
    return {
        "test": f"paired_t_{kind}_error",
        "statistic": float(res.statistic),
        "p_value": float(res.pvalue),
        "mean_difference": float(np.mean(a - b)),
    }
