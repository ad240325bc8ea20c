"""Coverage of the bootstrap intervals, by simulation against known truths.

Three setups, each a candidate and a baseline model scored on the same rows:
binary and 3-class classification, regression. A setup's generator is a
population of POP rows drawn once from a continuous model; a holdout is drawn
from it with replacement. So the true value of a metric is its value on the
whole population (scikit-learn), the limit of a very large sample, and the
true delta is the difference of the two models' true values.

At n = 200 (exact bootstrap) coverage is counted: the share of R_SMALL
replications whose 95 % interval holds the truth, every interval computed by
ci-ml's resampling. Replications are vectorised: a 40th of them (all setups)
go through one `resample` call and share its resample weights; the data of
every replication are independent.

At n = 50,000 (20,000 blocks of 2 or 3 rows) a bootstrap costs seconds, so
counting over a thousand replications is out of reach. There an interval is
[estimate - a, estimate + b] with offsets a, b that hardly depend on the
sample (1.96 standard errors, up to O(n^-1/2)): coverage is P(estimate in
[truth - b, truth + a]). The offsets come from R_OFFSETS replications through
ci-ml's block bootstrap; the estimate's distribution from R_ESTIMATES cheap
replications (a holdout drawn from a population is a vector of row counts,
its metrics are weighted sums; checked against scikit-learn below); coverage
is averaged over every pair of the two.

Monte Carlo standard error of a coverage near 94 %: about 0.75 point at
n = 200 for classification, 0.45 for regression (whose RMSE and R2 intervals
cover about 93 % at 200 rows, so it gets more replications), 0.6 at n = 50,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn import metrics as skm
from threadpoolctl import threadpool_limits

from ci_ml.stats.bootstrap import intervals, resample
from ci_ml.stats.metrics import DEFAULTS, METRICS, Scored, component_blocks

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

POP = 4_000
N_SMALL, B_SMALL = 200, 400
R_SMALL = {"binary": 1_000, "3-class": 1_000, "regression": 3_000}  # regression is cheap
N_LARGE, R_OFFSETS, R_ESTIMATES, B_LARGE = 50_000, 3, 1_500, 1_000
CHUNKS = 40  # resample calls; their replications share resample weights
CONFIDENCE = 0.95
BOUNDS = (0.91, 0.98)
PARTS = ("candidate", "baseline", "delta")


@dataclass
class Setup:
    name: str
    cand: Scored  # the population, scored by each model
    base: Scored
    truth: dict[str, dict[str, float]] = field(default_factory=dict)  # metric -> part -> value

    @property
    def names(self) -> list[str]:
        return DEFAULTS[self.cand.task]


def _sklearn(s: Scored, name: str, weight: np.ndarray | None = None) -> float:
    w = {"sample_weight": weight}
    if name == "roc_auc":
        if s.proba.shape[1] == 2:
            return skm.roc_auc_score(s.y, s.proba[:, 1], **w)
        return skm.roc_auc_score(s.y, s.proba, multi_class="ovr", **w)
    fn = {
        "accuracy": lambda: skm.accuracy_score(s.y, s.pred, **w),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(s.y, s.pred, **w),
        "f1_macro": lambda: skm.f1_score(s.y, s.pred, average="macro", **w),
        "precision_macro": lambda: skm.precision_score(s.y, s.pred, average="macro", **w),
        "recall_macro": lambda: skm.recall_score(s.y, s.pred, average="macro", **w),
        "log_loss": lambda: skm.log_loss(s.y, s.proba, labels=s.classes, **w),
        "rmse": lambda: skm.root_mean_squared_error(s.y, s.pred, **w),
        "mae": lambda: skm.mean_absolute_error(s.y, s.pred, **w),
        "r2": lambda: skm.r2_score(s.y, s.pred, **w),
    }[name]
    return float(fn())


def _population(kind: str) -> Setup:
    rng = np.random.default_rng({"binary": 10, "3-class": 11, "regression": 12}[kind])
    if kind == "regression":
        x = rng.normal(size=POP)
        signal = 3 + 2 * x + 0.5 * x**2
        y = signal + (1 + 0.5 * np.abs(x)) * rng.normal(size=POP)
        cand = Scored("regression", y, signal + 0.3 * rng.normal(size=POP))
        base = Scored("regression", y, 3.2 + 2.1 * x + 0.4 * x**2 + 0.3 * rng.normal(size=POP))
    elif kind == "binary":
        y = (rng.random(POP) < 0.35).astype(np.int64)
        z = rng.normal(size=POP) + 1.4 * y

        def model(noise: float, scale: float) -> Scored:
            p = expit(scale * (z + noise * rng.normal(size=POP) - 0.7))
            proba = np.stack([1 - p, p], axis=1)
            return Scored("classification", y, (p > 0.5).astype(np.int64), proba, [0, 1])

        cand, base = model(0.4, 1.5), model(0.8, 1.2)
    else:
        y = rng.choice(3, size=POP, p=[0.5, 0.3, 0.2])
        z = 1.6 * np.eye(3)[y] + rng.normal(size=(POP, 3))

        def model(noise: float, scale: float) -> Scored:
            proba = softmax(scale * (z + noise * rng.normal(size=(POP, 3))), axis=1)
            return Scored("classification", y, proba.argmax(1), proba, [0, 1, 2])

        cand, base = model(0.5, 1.3), model(0.9, 1.0)
    setup = Setup(kind, cand, base)
    for name in setup.names:
        c, b = _sklearn(cand, name), _sklearn(base, name)
        setup.truth[name] = {"candidate": c, "baseline": b, "delta": c - b}
    return setup


def _rows(s: Scored, idx: np.ndarray) -> Scored:
    proba = None if s.proba is None else s.proba[idx]
    return Scored(s.task, s.y[idx], s.pred[idx], proba, s.classes)


def _weighted_auc(s: Scored, counts: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest ROC AUC of each holdout given as population row counts
    (r, POP), ties counting half; scikit-learn's definition, written out."""
    k = s.proba.shape[1]
    per_class = []
    for c in [1] if k == 2 else range(k):
        score = s.proba[:, c]
        order = np.argsort(score, kind="stable")
        w, pos = counts[:, order], s.y[order] == c
        first = np.flatnonzero(np.r_[True, np.diff(score[order]) != 0])
        if first.size < score.size:  # ties: one weight per distinct score
            wp = np.add.reduceat(w * pos, first, axis=1)
            wn = np.add.reduceat(w * ~pos, first, axis=1)
            below = np.cumsum(wn, axis=1) - wn
            pairs = (wp * (below + 0.5 * wn)).sum(1)
        else:
            wp, wn = w[:, pos], w * ~pos
            pairs = (wp * np.cumsum(wn, axis=1)[:, pos]).sum(1)
        per_class.append(pairs / (wp.sum(1) * wn.sum(1)))
    return np.mean(per_class, axis=0)


