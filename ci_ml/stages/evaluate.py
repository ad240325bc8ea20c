"""The evaluate stage: the candidate's predictions on the holdout rows, every
metric with a bootstrap interval, and the confusion matrix or residuals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import TRANSIENT, load, optional, read_json, write_json
from ci_ml.errors import DataValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.stats.metrics import Scored

PREDICTIONS = "predictions.npz"


@dataclass
class MetricValue:
    label: str
    greater_is_better: bool
    value: float
    ci_low: float
    ci_high: float


@dataclass
class ConfusionMatrix:
    labels: list[str]
    rows_true_cols_pred: list[list[int]]


@dataclass
class Residuals:
    """Summary of prediction − truth."""

    mean: float
    std: float
    min: float
    p05: float
    p25: float
    median: float
    p75: float
    p95: float
    max: float


@dataclass
class Evaluation:
    """metrics.json: the candidate's metrics on the holdout rows."""

    task: str
    primary: str
    rows: int
    confidence: float
    resamples: int
    metrics: dict[str, MetricValue]
    skipped: dict[str, str] | None = optional()
    classes: list[Any] | None = optional()
    confusion_matrix: ConfusionMatrix | None = optional()
    class_balance: dict[str, int] | None = optional()
    residuals: Residuals | None = optional()
    scored: Any = field(default=None, repr=False, metadata={TRANSIENT: True})


def encode_labels(values: Any, classes: list[Any]) -> np.ndarray:
    """Class indexes of `values` in `classes` (compared as text); -1 for unknown labels."""
    import numpy as np

    index = {str(c): i for i, c in enumerate(classes)}
    return np.array([index.get(str(v), -1) for v in values], dtype=np.int64)


def score_candidate(est: Any, X: pd.DataFrame, y: pd.Series, task: str) -> Scored:
    """The candidate's predictions on the holdout, labels encoded by its classes."""
    import numpy as np

    from ci_ml.artifact import plain
    from ci_ml.stats.metrics import Scored

    if task != "classification":
        return Scored(
            "regression", y.to_numpy(dtype=np.float64), np.asarray(est.predict(X), dtype=np.float64)
        )
    classes = list(est.classes_)
    y_idx = encode_labels(y, classes)
    if (y_idx < 0).any():
        unseen = sorted({str(v) for v, i in zip(y, y_idx, strict=True) if i < 0})
        raise DataValidationError(
            f"the holdout has class(es) the model never saw in training: {', '.join(unseen)}",
            hint="make sure every class appears in the training data (stratified split)",
        )
    pred_idx = encode_labels(np.asarray(est.predict(X)), classes)
    proba = (
        np.asarray(est.predict_proba(X), dtype=np.float64)
        if hasattr(est, "predict_proba")
        else None
    )
    return Scored("classification", y_idx, pred_idx, proba, plain(classes))


def evaluation(
    s: Scored, names: list[str], primary: str, resamples: int, confidence: float, seed: int
) -> Evaluation:
    """Metrics with intervals, and the task's breakdown, from the predictions."""
    from ci_ml.stats.bootstrap import estimates
    from ci_ml.stats.metrics import METRICS

    est = estimates(s, names, resamples, confidence, seed)
    result = Evaluation(
        task=s.task,
        primary=primary,
        rows=int(len(s.y)),
        confidence=confidence,
        resamples=resamples,
        metrics={
            n: MetricValue(
                METRICS[n].label, METRICS[n].greater_is_better, e.value, e.ci_low, e.ci_high
            )
            for n, e in est.items()
        },
        scored=s,
    )
    skipped = [n for n in names if n not in est]
    if skipped:
        result.skipped = {n: "the estimator has no predict_proba" for n in skipped}
    if s.task == "classification":
        _add_confusion(result, s)
    else:
        result.residuals = residuals(s.pred - s.y)
    return result


def _add_confusion(result: Evaluation, s: Scored) -> None:
    import numpy as np

    classes = s.classes or []
    k = len(classes)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (s.y, s.pred), 1)
    result.classes = classes
    result.confusion_matrix = ConfusionMatrix([str(c) for c in classes], cm.tolist())
    result.class_balance = {
        str(c): int(n) for c, n in zip(classes, np.bincount(s.y, minlength=k), strict=True)
    }


def residuals(r: np.ndarray) -> Residuals:
    import numpy as np

    q = np.quantile(r, [0.05, 0.25, 0.5, 0.75, 0.95])
    return Residuals(
        float(r.mean()), float(r.std()), float(r.min()), *map(float, q), float(r.max())
    )


def run(b: Build) -> Evaluation:
    """The stage: score the model, write metrics.json and keep the predictions."""
    import numpy as np

    from ci_ml.stages.train import load_model

    t0 = time.perf_counter()
    est = load_model(b, "evaluate")
    names, primary = b.metric_names
    X, y = b.dataset.xy("test")
    s = score_candidate(est, X, y, b.task)
    np.savez(
        b.state_path(PREDICTIONS),
        y=s.y,
        pred=s.pred,
        proba=s.proba if s.proba is not None else np.zeros((0, 0)),
    )
    st = b.cfg.statistics
    result = evaluation(s, names, primary, st.resamples, st.confidence, st.seed)
    write_json(b.out / "metrics.json", result)
    b.record("evaluate", {"primary": primary}, time.perf_counter() - t0)
    b.write_manifest()
    return result


def load_evaluation(b: Build, needed_by: str) -> Evaluation:
    """metrics.json and the predictions behind it, as `evaluate` left them."""
    import numpy as np

    from ci_ml.stats.metrics import Scored

    b.state("evaluate.json", needed_by=needed_by)
    result = load(Evaluation, read_json(b.out / "metrics.json"))
    with np.load(b.state_path(PREDICTIONS)) as z:
        proba = z["proba"] if z["proba"].size else None
        result.scored = Scored(b.task, z["y"], z["pred"], proba, result.classes)
    return result
