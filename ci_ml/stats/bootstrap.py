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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from ci_ml.stats.metrics import METRICS, PairCounter, applicable, component_blocks, tail_problem

if TYPE_CHECKING:
    import numpy as np
    from scipy.sparse import csr_matrix

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
    return totals_and_sums(matrices, resamples, seed, max_units, pairs)[1]


def totals_and_sums(
    matrices: list[np.ndarray],
    resamples: int,
    seed: int,
    max_units: int = MAX_UNITS,
    pairs: list[dict[int, Pairs]] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """bootstrap_sums, with each matrix's plain column sums first."""
    plan = Plan.draw(matrices[0].shape[0], resamples, seed, max_units)
    return _sums(plan, [plan.units(m) for m in matrices], pairs or [])


def block_totals_and_sums(
    units: list[np.ndarray], rows: int, resamples: int, seed: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """totals_and_sums of matrices already summed into blocks (Plan.blocked_units)."""
    plan = Plan.blocked_units(rows, units[0].shape[0], resamples, seed)
    return _sums(plan, units, [])


class Plan:
    """The resampling a seed gives for n rows, in the order the generator is
    drawn from: the rows' random blocks (none up to max_units rows: rows are
    the units), then each batch's resample counts. `keep` stores the counts
    (compactly) as they are drawn, for a later stage of the process to reuse."""

    def __init__(
        self,
        n: int,
        resamples: int,
        rng: np.random.Generator | None,
        member: csr_matrix | None,
        keep: bool,
        blocks: int | None = None,
    ) -> None:
        self.n, self.resamples, self.member, self.keep = n, resamples, member, keep
        # blocks: the units were summed per block before they came here (`blocked`)
        self.blocked = blocks is not None
        self.g = blocks if blocks is not None else n if member is None else member.shape[0]
        self._rng = rng
        self._kept: list[np.ndarray] | None = None

    @classmethod
    def draw(cls, n: int, resamples: int, seed: int, max_units: int, keep: bool = False) -> Plan:
        import numpy as np

        rng = np.random.default_rng(seed)
        if n <= max_units:
            return cls(n, resamples, rng, None, keep)
        from scipy import sparse

        # A (blocks x rows) indicator matrix: one sparse product sums every column.
        block = rng.permutation(n) % max_units
        member = sparse.csr_matrix((np.ones(n), (block, np.arange(n))), shape=(max_units, n))
        return cls(n, resamples, rng, member, keep)

    @classmethod
    def blocked_units(cls, n: int, blocks: int, resamples: int, seed: int) -> Plan:
        """The resampling of n rows already summed into `blocks` blocks where they
        are (a Dask build's partitions, each row's block chosen by its key:
        ci_ml.scoring.holdout_sums): the blocks are the units, and ROC AUC's pairs
        are projected, as for any blocks."""
        import numpy as np

        return cls(n, resamples, np.random.default_rng(seed), None, False, blocks)

    def units(self, matrix: np.ndarray) -> np.ndarray:
        """(g, k): a per-row component matrix summed per block (the rows themselves)."""
        import numpy as np

        return matrix if self.member is None else np.asarray(self.member @ matrix)

    def counts(self) -> Iterator[np.ndarray]:
        """Each batch's (b, g) resample counts: drawn once, replayed if kept."""
        import numpy as np

        if self._kept is not None:
            yield from (c.astype(np.float64) for c in self._kept)
            return
        if self._rng is None:
            raise RuntimeError("a Plan's counts are drawn once; keep=True to replay them")
        rng, self._rng = self._rng, None
        kept = []
        for start in range(0, self.resamples, BATCH):
            b = min(BATCH, self.resamples - start)
            draws = rng.integers(0, self.g, size=(b, self.g), dtype=np.int32)
            counts = np.empty((b, self.g))
            for i, row in enumerate(draws):  # one resample at a time: its counts stay in cache
                counts[i] = np.bincount(row, minlength=self.g)
            if self.keep:  # small integers: a byte each, not eight
                kept.append(counts.astype(np.min_scalar_type(int(counts.max(initial=0)))))
            yield counts
        if self.keep:
            self._kept = kept


def _sums(
    plan: Plan, units: list[np.ndarray], pairs: list[dict[int, Pairs]]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each model's plain column sums and per-resample sums (resamples, k) of its
    units. The models' units are multiplied side by side, in one product, as
    they always were: a BLAS product's last bits depend on its shape."""
    import numpy as np

    offsets = np.concatenate([[0], np.cumsum([u.shape[1] for u in units])])
    special = [
        (int(offsets[i]) + col, p) for i, cols in enumerate(pairs) for col, p in cols.items()
    ]
    count = plan.member is None and not plan.blocked and plan.n <= EXACT_PAIRS
    joint = np.hstack(units)
    if special and count:
        cols = [c for c, _ in special]
        count_pairs = PairCounter([p for _, p in special], min(BATCH, plan.resamples))
    out = np.empty((plan.resamples, joint.shape[1]))
    start = 0
    for counts in plan.counts():
        batch = counts @ joint
        if special and count:
            batch[:, cols] = count_pairs(counts)
        elif special:
            for c, p in special:
                batch[:, c] = p.project(batch[:, c : c + 4])
        out[start : start + batch.shape[0]] = batch
        start += batch.shape[0]
    splits = offsets[1:-1]
    return np.split(joint.sum(axis=0), splits), np.split(out, splits, axis=1)


@dataclass
class Units:
    """One model's resampling units: its per-row components summed per block of
    rows (the rows themselves up to max_units), their pair columns, and each
    metric's columns."""

    matrix: np.ndarray  # (g, k)
    pairs: dict[int, Pairs]
    where: dict[str, slice]


def model_units(scored: Scored, names: list[str], plan: Plan) -> Units:
    """The units of one model's components (the per-row matrix is let go here)."""

    parts, where = component_blocks(scored, names)
    return Units(plan.units(parts.matrix), parts.pairs, where)


class Shared:
    """What a stage computes that a later stage of the same process needs again
    (`ci-ml run`: the candidate's units and the resample counts from evaluate,
    in compare), keyed by the content of the predictions and the resampling
    settings. What it returns are the very arrays computed before, so every sum
    made from them is, bit for bit, the one computed afresh."""

    def __init__(self) -> None:
        self._plans: dict[tuple[object, ...], Plan] = {}
        self._units: dict[tuple[object, ...], Units] = {}

    def plan(self, n: int, resamples: int, seed: int, max_units: int = MAX_UNITS) -> Plan:
        key = (n, resamples, seed, max_units)
        if key not in self._plans or self._plans[key]._kept is None:
            self._plans[key] = Plan.draw(n, resamples, seed, max_units, keep=True)
        return self._plans[key]

    def units(self, scored: Scored, names: list[str], plan: Plan, seed: int) -> Units:

        found = fingerprint(scored)
        if found is None:
            return model_units(scored, names, plan)
        key = (found, tuple(applicable(scored, names)), plan.n, plan.g, seed)
        if key not in self._units:
            self._units[key] = model_units(scored, names, plan)
        return self._units[key]


def fingerprint(s: Scored) -> bytes | None:
    """A digest of a Scored's content (None when an array holds Python objects,
    whose bytes are pointers, not values)."""
    import hashlib

    import numpy as np

    h = hashlib.blake2b(digest_size=20)
    h.update(f"{s.task}|{s.classes!r}".encode())
    for a in (s.y, s.pred, s.proba):
        if a is None:
            h.update(b"-")
            continue
        if a.dtype.hasobject:
            return None
        a = np.ascontiguousarray(a)
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        h.update(a.data)
    return h.digest()


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


def resample(
    models: list[Scored],
    names: list[str],
    resamples: int,
    seed: int,
    shared: Shared | None = None,
) -> list[Resampled]:
    """Every metric of every model, all models resampled with the same row
    weights: paired when they are scored on the same rows (they need the same
    number of rows). `shared` reuses what an earlier call in this process computed."""
    n = models[0].y.shape[0]
    if shared is None:
        plan = Plan.draw(n, resamples, seed, MAX_UNITS)
        units = [model_units(m, names, plan) for m in models]
    else:
        plan = shared.plan(n, resamples, seed)
        units = [shared.units(m, names, plan, seed) for m in models]
    return resample_units(plan, units)


def resample_units(plan: Plan, units: list[Units]) -> list[Resampled]:
    """`resample` from the models' units: the same weights for all of them."""
    import numpy as np

    totals, sums = _sums(plan, [u.matrix for u in units], [u.pairs for u in units])
    out = [Resampled({}, {}) for _ in units]
    # Models with the same metrics in the same columns are evaluated together.
    layouts: dict[tuple[object, ...], list[int]] = {}
    for i, u in enumerate(units):
        key = (u.matrix.shape[1], *((n, sl.start, sl.stop) for n, sl in u.where.items()))
        layouts.setdefault(key, []).append(i)
    for members in layouts.values():
        where = units[members[0]].where
        full = np.stack([totals[i] for i in members])  # (m, k)
        resampled = np.stack([sums[i] for i in members], axis=1)  # (resamples, m, k)
        for name, sl in where.items():
            value = METRICS[name].value
            points, samples = value(full[:, sl]), value(resampled[..., sl])
            for j, i in enumerate(members):
                out[i].point[name] = float(points[j])
                out[i].samples[name] = samples[:, j]
    _same_as_first(out, units)
    return out


def _same_as_first(out: list[Resampled], units: list[Units]) -> None:
    """A model whose components for a metric are, bit for bit, the first model's
    (two builds of one model) takes the first model's numbers for it: the same
    sums computed in another column of one BLAS product can differ in the last
    bit, and identical predictions must give a delta of exactly zero with an
    interval of exactly [0, 0]."""
    import numpy as np

    first = units[0]
    for u, r in zip(units[1:], out[1:], strict=True):
        for name, sl in u.where.items():
            ref = first.where.get(name)
            if ref is None or name not in out[0].point or name not in r.point:
                continue
            mine, theirs = u.matrix[:, sl], first.matrix[:, ref]
            pairs_same = all(
                _same_pairs(u.pairs.get(c), first.pairs.get(c - sl.start + ref.start))
                for c in range(sl.start, sl.stop)
                if c in u.pairs
            )
            if mine.shape == theirs.shape and pairs_same and np.array_equal(mine, theirs):
                r.point[name] = out[0].point[name]
                r.samples[name] = out[0].samples[name]


def _same_pairs(a: Pairs | None, b: Pairs | None) -> bool:
    """The same pair counts (ROC AUC): the same scores and labels behind them."""
    if a is None or b is None:
        return a is b
    return a.same_as(b)


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
    verdict: str  # improved | regressed | within noise | n/a | unreliable
    # Why the interval understates the uncertainty (stats.metrics.tail_problem): the
    # verdict is then "unreliable", never a significant change either way.
    unreliable: str | None = None


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
        column = (slice(None), *j)  # (not inside the brackets: mypy reads that as 3.11 syntax)
        col = samples[column]
        ok = col[np.isfinite(col)]
        if ok.size:
            lo[j], hi[j] = np.quantile(ok, [alpha, 1 - alpha])
    return lo, hi


def _interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    lo, hi = intervals(samples, confidence)
    return float(lo), float(hi)


def _p_value(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value for 'no difference', consistent with the
    percentile CI: twice the smaller tail, counted as (1 + resamples on that side
    of zero) / (1 + resamples), so B resamples can never claim p = 0: the floor
    is 2 / (B + 1) (Davison & Hinkley 1997, 4.4)."""
    import numpy as np

    return float(p_values(np.asarray(deltas, dtype=np.float64).reshape(-1, 1))[0])


def p_values(deltas: np.ndarray) -> np.ndarray:
    """_p_value of each column of (resamples, m) deltas, at once; 1 for a column
    of exact zeros (two identical models), NaN for one with no finite value."""
    import numpy as np

    finite = np.isfinite(deltas)
    n = finite.sum(axis=0)
    below = ((deltas <= 0) & finite).sum(axis=0)
    above = ((deltas >= 0) & finite).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.minimum(1.0, 2 * (np.minimum(below, above) + 1) / (n + 1))
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
    scored: Scored,
    names: list[str],
    resamples: int,
    confidence: float,
    seed: int,
    shared: Shared | None = None,
) -> dict[str, Estimate]:
    """Point estimates with percentile bootstrap intervals for one model."""
    (r,) = resample([scored], names, resamples, seed, shared)
    return estimates_of(r, confidence)


def estimates_of(r: Resampled, confidence: float) -> dict[str, Estimate]:
    """Point estimates with percentile intervals of one model's resamples."""
    return {n: Estimate(v, *_interval(r.samples[n], confidence)) for n, v in r.point.items()}


def paired_deltas(
    candidate: Scored,
    baseline: Scored,
    names: list[str],
    resamples: int,
    confidence: float,
    seed: int,
    shared: Shared | None = None,
) -> dict[str, Delta]:
    """Candidate minus baseline for each metric, on the same bootstrap resamples."""

    c, b = resample([candidate, baseline], names, resamples, seed, shared)
    return deltas_of(c, b, names, confidence, lambda name: tail_of(candidate, baseline, name))


def deltas_of(
    c: Resampled,
    b: Resampled,
    names: list[str],
    confidence: float,
    tail: Callable[[str], str | None],
) -> dict[str, Delta]:
    """`paired_deltas` from the two models' resamples (the same weights);
    `tail(name)`: why a metric's interval cannot be trusted (tail_of)."""
    out = {}
    for name in names:
        if name not in c.point or name not in b.point:
            continue
        m = METRICS[name]
        d_samples = c.samples[name] - b.samples[name]
        lo, hi = _interval(d_samples, confidence)
        # Two identical models' delta is exactly zero, whatever their tails.
        problem = None if not d_samples.any() else tail(name)
        out[name] = Delta(
            metric=name,
            greater_is_better=m.greater_is_better,
            candidate=Estimate(c.point[name], *_interval(c.samples[name], confidence)),
            baseline=Estimate(b.point[name], *_interval(b.samples[name], confidence)),
            delta=c.point[name] - b.point[name],
            ci_low=lo,
            ci_high=hi,
            p_value=_p_value(d_samples),
            verdict="unreliable" if problem else verdict(lo, hi, m.greater_is_better),
            unreliable=problem,
        )
    return out


def tail_of(candidate: Scored, baseline: Scored, name: str) -> str | None:
    """Why the paired interval of `name` cannot be trusted, for either model."""

    for who, s in (("the candidate", candidate), ("the baseline", baseline)):
        problem = tail_problem(s, name)
        if problem:
            return f"{who}: {problem}"
    return None


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


class McNemarTest(TypedDict):
    test: str
    candidate_only_correct: int
    baseline_only_correct: int
    p_value: float


class PairedTTest(TypedDict):
    test: str
    statistic: float
    p_value: float
    mean_difference: float


def mcnemar_exact(candidate_correct: np.ndarray, baseline_correct: np.ndarray) -> McNemarTest:
    """McNemar's exact test on paired correctness (binomial on the discordant pairs).

    scipy.stats is imported anyway in the runs that compare a classifier (the
    safeguards' skew check), so its binomtest costs no import of its own."""
    import numpy as np

    b = int(np.sum(candidate_correct & ~baseline_correct))  # only the candidate right
    c = int(np.sum(~candidate_correct & baseline_correct))  # only the baseline right
    return mcnemar_counts(b, c)


def mcnemar_counts(b: int, c: int) -> McNemarTest:
    """McNemar's exact test from its two discordant counts: rows only the
    candidate gets right (b), rows only the baseline does (c)."""
    from scipy.stats import binomtest

    p = 1.0 if b + c == 0 else float(binomtest(min(b, c), b + c, 0.5).pvalue)
    return {
        "test": "mcnemar_exact",
        "candidate_only_correct": b,
        "baseline_only_correct": c,
        "p_value": p,
    }


def loss_differences(candidate_err: np.ndarray, baseline_err: np.ndarray) -> np.ndarray:
    """(n, 2) per-row differences of the losses, candidate minus baseline: squared
    error, absolute error (their sums and sums of squares give the paired t-tests)."""
    import numpy as np

    c, b = candidate_err.astype(np.float64), baseline_err.astype(np.float64)
    return np.column_stack([c**2 - b**2, np.abs(c) - np.abs(b)])


def paired_t_from_sums(total: float, squares: float, n: int, kind: str) -> PairedTTest:
    """The paired t-test of per-row differences known by their sum, the sum of
    their squares and their number (summed partition by partition): what
    scipy's ttest_rel gives on the rows themselves; p = 1 when every difference
    is zero (two identical models)."""
    import math

    from scipy.stats import t as student

    name = f"paired_t_{kind}_error"
    mean = total / n if n else 0.0
    var = (squares - n * mean * mean) / (n - 1) if n > 1 else 0.0
    if squares == 0 or var <= 0:
        return {"test": name, "statistic": 0.0, "p_value": 1.0, "mean_difference": mean}
    stat = mean / math.sqrt(var / n)
    p = float(2 * student.sf(abs(stat), n - 1))
    return {"test": name, "statistic": stat, "p_value": p, "mean_difference": mean}


def paired_error_test(
    candidate_err: np.ndarray, baseline_err: np.ndarray, kind: str
) -> PairedTTest:
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
