"""Metrics, written as functions of sums of per-row components.

Every metric is `value(sums)` where `sums` are column sums of a per-row
component matrix. The point estimate is `value(components.sum(0))`; a
bootstrap resample is `value(weights @ components)`; so one definition serves
both, and a thousand resamples cost one matrix product (see ci_ml.stats.bootstrap).

ROC AUC is the one metric that is not a plain sum: it is a count of
(positive, negative) pairs ranked the right way over the product of the two
class sizes. Its pair column (`Pairs`) is summed like any other on the full
sample; on a resample its weighted pair count is computed exactly from the
row weights (small holdouts), or from the Hajek projection of the pairs, a
function of four per-row sums (larger ones, and blocks of rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Scored:
    """One model's predictions on the holdout rows, labels encoded as 0..K-1."""

    task: str
    y: np.ndarray  # (n,) int class index, or float target
    pred: np.ndarray  # (n,) int class index, or float prediction
    proba: np.ndarray | None = None  # (n, K) for classifiers
    classes: list[object] | None = None
    # Regression: where the target is centred for its sums of squares (None: its
    # mean). Partitions summed together need one centre (any constant gives R²).
    centre: float | None = None


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    greater_is_better: bool
    needs_proba: bool
    label: str
    # block: the per-row component columns; value(sums (..., k)) -> (...)
    components: Block
    value: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Block:
    """Per-row component columns that metrics share: how many a Scored needs, and
    how to write them into an (n, width) view of the one component matrix (so no
    column is copied into it afterwards). `fill` returns the view's pair columns."""

    width: Callable[[Scored], int]
    fill: Callable[[Scored, np.ndarray], dict[int, Pairs]]


# --- components -------------------------------------------------------------


def _confusion_fill(s: Scored, out: np.ndarray) -> dict[int, Pairs]:
    """[true one-hot (K) | predicted one-hot (K) | true positive one-hot (K)]"""
    import numpy as np

    k, n = len(s.classes or []), s.y.shape[0]
    out[:] = 0.0
    rows = np.arange(n)
    out[rows, s.y] = 1.0
    out[rows, k + s.pred] = 1.0
    out[rows, 2 * k + s.y] = s.y == s.pred
    return {}


def _split3(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = sums.shape[-1] // 3
    return sums[..., :k], sums[..., k : 2 * k], sums[..., 2 * k :]


def _macro(per_class: np.ndarray, present: np.ndarray) -> np.ndarray:
    import numpy as np

    present = present.astype(bool)
    num = np.where(present, per_class, 0.0).sum(-1)
    return num / np.maximum(present.sum(-1), 1)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape), where=b > 0)


def _precision(sums: np.ndarray) -> np.ndarray:
    t, p, tp = _split3(sums)
    return _macro(_safe_div(tp, p), (t + p) > 0)


def _recall(sums: np.ndarray) -> np.ndarray:
    t, p, tp = _split3(sums)
    return _macro(_safe_div(tp, t), (t + p) > 0)


def _f1(sums: np.ndarray) -> np.ndarray:
    t, p, tp = _split3(sums)
    return _macro(_safe_div(2 * tp, t + p), (t + p) > 0)


def _balanced_accuracy(sums: np.ndarray) -> np.ndarray:
    t, _, tp = _split3(sums)
    return _macro(_safe_div(tp, t), t > 0)


def _accuracy_fill(s: Scored, out: np.ndarray) -> dict[int, Pairs]:
    """[correct, 1]"""

    out[:, 0] = s.y == s.pred
    out[:, 1] = 1.0
    return {}


