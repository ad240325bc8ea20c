"""Metrics, written as functions of sums of per-row components.

Every metric is `value(sums)` where `sums` are column sums of a per-row
component matrix. The point estimate is `value(components.sum(0))`; a
bootstrap resample is `value(weights @ components)`; so one definition serves
both, and a thousand resamples cost one matrix product (see ci_ml.stats.bootstrap).

ROC AUC is the one metric that is not a plain sum: it is a count of
(positive, negative) pairs ranked the right way over the product of the two
class sizes. Its pair column (`Pairs`) is summed like any other on the full
sample; on a resample its weighted pair count is computed exactly from the
row weights, or, when blocks of rows are resampled, from the Hajek projection
of the pairs, which is a function of four per-row sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    classes: list[Any] | None = None


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    greater_is_better: bool
    needs_proba: bool
    label: str
    # components(scored) -> (n, k) per-row parts; value(sums (..., k)) -> (...)
    components: Callable[[Scored], np.ndarray | Parts]
    value: Callable[[np.ndarray], np.ndarray]


# --- components -------------------------------------------------------------


def _onehot(idx: np.ndarray, k: int) -> np.ndarray:
    import numpy as np

    out = np.zeros((idx.shape[0], k), dtype=np.float64)
    out[np.arange(idx.shape[0]), idx] = 1.0
    return out


def _confusion_parts(s: Scored) -> np.ndarray:
    """[true one-hot (K) | predicted one-hot (K) | true positive one-hot (K)]"""
    import numpy as np

    k = len(s.classes or [])
    t, p = _onehot(s.y, k), _onehot(s.pred, k)
    return np.hstack([t, p, t * p])


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


def _accuracy_parts(s: Scored) -> np.ndarray:
    import numpy as np

    return np.stack([(s.y == s.pred).astype(np.float64), np.ones(s.y.shape[0])], axis=1)


def _ratio(sums: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.divide(sums[..., 0], np.maximum(sums[..., 1], 1e-300))


def _log_loss_parts(s: Scored) -> np.ndarray:
    import numpy as np

    assert s.proba is not None
    proba = s.proba
    eps = np.finfo(proba.dtype).eps  # the clipping sklearn's log_loss applies
    p_true = np.clip(proba[np.arange(s.y.shape[0]), s.y], eps, 1 - eps)
    return np.stack([-np.log(p_true), np.ones(s.y.shape[0])], axis=1)


class Pairs:
    """The pair count behind one ROC AUC: the sum over (positive i, negative j)
    of w_i * w_j * [s_i > s_j], ties counting half, for row weights w. The AUC
    is pairs / (positives * negatives), each weighted.

    In the component matrix a pair column holds each positive's count of
    negatives below it, so that its plain sum is the full sample's pair count.
    A resample is not a plain sum: `exact` weighs the pairs by the resample's
    row weights; `project` gives the Hajek projection from the weighted sums of
    the four columns [pairs, pos, neg, neg_pairs], for when blocks of rows are
    resampled and row weights are not at hand."""

    def __init__(self, score: np.ndarray, positive: np.ndarray) -> None:
        import numpy as np

        self.score, self.positive = score, positive
        self.n_pos = int(positive.sum())
        self.n_neg = positive.shape[0] - self.n_pos
        self.pos_rows = np.flatnonzero(positive)
        neg_rows = np.flatnonzero(~positive)
        by_score = np.argsort(score[neg_rows])
        self.neg_rows = neg_rows[by_score]  # negatives, by ascending score
        neg_sorted = score[self.neg_rows]
        s = score[self.pos_rows]
        # per positive: negatives strictly below it, and at or below it
        self.below = np.searchsorted(neg_sorted, s, "left")
        self.at_or_below = np.searchsorted(neg_sorted, s, "right")
        self.total = 0.5 * float(self.below.sum() + self.at_or_below.sum())

    def columns(self) -> np.ndarray:
        """(n, 4): [negatives below each positive, positive, negative,
        positives above each negative]; ties count half."""
        import numpy as np

        n = self.positive.shape[0]
        pos_sorted = np.sort(self.score[self.pos_rows])
        s = self.score[self.neg_rows]
        left = np.searchsorted(pos_sorted, s, "left")
        right = np.searchsorted(pos_sorted, s, "right")
        out = np.zeros((n, 4))
        out[self.pos_rows, 0] = 0.5 * (self.below + self.at_or_below)
        out[self.pos_rows, 1] = 1.0
        out[self.neg_rows, 2] = 1.0
        out[self.neg_rows, 3] = self.n_pos - 0.5 * (left + right)
        return out

    def project(self, sums: np.ndarray) -> np.ndarray:
        """Hajek projection of the weighted pair count from the weighted sums
        (..., 4) of `columns`: AUC* = mean positive placement + mean negative
        placement - AUC, times the weighted class sizes. First order in the
        weights, like the DeLong variance."""
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
            # The negatives of all Pairs side by side, one run each: a running
            # total read at a positive counts the runs before its own too, which
            # is taken off once per Pairs (its total positive weight times that).
            starts = np.concatenate([[0], np.cumsum(n_neg)[:-1]])
            offset = np.repeat(starts, n_pos)
            below = np.concatenate([p.below for p in chunk]) + offset
            at_or_below = np.concatenate([p.at_or_below for p in chunk]) + offset
            has = n_pos > 0
            self.chunks.append(
                (
                    slice(i, j),
                    np.concatenate([p.neg_rows for p in chunk]),
                    below,
                    None if np.array_equal(below, at_or_below) else at_or_below,  # no ties
                    np.concatenate([p.pos_rows for p in chunk]),
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


def _auc_parts(s: Scored) -> Parts:
    """Per class c (one-vs-rest; one column set for binary):
    [pairs, pos, neg, neg_pairs] (see Pairs.columns)."""
    import numpy as np

    assert s.proba is not None
    k = s.proba.shape[1]
    cols = [1] if k == 2 else range(k)
    parts, pairs = [], {}
    for i, c in enumerate(cols):
        p = Pairs(s.proba[:, c], s.y == c)
        pairs[4 * i] = p
        parts.append(p.columns())
    return Parts(np.hstack(parts), pairs)


def _auc(sums: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC: per class, pairs / (positives * negatives)."""
    import numpy as np

    k = sums.shape[-1] // 4
    s = sums.reshape(*sums.shape[:-1], k, 4)
    pos, neg = s[..., 1], s[..., 2]
    valid = (pos > 0) & (neg > 0)
    # The Hajek projection of a resample can step past [0, 1]; the AUC cannot.
    per_class = np.clip(_safe_div(s[..., 0], pos * neg), 0.0, 1.0)
    return np.where(valid.any(-1), _macro(per_class, valid), np.nan)


