"""The evaluate stage (`ci-ml evaluate`): every metric of the shipped model (the
ONNX export's predictions on the holdout rows) with a bootstrap interval, and
the confusion matrix or residuals. The metrics and the headline one were
decided once, when export knew whether the model gives probabilities."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.stage import Section, Stage

PROFILE = "profile.json"  # the reference of `ci-ml drift`, published with the model

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.records import Evaluation, Profile, Residuals
    from ci_ml.scoring.every_row import Summed
    from ci_ml.stage import StageRun
    from ci_ml.stats.bootstrap import Shared
    from ci_ml.stats.metrics import Scored


def run(r: StageRun) -> Evaluation:
    from ci_ml.baseline import every_row_scorer
    from ci_ml.scoring import every_row
    from ci_ml.scoring.holdout import candidate

    b = r.build
    s = candidate(b, "evaluate")
    plan = b.metric_plan
    st = b.cfg.statistics
    summed = None
    if every_row.wanted(b):  # engine: dask, a holdout larger than the client's sample
        # In one pass with the baseline's, when `ci-ml run` has one: compare reads
        # both from the build instead of scoring the candidate on the cluster again.
        beside = every_row_scorer(b, r.baseline, "evaluate")
        summed = every_row.with_baseline(b, beside, "evaluate").first()
    result = evaluation(
        s, plan.names, plan.primary, st.resamples, st.confidence, st.seed, b.shared, summed
    )
    train = b.require("train", "evaluate")
    if train.profile is not None:
        b.write_record(PROFILE, with_predictions(train.profile, s))
    return result


def with_predictions(data: Profile, s: Scored) -> Profile:
    """The training rows' profile with the model's predictions on the holdout rows:
    the predicted class's frequencies (every class, predicted or not) or the
    predicted value's histogram, and for a binary classifier with probabilities
    the positive class's probability."""
    import dataclasses

    import numpy as np
    import pandas as pd

    from ci_ml.monitoring.profiles import categorical, numeric

    out = dataclasses.replace(data, holdout_rows=int(len(s.y)))
    if s.task != "classification":
        out.predictions = numeric(
            "predicted value", np.asarray(s.pred, dtype=np.float64), "float64"
        )
        return out
    classes = [str(c) for c in s.classes or []]
    counts = np.bincount(s.pred[s.pred >= 0], minlength=len(classes))[: len(classes)]
    predicted = categorical("predicted class", pd.Series(np.repeat(classes, counts), dtype=object))
    ranked = sorted(zip(classes, counts.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    predicted.categories = {c: int(n) for c, n in ranked}
    predicted.other = 0
    out.predictions = predicted
    if s.proba is not None and s.proba.shape[1] == 2 and len(classes) == 2:
        out.scores = numeric(
            f"probability of {classes[1]}", np.asarray(s.proba[:, 1], dtype=np.float64), "float64"
        )
        out.positive_class = classes[1]
    return out


def evaluation(
    s: Scored,
    names: list[str],
    primary: str,
    resamples: int,
    confidence: float,
    seed: int,
    shared: Shared | None = None,
    summed: Summed | None = None,
) -> Evaluation:
    """Metrics with intervals, and the task's breakdown, from the predictions.
    `shared` keeps what compare, later in the same process, computes again.
    `summed`: the candidate's components over every holdout row (engine: dask),
    when `s` holds a sample of them: the metrics, their intervals and the
    confusion matrix are then over every row, the rest over the sample."""
    from ci_ml.records import Evaluation, MetricValue
    from ci_ml.stats.bootstrap import Plan, estimates, estimates_of, resample_units
    from ci_ml.stats.metrics import METRICS, tail_problem

    if summed is None:
        est = estimates(s, names, resamples, confidence, seed, shared)
    else:
        plan = Plan.blocked_units(summed.told.rows, summed.blocks, resamples, seed)
        est = estimates_of(resample_units(plan, summed.units[:1])[0], confidence)
    result = Evaluation(
        task=s.task,
        primary=primary,
        rows=int(len(s.y)) if summed is None else summed.told.rows,
        confidence=confidence,
        resamples=resamples,
        metrics={
            n: MetricValue(
                e.value,
                e.ci_low,
                e.ci_high,
                label=METRICS[n].label,
                greater_is_better=METRICS[n].greater_is_better,
                unreliable=tail_problem(s, n),
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
    if summed is not None:
        _every_row(result, summed, int(len(s.y)))
    return result


def _every_row(result: Evaluation, summed: Summed, sample_rows: int) -> None:
    """The confusion matrix and the class balance over every row (plain sums), and
    the record of what was computed where."""
    from ci_ml.scoring.every_row import scope

    told = summed.told
    every = ["metrics", "intervals"]
    on_sample = ["the tail check of each interval"]
    if result.confusion_matrix is not None and told.confusion[0] is not None:
        result.confusion_matrix.rows_true_cols_pred = told.confusion[0]
        if told.class_rows is not None and result.classes is not None:
            counts = zip(result.classes, told.class_rows, strict=True)
            result.class_balance = {str(c): int(n) for c, n in counts}
        every += ["confusion matrix", "class balance"]
    else:
        on_sample.insert(0, "residuals")
    on_sample.append("the predictions in the drift profile")
    result.scope = scope(summed, sample_rows, every, on_sample)


def _add_confusion(result: Evaluation, s: Scored) -> None:
    import numpy as np

    from ci_ml.records import ConfusionMatrix

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

    from ci_ml.records import Residuals

    q = np.quantile(r, [0.05, 0.25, 0.5, 0.75, 0.95])
    return Residuals(
        float(r.mean()), float(r.std()), float(r.min()), *map(float, q), float(r.max())
    )


def summary(result: Evaluation) -> str:
    return "metrics: " + ", ".join(f"{k} {v.value:.4g}" for k, v in result.metrics.items())


STAGE = Stage(
    name="evaluate",
    command="evaluate",
    help="compute the ONNX model's metrics on the holdout set",
    run=run,
    summary=summary,
    reads=("metrics", "statistics", "gates"),
    writes=(PROFILE,),
    record="Evaluation",
    record_file="metrics.json",
    sections=(
        Section(order=40, template="metrics.md.j2"),
        Section(order=94, template="classes.md.j2"),
        Section(order=96, template="residuals.md.j2"),
    ),
)