def _ratio(sums: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.divide(sums[..., 0], np.maximum(sums[..., 1], 1e-300))


def _log_loss_fill(s: Scored, out: np.ndarray) -> dict[int, Pairs]:
    """[-log p(true class), 1]"""
    import numpy as np

    assert s.proba is not None
    proba = s.proba
    eps = np.finfo(proba.dtype).eps  # the clipping sklearn's log_loss applies
    p_true = np.clip(proba[np.arange(s.y.shape[0]), s.y], eps, 1 - eps)
    out[:, 0] = -np.log(p_true)
    out[:, 1] = 1.0
    return {}


def _ranks(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, ...]:
    """One sort: the rows by ascending score, whether each is positive, how many
    sorted rows lie strictly below its score and at or below it (they differ
    only for ties), and how many of those are positive."""
    import numpy as np

    n = positive.shape[0]
    order = np.argsort(score)
    s, pos = score[order], positive[order]
    pos_upto = np.zeros(n + 1, dtype=np.int64)  # positives among the first i sorted rows
    np.cumsum(pos, out=pos_upto[1:])
    tied = s[1:] == s[:-1]
    if not tied.any():
        lo = np.arange(n)
        return order, pos, lo, lo, pos_upto[:-1], pos_upto[:-1]
    new = np.concatenate([[True], ~tied])
    run = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    lo, hi = first[run], np.concatenate([first[1:], [n]])[run]
    return order, pos, lo, hi, pos_upto[lo], pos_upto[hi]


def _count_rows(*ranks: np.ndarray) -> tuple[np.ndarray, ...]:
    order, pos, lo, hi, pos_lo, pos_hi = ranks
    return order[~pos], order[pos], (lo - pos_lo)[pos], (hi - pos_hi)[pos]


class Pairs:
    """The pair count behind one ROC AUC: the sum over (positive i, negative j)
    of w_i * w_j * [s_i > s_j], ties counting half, for row weights w. The AUC
    is pairs / (positives * negatives), each weighted.

    In the component matrix a pair column holds each positive's count of
    negatives below it, so that its plain sum is the full sample's pair count
    (`ranked`). A resample is not a plain sum: `PairCounter` counts the pairs
    for the resample's row weights; `project` gives the Hajek projection from
    the weighted sums of the four columns [pairs, pos, neg, neg_pairs], for when
    blocks of rows are resampled and row weights are not at hand."""

    # Up to this many rows `ranked` keeps the index arrays that exact pair
    # counting needs (it counts up to bootstrap.EXACT_PAIRS rows).
    KEEP_ROWS = 1 << 13

    def __init__(self, score: np.ndarray, positive: np.ndarray, total: float) -> None:
        self.score, self.positive, self.total = score, positive, total
        self.n_pos = int(positive.sum())
        self.n_neg = positive.shape[0] - self.n_pos
        self._rows: tuple[np.ndarray, ...] | None = None
        self._index: np.ndarray | None = None  # the rows' names in a larger table (on_rows)
        # False when resampled as blocks of rows: its pairs can then only be projected.
        self.countable = True

    @classmethod
    def counted(cls, total: float, n_pos: int, n_neg: int) -> Pairs:
        """Pairs known by their counts alone (counted on a cluster, partition by
        partition: ci_ml.stats.ranks): projected on a resample, never counted."""
        import numpy as np

        pairs = cls(np.zeros(0), np.zeros(0, dtype=bool), total)
        pairs.n_pos, pairs.n_neg, pairs.countable = n_pos, n_neg, False
        return pairs

    def same_as(self, other: Pairs) -> bool:
        """Counted from the same scores and labels: every pair count is the same."""
        import numpy as np

        return (
            self.countable == other.countable
            and (self.total, self.n_pos, self.n_neg) == (other.total, other.n_pos, other.n_neg)
            and np.array_equal(self.score, other.score)
            and np.array_equal(self.positive, other.positive)
        )

    @classmethod
    def ranked(
        cls, score: np.ndarray, positive: np.ndarray, out: np.ndarray | None = None
    ) -> tuple[Pairs, np.ndarray]:
        """The Pairs of a score and its (n, 4) columns: [negatives below each
        positive, positive, negative, positives above each negative]; ties
        count half. The first and the last column both sum to the pair count.
        The columns are written into `out` when it is given (an (n, 4) view)."""
        import numpy as np

        order, pos, lo, hi, pos_lo, pos_hi = _ranks(score, positive)
        n = pos.shape[0]
        rank = np.empty(n, dtype=np.intp)
        rank[order] = np.arange(n)  # row i is the rank[i]-th by score
        # Negatives below (rows below - positives below) and positives above, in
        # score order, read back in row order through `rank` (cheaper than
        # scattering whole rows); ties count half: the mean of "strictly below"
        # and "at or below"
        if lo is hi:  # no ties: row i has rank[i] rows below it
            pos_below = pos_lo[rank]
            neg_below, pos_above = rank - pos_below, pos.sum() - pos_below
        else:
            neg_below = (0.5 * (lo + hi - pos_lo - pos_hi))[rank]
            pos_above = (pos.sum() - 0.5 * (pos_lo + pos_hi))[rank]
        if out is None:
            out = np.empty((n, 4))
        out[:, 0] = neg_below * positive
        out[:, 1] = positive
        out[:, 2] = ~positive
        out[:, 3] = pos_above * ~positive
        total = float(out[:, 0].sum())  # half-integers: exact in any order
        pairs = cls(score, positive, total)
        if pos.shape[0] <= cls.KEEP_ROWS:
            pairs._rows = _count_rows(order, pos, lo, hi, pos_lo, pos_hi)
        return pairs, out

    def rows(self) -> tuple[np.ndarray, ...]:
        """For counting: negative rows by ascending score, positive rows, and per
        positive the negatives strictly below it and at or below it."""
        if self._rows is None:
            self._rows = self._named(_count_rows(*_ranks(self.score, self.positive)))
        return self._rows

    def on_rows(self, index: np.ndarray) -> Pairs:
        """These pairs with their rows named by `index`: the rows of a larger table
        that a subset (a slice) was taken from, so row weights of the whole table
        count them."""
        self._index = index
        if self._rows is not None:
            neg, pos, *rest = self._rows
            self._rows = (index[neg], index[pos], *rest)
        return self

    def _named(self, rows: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        if self._index is None:
            return rows
        neg, pos, *rest = rows
        return (self._index[neg], self._index[pos], *rest)

    def project(self, sums: np.ndarray) -> np.ndarray:
        """Hajek projection of the weighted pair count from the weighted sums
        (..., 4) of the columns from `ranked`: AUC* = mean positive placement +
        mean negative placement - AUC, times the weighted class sizes. First
        order in the weights, like the DeLong variance."""
        import numpy as np

        if self.n_pos == 0 or self.n_neg == 0:
            return np.zeros(sums.shape[:-1])
        pairs, pos, neg, neg_pairs = np.moveaxis(sums, -1, 0)
        auc = self.total / (self.n_pos * self.n_neg)
        return pairs * neg / self.n_neg + neg_pairs * pos / self.n_pos - auc * pos * neg


class PairCounter:
    """Counts the weighted pairs of many `Pairs` (same rows) for batches of row
    weights: one cumulative sum over the negatives' weights in score order, read
    at each positive. The index arrays are laid out once; the Pairs are taken in
    chunks of about `cells` (rows x batch) so the temporaries stay in cache."""

    def __init__(self, pairs: list[Pairs], batch: int, cells: int = 100_000) -> None:
        import numpy as np

        self.m = len(pairs)
        self.chunks = []
        i = 0
        while i < len(pairs):
            j, rows = i + 1, pairs[i].positive.shape[0]
            while j < len(pairs) and (rows + pairs[j].positive.shape[0]) * batch <= cells:
                rows += pairs[j].positive.shape[0]
                j += 1
            chunk = pairs[i:j]
            n_neg = np.array([p.n_neg for p in chunk])
            n_pos = np.array([p.n_pos for p in chunk])
            neg_rows, pos_rows, below, at_or_below = (
                np.concatenate(part) for part in zip(*(p.rows() for p in chunk), strict=True)
            )
            # The negatives of all Pairs side by side, one run each: a running
            # total read at a positive counts the runs before its own too, which
            # is taken off once per Pairs (its total positive weight times that).
            starts = np.concatenate([[0], np.cumsum(n_neg)[:-1]])
            offset = np.repeat(starts, n_pos)
            below, at_or_below = below + offset, at_or_below + offset
            has = n_pos > 0
            self.chunks.append(
                (
                    slice(i, j),
                    neg_rows,
                    below,
                    None if np.array_equal(below, at_or_below) else at_or_below,  # no ties
                    pos_rows,
                    np.concatenate([[0], np.cumsum(n_pos)[:-1]])[has],
                    starts[has],
                    has,
                )
            )
            i = j

    def __call__(self, weights: np.ndarray) -> np.ndarray:
        """(b, m) pair counts for row weights (b, n)."""
        import numpy as np

        b = weights.shape[0]
        out = np.zeros((b, self.m))
        for where, neg, below, at_or_below, pos, first, starts, has in self.chunks:
            if not first.size:
                continue
            running = np.empty((b, neg.size + 1))
            running[:, 0] = 0.0
            np.cumsum(weights[:, neg], axis=1, out=running[:, 1:])
            credit = running[:, below]
            if at_or_below is not None:  # ties count half
                credit += running[:, at_or_below]
                credit *= 0.5
            wp = weights[:, pos]
            credit *= wp
            counts = np.add.reduceat(credit, first, axis=1)
            counts -= running[:, starts] * np.add.reduceat(wp, first, axis=1)
            sub = out[:, where]
            sub[:, has] = counts
            out[:, where] = sub
        return out


def pair_counts(weights: np.ndarray, pairs: list[Pairs], cells: int = 100_000) -> np.ndarray:
    """(b, m): the exact weighted pair count of each `pairs` for each row of
    row weights (b, n)."""
    return PairCounter(pairs, weights.shape[0], cells)(weights)


@dataclass
class Parts:
    """A metric's per-row components, with the columns that are pair counts."""

    matrix: np.ndarray
    pairs: dict[int, Pairs]


def auc_columns(s: Scored) -> list[int]:
    """The probability columns ROC AUC ranks by: the positive class's (binary),
    else every class's (one-vs-rest)."""
    assert s.proba is not None
    return [1] if s.proba.shape[1] == 2 else list(range(s.proba.shape[1]))


def _auc_fill(s: Scored, out: np.ndarray) -> dict[int, Pairs]:
    """Per class c (one-vs-rest; one column set for binary):
    [pairs, pos, neg, neg_pairs] (see Pairs.ranked)."""
    assert s.proba is not None
    pairs = {}
    for i, c in enumerate(auc_columns(s)):
        pairs[4 * i], _ = Pairs.ranked(s.proba[:, c], s.y == c, out[:, 4 * i : 4 * i + 4])
    return pairs


def _auc(sums: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC: per class, pairs / (positives * negatives). As in
    scikit-learn (`roc_auc_score(multi_class="ovr")`), it is undefined (NaN) when a
    class has no row, or every row, in the holdout (or in a resample): a macro
    average over fewer classes would not be the same metric from one build to the
    next."""
    import numpy as np

    k = sums.shape[-1] // 4
    s = sums.reshape(*sums.shape[:-1], k, 4)
    pos, neg = s[..., 1], s[..., 2]
    valid = (pos > 0) & (neg > 0)
    # The Hajek projection of a resample can step past [0, 1]; the AUC cannot.
    per_class = np.clip(_safe_div(s[..., 0], pos * neg), 0.0, 1.0)
    return np.where(valid.all(-1), _macro(per_class, valid), np.nan)


def _reg_fill(s: Scored, out: np.ndarray) -> dict[int, Pairs]:
    """[squared error, absolute error, centred target, its square, 1]"""
    import numpy as np

    y = s.y.astype(np.float64)
    e = s.pred.astype(np.float64) - y
    # centred once on the full sample (or at the centre the partitions share):
    # stable sums of squares
    yc = y - (y.mean() if s.centre is None else s.centre)
    out[:, 0] = e * e
    out[:, 1] = np.abs(e)
    out[:, 2] = yc
    out[:, 3] = yc * yc
    out[:, 4] = 1.0
    return {}


def class_parts(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(n, 3k) per-row columns: in class c, right about class c, predicted as c."""
    import numpy as np

    cls = np.arange(k)
    in_class = y[:, None] == cls
    predicted = pred[:, None] == cls
    return np.hstack([in_class, in_class & (pred == y)[:, None], predicted]).astype(np.float64)


ACCURACY = Block(lambda s: 2, _accuracy_fill)
CONFUSION = Block(lambda s: 3 * len(s.classes or []), _confusion_fill)
LOG_LOSS = Block(lambda s: 2, _log_loss_fill)
AUC = Block(lambda s: 4 * len(auc_columns(s)), _auc_fill)
REGRESSION = Block(lambda s: 5, _reg_fill)


def _rmse(sums: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.sqrt(sums[..., 0] / sums[..., 4])


def _mae(sums: np.ndarray) -> np.ndarray:
    return sums[..., 1] / sums[..., 4]


def _r2(sums: np.ndarray) -> np.ndarray:
    import numpy as np

    n = sums[..., 4]
    sst = sums[..., 3] - sums[..., 2] ** 2 / n
    return np.where(sst > 0, 1.0 - sums[..., 0] / np.where(sst > 0, sst, 1.0), np.nan)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", "classification", True, False, "Accuracy", ACCURACY, _ratio),
        Metric(
            "balanced_accuracy",
            "classification",
            True,
            False,
            "Balanced accuracy",
            CONFUSION,
            _balanced_accuracy,
        ),
        Metric("f1_macro", "classification", True, False, "F1 (macro)", CONFUSION, _f1),
        Metric(
            "precision_macro",
            "classification",
            True,
            False,
            "Precision (macro)",
            CONFUSION,
            _precision,
        ),
        Metric(
            "recall_macro",
            "classification",
            True,
            False,
            "Recall (macro)",
            CONFUSION,
            _recall,
        ),
        Metric("roc_auc", "classification", True, True, "ROC AUC", AUC, _auc),
        Metric("log_loss", "classification", False, True, "Log loss", LOG_LOSS, _ratio),
        Metric("rmse", "regression", False, False, "RMSE", REGRESSION, _rmse),
        Metric("mae", "regression", False, False, "MAE", REGRESSION, _mae),
        Metric("r2", "regression", True, False, "R²", REGRESSION, _r2),
    ]
}
TASKS = ("classification", "regression")
# Every metric of a task, in the registry's order, is the default list.
DEFAULTS = {task: [n for n, m in METRICS.items() if m.task == task] for task in TASKS}


# The metric a reviewer reads first when the config names none and no gate does.
HEADLINES = {"classification": ["roc_auc", "accuracy"], "regression": ["rmse"]}


def _why_not(name: str, task: str, task_note: str) -> str:
    m = METRICS.get(name)
    if m is None:
        return f"{name!r} is not a metric ci-ml computes"
    return f"{name!r} is a {m.task} metric, but the task is {task}{task_note}"


def select(
    task: str,
    names: list[str] | None,
    primary: str | None,
    gate_metrics: list[str] = (),  # type: ignore[assignment]
    task_note: str = "",
) -> tuple[list[str], str]:
    """The metric list and the primary (headline) metric for a task, checked.

    The primary metric is `metrics.primary`, else the first gate's metric, else
    the task's usual headline (ROC AUC, then accuracy; RMSE). `task_note` says
    how the task was decided, for messages."""
    chosen = list(names) if names else list(DEFAULTS[task])
    valid = [n for n, m in METRICS.items() if m.task == task]
    hint = f"{task} metrics: {', '.join(valid)}"
    bad = [n for n in chosen if n not in valid]
    if bad:
        raise ConfigError(
            "metrics.list: " + "; ".join(_why_not(n, task, task_note) for n in bad), hint=hint
        )
    for i, g in enumerate(gate_metrics):
        if g not in chosen:
            why = (
                _why_not(g, task, task_note) if g not in valid else f"{g!r} is not in metrics.list"
            )
            raise ConfigError(f"gates[{i}].metric: {why}", hint=f"one of: {', '.join(chosen)}")
    if primary is None:
        candidates = [*gate_metrics, *HEADLINES[task], *chosen]
        primary = next(n for n in candidates if n in chosen)
    elif primary not in chosen:
        raise ConfigError(
            f"metrics.primary: {_why_not(primary, task, task_note) if primary not in valid else repr(primary) + ' is not in metrics.list'}",
            hint=f"one of: {', '.join(chosen)}",
        )
    return chosen, primary


def applicable(scored: Scored, names: list[str]) -> list[str]:
    """The named metrics that apply to `scored`: its task, its probabilities if any."""
    return [
        n
        for n in names
        if METRICS[n].task == scored.task and not (METRICS[n].needs_proba and scored.proba is None)
    ]


def component_blocks(scored: Scored, names: list[str]) -> tuple[Parts, dict[str, slice]]:
    """The components of the named metrics that apply to `scored` (its task; its
    probabilities, if any) side by side, shared blocks computed once. Returns the
    (n, k) matrix with its pair columns, and each metric's column slice."""
    import numpy as np

    blocks: dict[Block, slice] = {}
    where: dict[str, slice] = {}
    for name in applicable(scored, names):
        m = METRICS[name]
        if m.components not in blocks:
            start = max((sl.stop for sl in blocks.values()), default=0)
            blocks[m.components] = slice(start, start + m.components.width(scored))
        where[name] = blocks[m.components]
    width = max((sl.stop for sl in blocks.values()), default=0)
    # One matrix, each block written into its own columns: no stacked copies.
    matrix = np.empty((scored.y.shape[0], width))
    pairs: dict[int, Pairs] = {}
    for block, sl in blocks.items():
        found = block.fill(scored, matrix[:, sl])
        pairs.update({sl.start + col: p for col, p in found.items()})
    return Parts(matrix, pairs), where


def point_estimates(scored: Scored, names: list[str]) -> dict[str, float]:
    parts, where = component_blocks(scored, names)
    sums = parts.matrix.sum(axis=0)
    return {name: float(METRICS[name].value(sums[sl])) for name, sl in where.items()}


# --- metrics whose interval a few rows can make untrustworthy -------------------------------

# A mean of unbounded per-row losses: a handful of rows (or rows the holdout
# happens not to have) can carry most of it, and no percentile bootstrap can see
# what the sample lacks (docs/guide/statistics.md).
TAIL_SHARE = 0.5  # the largest 1% of rows (at least one) carrying this share of the sum


def _row_losses(s: Scored, name: str) -> np.ndarray | None:
    import numpy as np

    if name == "log_loss" and s.proba is not None:
        p_true = s.proba[np.arange(s.y.shape[0]), s.y]
        eps = np.finfo(s.proba.dtype).eps
        return -np.log(np.clip(p_true, eps, 1 - eps))
    if name in ("rmse", "mae") and s.task == "regression":
        e = s.pred.astype(np.float64) - s.y.astype(np.float64)
        return e * e if name == "rmse" else np.abs(e)
    return None


def tail_problem(s: Scored, name: str) -> str | None:
    """Why this model's interval of `name` understates the uncertainty (None: no
    reason to think so): predicted probabilities of exactly 0 or 1 (log loss: a
    row of the wrong class then costs the clipping bound, ~36, whether or not the
    holdout has one), or the largest 1% of rows carrying at least half the sum."""
    import math

    import numpy as np

    losses = _row_losses(s, name)
    if losses is None or losses.size == 0 or not np.isfinite(losses).all():
        return None
    if name == "log_loss" and s.proba is not None:
        p_true = s.proba[np.arange(s.y.shape[0]), s.y]
        zero = int((p_true <= 0).sum())
        if zero:
            share = float(losses[p_true <= 0].sum() / losses.sum())
            return (
                f"{zero} row(s) give their true class a probability of 0 and carry "
                f"{share:.0%} of the log loss"
            )
        extreme = int(((s.proba <= 0) | (s.proba >= 1)).any(axis=1).sum())
        if extreme:
            return (
                f"the model predicts probabilities of exactly 0 or 1 ({extreme} row(s)): a row "
                "of the class it rules out costs the clipping bound, which this holdout may not show"
            )
    total = float(losses.sum())
    if total <= 0:
        return None
    top = max(1, math.ceil(0.01 * losses.size))
    share = float(np.sort(losses)[-top:].sum() / total)
    if share >= TAIL_SHARE:
        return f"the largest {top} row(s) of {losses.size} carry {share:.0%} of the sum"
    return None