def _reg_parts(s: Scored) -> np.ndarray:
    import numpy as np

    y = s.y.astype(np.float64)
    e = s.pred.astype(np.float64) - y
    yc = y - y.mean()  # centred once on the full sample: stable sums of squares
    return np.stack([e * e, np.abs(e), yc, yc * yc, np.ones_like(y)], axis=1)


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
        Metric("accuracy", "classification", True, False, "Accuracy", _accuracy_parts, _ratio),
        Metric(
            "balanced_accuracy",
            "classification",
            True,
            False,
            "Balanced accuracy",
            _confusion_parts,
            _balanced_accuracy,
        ),
        Metric("f1_macro", "classification", True, False, "F1 (macro)", _confusion_parts, _f1),
        Metric(
            "precision_macro",
            "classification",
            True,
            False,
            "Precision (macro)",
            _confusion_parts,
            _precision,
        ),
        Metric(
            "recall_macro",
            "classification",
            True,
            False,
            "Recall (macro)",
            _confusion_parts,
            _recall,
        ),
        Metric("roc_auc", "classification", True, True, "ROC AUC", _auc_parts, _auc),
        Metric("log_loss", "classification", False, True, "Log loss", _log_loss_parts, _ratio),
        Metric("rmse", "regression", False, False, "RMSE", _reg_parts, _rmse),
        Metric("mae", "regression", False, False, "MAE", _reg_parts, _mae),
        Metric("r2", "regression", True, False, "R²", _reg_parts, _r2),
    ]
}
TASKS = ("classification", "regression")
# Every metric of a task, in the registry's order, is the default list.
DEFAULTS = {task: [n for n, m in METRICS.items() if m.task == task] for task in TASKS}


def select(task: str, names: list[str] | None, primary: str | None) -> tuple[list[str], str]:
    """The metric list and primary metric for a task, checked against the registry."""
    chosen = list(names) if names else list(DEFAULTS[task])
    valid = [n for n, m in METRICS.items() if m.task == task]
    bad = [n for n in chosen if n not in valid]
    if bad:
        raise ConfigError(
            f"metrics.list: {', '.join(map(repr, bad))} not available for {task}",
            hint=f"choose from: {', '.join(valid)}",
        )
    primary = primary or chosen[0]
    if primary not in chosen:
        raise ConfigError(
            f"metrics.primary: {primary!r} is not in metrics.list",
            hint=f"one of: {', '.join(chosen)}",
        )
    return chosen, primary


def component_blocks(scored: Scored, names: list[str]) -> tuple[Parts, dict[str, slice]]:
    """The components of the named metrics that apply to `scored` (its task; its
    probabilities, if any) side by side, shared blocks computed once. Returns the
    (n, k) matrix with its pair columns, and each metric's column slice."""
    import numpy as np

    blocks: dict[Callable, slice] = {}
    cols: list[np.ndarray] = []
    pairs: dict[int, Pairs] = {}
    start = 0
    where: dict[str, slice] = {}
    for name in names:
        m = METRICS[name]
        if m.task != scored.task or (m.needs_proba and scored.proba is None):
            continue
        if m.components not in blocks:
            c = m.components(scored)
            if isinstance(c, Parts):
                pairs.update({start + col: p for col, p in c.pairs.items()})
                c = c.matrix
            blocks[m.components] = slice(start, start + c.shape[1])
            cols.append(c)
            start += c.shape[1]
        where[name] = blocks[m.components]
    matrix = np.hstack(cols) if cols else np.zeros((scored.y.shape[0], 0))
    return Parts(matrix, pairs), where


def point_estimates(scored: Scored, names: list[str]) -> dict[str, float]:
    parts, where = component_blocks(scored, names)
    sums = parts.matrix.sum(axis=0)
    return {name: float(METRICS[name].value(sums[sl])) for name, sl in where.items()}
