"""The evaluate stage: every metric of the shipped model (the ONNX export's
predictions on the holdout rows, which `export` saved) with a bootstrap
interval, and the confusion matrix or residuals."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import TRANSIENT, Num, load, optional, read_json, write_json
from ci_ml.errors import DataValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.stats.bootstrap import Shared
    from ci_ml.stats.metrics import Scored

PREDICTIONS = "predictions.npz"


@dataclass
class MetricValue:
    label: str
    greater_is_better: bool
    value: Num
    ci_low: Num
    ci_high: Num


@dataclass
class ConfusionMatrix:
    labels: list[str]
    rows_true_cols_pred: list[list[int]]


@dataclass
class Residuals:
    """Summary of prediction − truth."""

    mean: Num
    std: Num
    min: Num
    p05: Num
    p25: Num
    median: Num
    p75: Num
    p95: Num
    max: Num


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
    """Class indexes of `values` in `classes`, compared as text; -1 for a label
    that is not one of the classes."""
    import numpy as np
    import pandas as pd

    names = pd.Index([str(c) for c in classes])
    text = pd.Series(np.asarray(values).ravel()).astype(str)
    return names.get_indexer(text).astype(np.int64)


def scored(
    y: pd.Series, pred: np.ndarray, proba: np.ndarray | None, task: str, classes: Any
) -> Scored:
    """The model's predictions on the holdout with the truth, as the statistics read them."""
    import numpy as np

    from ci_ml.stats.metrics import Scored

    if task != "classification":
        return Scored("regression", y.to_numpy(dtype=np.float64), pred.astype(np.float64))
    y_idx = encode_labels(y, classes)
    if (y_idx < 0).any():
        unseen = sorted(set(y.astype(str)[y_idx < 0]))
        raise DataValidationError(
            f"the holdout has class(es) the model never saw in training: {', '.join(unseen[:10])}",
            hint="make sure every class appears in the training data (stratified split)",
        )
    return Scored("classification", y_idx, pred, proba, classes)


def evaluation(
    s: Scored,
    names: list[str],
    primary: str,
    resamples: int,
    confidence: float,
    seed: int,
    shared: Shared | None = None,
) -> Evaluation:
    """Metrics with intervals, and the task's breakdown, from the predictions.
    `shared` keeps what compare, later in the same process, computes again."""
    from ci_ml.stats.bootstrap import estimates
    from ci_ml.stats.metrics import METRICS

    est = estimates(s, names, resamples, confidence, seed, shared)
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
    """The stage: score the ONNX model's holdout predictions, write metrics.json."""
    import numpy as np

    t0 = time.perf_counter()
    b.begin("evaluate")
    train = b.state("train.json", needed_by="evaluate")
    b.state("export.json", needed_by="evaluate")
    names, primary = b.metric_names
    _, y = b.dataset.xy("test")
    with np.load(b.state_path(PREDICTIONS)) as z:
        proba = z["proba"] if z["proba"].size else None
        s = scored(y, z["pred"], proba, b.task, train["classes"])
    st = b.cfg.statistics
    result = evaluation(s, names, primary, st.resamples, st.confidence, st.seed, b.shared)
    if result.primary not in result.metrics:
        result.primary = _fallback_primary(b, result)
    write_json(b.out / "metrics.json", result)
    b.record("evaluate", {"primary": result.primary}, time.perf_counter() - t0)
    b.write_manifest()
    b.seal("evaluate")
    return result


def _fallback_primary(b: Build, result: Evaluation) -> str:
    """The headline when the chosen one needs probabilities the model does not give."""
    from ci_ml.errors import ConfigError

    if b.cfg.metrics.primary:
        raise ConfigError(
            f"metrics.primary: {result.primary} needs predicted probabilities, and the model "
            "has no predict_proba",
            hint="choose another primary metric, or a classifier with probabilities",
        )
    gates = [g.metric for g in b.cfg.gates]
    return next(n for n in [*gates, "accuracy", *result.metrics] if n in result.metrics)


def load_evaluation(b: Build, needed_by: str) -> Evaluation:
    """metrics.json and the predictions behind it, as `evaluate` left them."""
    import numpy as np

    b.state("evaluate.json", needed_by=needed_by)
    result = load(Evaluation, read_json(b.out / "metrics.json"))
    classes = b.state("train.json", needed_by=needed_by)["classes"]
    _, y = b.dataset.xy("test")
    with np.load(b.state_path(PREDICTIONS)) as z:
        proba = z["proba"] if z["proba"].size else None
        result.scored = scored(y, z["pred"], proba, b.task, classes)
    return result
