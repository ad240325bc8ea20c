"""Metrics, written as functions of sums of per-row components.

Every metric is `value(sums)` where `sums` are column sums of a per-row
component matrix. The point estimate is `value(components.sum(0))`; a
bootstrap resample is `value(weights @ components)`; so one definition serves
both, and a thousand resamples cost one matrix product (see ci_ml.stats.bootstrap).

ROC AUC is the one metric that is not a plain sum: its components are the
DeLong placement values, whose sums give the AUC exactly on the full sample
and its first-order (Hajek) expansion on a resample, which is how the DeLong
variance is derived too.
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
    components: Callable[[Scored], np.ndarray]
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


def _placements(score: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """DeLong placement values: for a positive, the share of negatives it
    outranks (ties count half); for a negative, the share of positives that
    outrank it. Vectorised with one sort."""
    import numpy as np

    order = np.argsort(score, kind="mergesort")
    s_sorted = score[order]
    pos_sorted = positive[order].astype(np.float64)
    neg_sorted = 1.0 - pos_sorted
    # Group ties: first and last index of each run of equal scores.
    _, first, counts = np.unique(s_sorted, return_index=True, return_counts=True)
    group = np.repeat(np.arange(first.size), counts)
    neg_cum = np.concatenate([[0.0], np.cumsum(np.add.reduceat(neg_sorted, first))])
    pos_cum = np.concatenate([[0.0], np.cumsum(np.add.reduceat(pos_sorted, first))])
    n_pos, n_neg = pos_sorted.sum(), neg_sorted.sum()
    neg_below = neg_cum[group] + 0.5 * (neg_cum[group + 1] - neg_cum[group])
    pos_above = (n_pos - pos_cum[group + 1]) + 0.5 * (pos_cum[group + 1] - pos_cum[group])
    v = np.where(pos_sorted > 0, neg_below / max(n_neg, 1), pos_above / max(n_pos, 1))
    out = np.empty_like(v)
    out[order] = v
    return out


def _auc_parts(s: Scored) -> np.ndarray:
    """Per class c (one-vs-rest; one column set for binary):
    [pos * V10, pos, neg * V01, neg]."""
    import numpy as np

    assert s.proba is not None
    k = s.proba.shape[1]
    cols = [1] if k == 2 else range(k)
    parts = []
    for c in cols:
        pos = (s.y == c).astype(np.float64)
        v = _placements(s.proba[:, c], pos)
        parts.append(np.stack([pos * v, pos, (1 - pos) * v, 1 - pos], axis=1))
    return np.hstack(parts)


def _auc(sums: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC. With full-sample sums both halves equal the AUC;
    on a resample, their sum minus the full-sample AUC is the Hajek expansion,
    so we average the two halves, which is the same to first order."""
    import numpy as np

    k = sums.shape[-1] // 4
    s = sums.reshape(*sums.shape[:-1], k, 4)
    a10 = _safe_div(s[..., 0], s[..., 1])
    a01 = _safe_div(s[..., 2], s[..., 3])
    per_class = 0.5 * (a10 + a01)
    valid = (s[..., 1] > 0) & (s[..., 3] > 0)
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


def component_blocks(scored: Scored, names: list[str]) -> tuple[np.ndarray, dict[str, slice]]:
    """All metrics' components side by side, shared blocks computed once.
    Returns the (n, k) matrix and each metric's column slice."""
    import numpy as np

    blocks: dict[Callable, tuple[np.ndarray, slice]] = {}
    cols: list[np.ndarray] = []
    start = 0
    where: dict[str, slice] = {}
    for name in names:
        m = METRICS[name]
        if m.needs_proba and scored.proba is None:
            continue
        if m.components not in blocks:
            c = m.components(scored)
            blocks[m.components] = (c, slice(start, start + c.shape[1]))
            cols.append(c)
            start += c.shape[1]
        where[name] = blocks[m.components][1]
    matrix = np.hstack(cols) if cols else np.zeros((scored.y.shape[0], 0))
    return matrix, where


def point_estimates(scored: Scored, names: list[str]) -> dict[str, float]:
    matrix, where = component_blocks(scored, names)
    sums = matrix.sum(axis=0)
    return {name: float(METRICS[name].value(sums[sl])) for name, sl in where.items()}