def _weighted_metrics(s: Scored, names: list[str], counts: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric of each holdout given as population row counts: every metric
    but the AUC is a function of plain sums, so counts @ components gives it."""
    parts, where = component_blocks(s, [n for n in names if n != "roc_auc"])
    sums = counts @ parts.matrix
    out = {n: np.asarray(METRICS[n].value(sums[:, sl])) for n, sl in where.items()}
    if "roc_auc" in names:
        out["roc_auc"] = _weighted_auc(s, counts)
    return out


def _small(setups: list[Setup], seed: int) -> dict[tuple[str, str, str], float]:
    """Counted coverage at N_SMALL rows."""
    rng = np.random.default_rng(seed)
    names = [n for s in setups for n in s.names]
    hits: dict[tuple[str, str, str], int] = {}
    for chunk in range(CHUNKS):
        models = []
        for s in setups:
            for _ in range(R_SMALL[s.name] // CHUNKS):
                idx = rng.integers(0, POP, N_SMALL)
                models += [_rows(s.cand, idx), _rows(s.base, idx)]
        res = iter(resample(models, names, B_SMALL, seed=seed + chunk))
        keys, samples, truths = [], [], []
        for s in setups:
            r = R_SMALL[s.name] // CHUNKS
            pairs = [(next(res), next(res)) for _ in range(r)]
            for name in s.names:
                c = np.stack([rc.samples[name] for rc, _ in pairs], axis=1)
                b = np.stack([rb.samples[name] for _, rb in pairs], axis=1)
                for part, x in zip(PARTS, (c, b, c - b), strict=True):
                    keys.append((s.name, name, part, r))
                    samples.append(x)
                    truths.append(np.full(r, s.truth[name][part]))
        lo, hi = intervals(np.hstack(samples), CONFIDENCE)
        truth = np.concatenate(truths)
        inside = np.split((lo <= truth) & (truth <= hi), np.cumsum([k[3] for k in keys])[:-1])
        for key, h in zip(keys, inside, strict=True):
            hits[key[:3]] = hits.get(key[:3], 0) + int(h.sum())
    return {key: h / R_SMALL[key[0]] for key, h in hits.items()}


def _large(setups: list[Setup], seed: int) -> dict[tuple[str, str, str], float]:
    """Coverage at N_LARGE rows: interval offsets from ci-ml's block bootstrap,
    crossed with the estimate's distribution."""
    rng = np.random.default_rng(seed)
    names = [n for s in setups for n in s.names]
    offsets: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for i in range(R_OFFSETS):
        models = []
        for s in setups:
            idx = rng.integers(0, POP, N_LARGE)
            models += [_rows(s.cand, idx), _rows(s.base, idx)]
        res = iter(resample(models, names, B_LARGE, seed=seed + i))
        for s in setups:
            rc, rb = next(res), next(res)
            for name in s.names:
                c, b = rc.samples[name], rb.samples[name]
                lo, hi = intervals(np.stack([c, b, c - b], axis=1), CONFIDENCE)
                point = (rc.point[name], rb.point[name], rc.point[name] - rb.point[name])
                for j, part in enumerate(PARTS):
                    offsets.setdefault((s.name, name, part), []).append(
                        (point[j] - lo[j], hi[j] - point[j])
                    )
    counts = rng.multinomial(N_LARGE, np.full(POP, 1 / POP), size=R_ESTIMATES).astype(float)
    out = {}
    for s in setups:
        c = _weighted_metrics(s.cand, s.names, counts)
        b = _weighted_metrics(s.base, s.names, counts)
        for name in s.names:
            for part, est in zip(PARTS, (c[name], b[name], c[name] - b[name]), strict=True):
                est = np.sort(est)
                truth = s.truth[name][part]
                a, b_ = np.array(offsets[(s.name, name, part)]).T
                held = np.searchsorted(est, truth + a, "right") - np.searchsorted(
                    est, truth - b_, "left"
                )
                out[(s.name, name, part)] = float(held.mean() / est.size)
    return out


@pytest.fixture(scope="module")
def setups() -> list[Setup]:
    return [_population(k) for k in ("binary", "3-class", "regression")]


@pytest.mark.slow  # the simulated setups take a minute
@pytest.mark.no_cover  # a simulation: the same lines thousands of times
def test_weighted_holdouts_are_the_estimator(setups: list[Setup]) -> None:
    """The estimate's distribution at N_LARGE is built from row counts: each is
    the metric of the holdout that repeats every population row that often."""
    counts = np.random.default_rng(0).multinomial(N_LARGE, np.full(POP, 1 / POP), size=2)
    for s in setups:
        for model in (s.cand, s.base):
            got = _weighted_metrics(model, s.names, counts.astype(float))
            for name in s.names:
                for r in range(2):
                    want = _sklearn(model, name, counts[r])
                    assert got[name][r] == pytest.approx(want, rel=1e-9, abs=1e-12), name


def table(small: dict, large: dict) -> str:
    rows = [
        "| setup | metric | n | candidate | baseline | delta |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key in dict.fromkeys(k[:2] for k in small):
        for n, cov in ((N_SMALL, small), (N_LARGE, large)):
            cells = " | ".join(f"{100 * cov[(*key, p)]:.1f}" for p in PARTS)
            rows.append(f"| {key[0]} | {key[1]} | {n:,} | {cells} |")
    return "\n".join(rows)


@pytest.mark.slow  # a simulation
@pytest.mark.no_cover
def test_every_interval_covers_its_truth_95_percent_of_the_time(setups: list[Setup]) -> None:
    with threadpool_limits(1, user_api="blas"):  # small products: more threads only spin
        small, large = _small(setups, seed=1), _large(setups, seed=2)
    bad = [
        f"{k} at n={n:,}: {100 * v:.1f} %"
        for n, cov in ((N_SMALL, small), (N_LARGE, large))
        for k, v in cov.items()
        if not BOUNDS[0] <= v <= BOUNDS[1]
    ]
    assert not bad, "coverage outside 91-98 %:\n" + "\n".join(bad) + "\n" + table(small, large)


@pytest.mark.slow
def test_a_model_with_exact_zero_probabilities_has_its_log_loss_flagged_not_trusted() -> None:
    """Issue 22, 7: a tree whose leaves say probability 0 for the true class costs
    the clipping bound (~36) on the rare rows that hit them; a 200-row holdout
    mostly has none, so the percentile interval misses the true log loss far more
    often than 5 % of the time. ci-ml cannot see what the sample lacks: it must
    flag the metric (and the paired delta) in every replication, never trust it."""
    from ci_ml.stats.bootstrap import paired_deltas
    from ci_ml.stats.metrics import tail_problem

    rng = np.random.default_rng(22)
    x = rng.normal(size=POP * 10)
    y = (rng.random(x.size) < expit(2 * x)).astype(np.int64)
    smooth = np.clip(expit(2 * x + rng.normal(scale=0.3, size=x.size)), 0.02, 0.98)
    tree = np.where(x < -1.5, 0.0, np.where(x > 1.5, 1.0, smooth))  # pure leaves

    def scored(p1: np.ndarray, rows: np.ndarray) -> Scored:
        proba = np.column_stack([1 - p1[rows], p1[rows]])
        return Scored("classification", y[rows], proba.argmax(1), proba, [0, 1])

    everyone = np.arange(x.size)
    truth = skm.log_loss(y, np.column_stack([1 - tree, tree]))
    covered = flagged = paired_flagged = 0
    reps = 200
    for r in range(reps):
        rows = rng.integers(0, x.size, N_SMALL)
        base, cand = scored(tree, rows), scored(smooth, rows)
        (res,) = resample([base], ["log_loss"], B_SMALL, seed=r)
        lo, hi = intervals(res.samples["log_loss"].reshape(-1, 1), CONFIDENCE)
        covered += bool(lo[0] <= truth <= hi[0])
        flagged += tail_problem(base, "log_loss") is not None
        d = paired_deltas(cand, base, ["log_loss"], B_SMALL, CONFIDENCE, seed=r)["log_loss"]
        paired_flagged += d.verdict == "unreliable" and d.unreliable is not None
    assert tail_problem(scored(smooth, everyone), "log_loss") is None  # the smooth model is fine
    assert covered / reps < 0.9, "the setup no longer shows the problem it is about"
    assert flagged == reps and paired_flagged == reps
