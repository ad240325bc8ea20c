"""The compare stage: candidate versus baseline on the same holdout rows: paired
deltas, tests, data and schema changes, gates. The result is `comparison.json`.

Everything but `run` is a pure function of predictions, metrics and manifests.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import Num, optional, write_json
from ci_ml.stages.gates import ORDER, GateResult, evaluate_gate, overall
from ci_ml.stats.bootstrap import (
    Delta,
    Estimate,
    Shared,
    mcnemar_exact,
    paired_deltas,
    paired_error_test,
)
from ci_ml.stats.metrics import METRICS, Scored

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.build import Build
    from ci_ml.config import Gate, StatisticsConfig
    from ci_ml.stages.baseline import Baseline, BaselineScores
    from ci_ml.stages.evaluate import Evaluation
    from ci_ml.stages.history import History


# --- the result ---------------------------------------------------------------


@dataclass
class BaselineIdentity:
    source: str  # "dir" or "release"
    label: str  # what the report calls it: a path or a tag
    url: str | None
    commit: str | None
    created: str | None
    name: str | None
    tag: str | None = optional()
    published_at: str | None = optional()


@dataclass
class Interval:
    value: Num
    ci_low: Num
    ci_high: Num


@dataclass
class MetricRow:
    metric: str
    label: str
    greater_is_better: bool
    candidate: Interval
    baseline_recorded: float | None
    baseline: Interval | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    verdict: str = "no baseline"  # improved | regressed | within noise | n/a | no baseline
    not_compared: str | None = optional()  # why a baseline that exists gave no delta
    p_value_mcnemar: float | None = optional()


@dataclass
class McNemar:
    test: str
    candidate_only_correct: int
    baseline_only_correct: int
    p_value: float


@dataclass
class PairedT:
    test: str
    statistic: float
    p_value: float
    mean_difference: float


@dataclass
class ErrorTests:
    squared_error: PairedT
    absolute_error: PairedT


@dataclass
class Statistics:
    method: str
    resamples: int
    confidence: float
    seed: int


@dataclass
class ColumnChanges:
    added: list[str]
    removed: list[str]
    retyped: list[dict[str, str]]
    schema_changed: bool


@dataclass
class DataChanges:
    holdout_identical: bool
    rows: dict[str, int | None]
    class_balance: list[dict[str, Any]]
    columns: ColumnChanges


@dataclass
class ParamChange:
    param: str
    baseline: Any
    candidate: Any


@dataclass
class ClassRecall:
    """Recall of one class, both models scored on the same holdout rows."""

    label: str
    rows: int
    candidate: Num
    baseline: Num


@dataclass
class Primary:
    metric: str
    candidate: Num
    delta: float | None
    verdict: str


@dataclass
class Comparison:
    """comparison.json: the whole comparison, gates and verdict included."""

    primary_metric: str
    statistics: Statistics
    # none (first build) | scored (re-scored on this holdout) | recorded (its
    # recorded metrics) | unscorable (exists, but gave nothing comparable)
    baseline_status: str = "none"
    baseline: BaselineIdentity | None = None
    scored_on: str | None = None
    baseline_problem: str | None = None
    notes: list[str] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    tests: McNemar | ErrorTests | None = None
    data_changes: DataChanges | None = None
    params_diff: list[ParamChange] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    verdict: str = "no-baseline"  # pass | fail | no-baseline | incomplete
    primary: Primary | None = None
    per_class: list[ClassRecall] | None = optional()  # classification, re-scored baseline

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if g.status == "fail"]


# --- the stage ------------------------------------------------------------------


def run(b: Build, baseline_dir: Path | None, history: History | None = None) -> Comparison:
    """The stage: score the baseline (if any) on this holdout, compare, apply the gates.
    The model's release history, if the CLI fetched it with the baseline, is kept
    for the report."""
    from ci_ml.artifact import read_json
    from ci_ml.stages import baseline as baseline_mod
    from ci_ml.stages import history as history_mod
    from ci_ml.stages.evaluate import load_evaluation

    t0 = time.perf_counter()
    b.begin("compare")
    if history is not None:
        write_json(b.state_path(history_mod.FILE), history)
    evaluation = load_evaluation(b, "compare")
    manifest = read_json(b.out / "manifest.json")
    base = scores = None
    if baseline_dir is not None:
        base = baseline_mod.load_baseline(baseline_dir)
        X, _ = b.dataset.xy("test")
        scores = baseline_mod.score(base, X, b.task)
    result = compare(
        b.cfg.gates,
        b.cfg.statistics,
        b.cfg.baseline.on_unscorable,
        evaluation,
        manifest,
        base,
        scores,
        b.shared,
    )
    write_json(b.out / "comparison.json", result)
    b.record("compare", {"verdict": result.verdict}, time.perf_counter() - t0)
    b.write_manifest()
    b.seal("compare", baseline=str(baseline_dir) if baseline_dir else None)
    return result


# --- the comparison, piece by piece -------------------------------------------------


def align_classes(
    candidate_classes: list[Any],
    baseline_classes: list[Any],
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Map the baseline's labels and probability columns onto the candidate's classes.
    Returns (pred index, proba, notes). A baseline label unknown to the candidate gets
    index -1 (always wrong); its probability mass is dropped."""
    import numpy as np

    from ci_ml.stages.evaluate import encode_labels

    key = {str(c): i for i, c in enumerate(candidate_classes)}
    idx = encode_labels(pred, candidate_classes)
    out = None
    if proba is not None:
        out = np.zeros((proba.shape[0], len(candidate_classes)))
        for j, c in enumerate(baseline_classes):
            if str(c) in key:
                out[:, key[str(c)]] = proba[:, j]
    notes = []
    only_base = [c for c in baseline_classes if str(c) not in key]
    only_cand = [c for c in candidate_classes if str(c) not in {str(b) for b in baseline_classes}]
    if only_base:
        notes.append(f"classes only the baseline knows: {', '.join(map(str, only_base))}")
    if only_cand:
        notes.append(f"classes only the candidate knows: {', '.join(map(str, only_cand))}")
    return idx, out, notes


def _scored_baseline(candidate: Scored, pred_idx: np.ndarray, proba: np.ndarray | None) -> Scored:
    import numpy as np

    # A label the candidate does not know can never be right: encode it as a class
    # index no row has (K), which the one-hot encoders treat as a column of its own.
    if candidate.task == "classification":
        k = len(candidate.classes or [])
        safe = np.where(pred_idx < 0, k, pred_idx)
        if (pred_idx < 0).any():
            classes = [*candidate.classes, "<unknown to candidate>"]
            cand_proba = (
                None if proba is None else np.hstack([proba, np.zeros((proba.shape[0], 1))])
            )
            return Scored("classification", candidate.y, safe, cand_proba, classes)
        return Scored("classification", candidate.y, safe, proba, candidate.classes)
    return Scored("regression", candidate.y, pred_idx)


def significance_tests(candidate: Scored, baseline: Scored) -> McNemar | ErrorTests:
    import numpy as np

    if candidate.task == "classification":
        return McNemar(
            **mcnemar_exact(
                candidate.pred == candidate.y, baseline.pred[: len(candidate.y)] == candidate.y
            )
        )
    ce = candidate.pred.astype(np.float64) - candidate.y
    be = baseline.pred.astype(np.float64) - candidate.y
    return ErrorTests(
        PairedT(**paired_error_test(ce, be, "squared")),
        PairedT(**paired_error_test(ce, be, "absolute")),
    )


def class_recall(candidate: Scored, baseline: Scored) -> list[ClassRecall] | None:
    """Each class's recall for both models on the same rows (classification only)."""
    import numpy as np

    if candidate.task != "classification" or not candidate.classes:
        return None
    k = len(candidate.classes)
    rows = np.bincount(candidate.y, minlength=k)[:k]

    def hits(s: Scored) -> np.ndarray:
        right = s.y[s.pred == s.y]
        return np.bincount(right, minlength=k)[:k]

    with np.errstate(invalid="ignore", divide="ignore"):
        cand, base = hits(candidate) / rows, hits(baseline) / rows
    return [
        ClassRecall(str(c), int(n), float(a), float(bb))
        for c, n, a, bb in zip(candidate.classes, rows, cand, base, strict=True)
    ]


def _number(v: Any) -> float:
    """A recorded number (null for undefined in strict JSON) as a float."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def recorded_deltas(
    candidate_values: dict[str, float], recorded: dict[str, Any], names: list[str]
) -> dict[str, Delta]:
    """Deltas against the baseline's recorded metrics: no interval, no verdict."""
    out = {}
    nan = math.nan
    metrics = recorded.get("metrics") if isinstance(recorded.get("metrics"), dict) else {}
    for name in names:
        rec = metrics.get(name)
        if not isinstance(rec, dict) or name not in candidate_values:
            continue
        b, c = _number(rec.get("value")), candidate_values[name]
        out[name] = Delta(
            name,
            METRICS[name].greater_is_better,
            Estimate(c, nan, nan),
            Estimate(b, _number(rec.get("ci_low")), _number(rec.get("ci_high"))),
            c - b,
            nan,
            nan,
            nan,
            "n/a",
        )
    return out


def _columns(manifest: dict[str, Any]) -> dict[str, str]:
    cols = {f["name"]: f["dtype"] for f in manifest.get("features", [])}
    if manifest.get("target"):
        cols[manifest["target"]["name"]] = manifest["target"]["dtype"]
    return cols


def schema_changes(base_manifest: dict[str, Any], cand_manifest: dict[str, Any]) -> ColumnChanges:
    b, c = _columns(base_manifest), _columns(cand_manifest)
    return ColumnChanges(
        added=sorted(set(c) - set(b)),
        removed=sorted(set(b) - set(c)),
        retyped=[
            {"column": k, "baseline": b[k], "candidate": c[k]}
            for k in sorted(set(b) & set(c))
            if b[k] != c[k]
        ],
        schema_changed=(base_manifest.get("schema") or {}).get("sha256")
        != (cand_manifest.get("schema") or {}).get("sha256"),
    )


def holdout_identity(manifest: dict[str, Any]) -> str | None:
    """A fingerprint of the holdout rows: the test file's sha256, or data file + split."""
    data = manifest.get("data") or {}
    files = data.get("files") or {}
    if "test" in files:
        return files["test"]["sha256"]
    if "data" in files:
        split = data.get("split") or {}
        return f"{files['data']['sha256']}:{split.get('test_size')}:{split.get('seed')}:{split.get('stratify')}"
    return None


def class_balance(base: dict[str, int] | None, cand: dict[str, int] | None) -> list[dict[str, Any]]:
    b, c = base or {}, cand or {}
    return [
        {"class": k, "baseline": b.get(k), "candidate": c.get(k)}
        for k in sorted(set(b) | set(c), key=str)
    ]


def _same(a: Any, b: Any) -> bool:
    nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return nan or a == b


def params_diff(base_manifest: dict[str, Any], cand_manifest: dict[str, Any]) -> list[ParamChange]:
    b = (base_manifest.get("model") or {}).get("params") or {}
    c = (cand_manifest.get("model") or {}).get("params") or {}
    # A parameter one estimator lacks reads as None (unset) on that side: equal
    # values, or unset on both sides, are not changes.
    rows = [
        ParamChange(k, b.get(k), c.get(k))
        for k in sorted(set(b) | set(c))
        if not _same(b.get(k), c.get(k))
    ]
    b_est = (base_manifest.get("model") or {}).get("estimator")
    c_est = (cand_manifest.get("model") or {}).get("estimator")
    if b_est != c_est:
        rows.insert(0, ParamChange("(estimator)", b_est, c_est))
    return rows


def data_changes(
    baseline: Baseline, evaluation: Evaluation, manifest: dict[str, Any], same_holdout: bool
) -> DataChanges:
    return DataChanges(
        holdout_identical=same_holdout,
        rows={"baseline": baseline.metrics.get("rows"), "candidate": evaluation.rows},
        class_balance=class_balance(
            baseline.metrics.get("class_balance"), evaluation.class_balance
        ),
        columns=schema_changes(baseline.manifest, manifest),
    )


def _paired(candidate: Scored, scores: BaselineScores) -> tuple[Scored, Scored, list[str]]:
    """The candidate and the baseline as two Scored on the same class columns, and notes."""
    import numpy as np

    if candidate.task != "classification":
        return candidate, _scored_baseline(candidate, scores.pred, None), []
    idx, proba, notes = align_classes(
        candidate.classes or [], scores.classes or [], scores.pred, scores.proba
    )
    base = _scored_baseline(candidate, idx, proba)
    if base.classes == candidate.classes:
        return candidate, base, notes
    # The baseline predicted a label the candidate does not know: an extra class column.
    extra = None if candidate.proba is None else np.zeros((len(candidate.y), 1))
    widened = Scored(
        "classification",
        candidate.y,
        candidate.pred,
        None if extra is None else np.hstack([candidate.proba, extra]),
        base.classes,
    )
    return widened, base, notes


def _deltas(
    result: Comparison,
    evaluation: Evaluation,
    manifest: dict[str, Any],
    baseline: Baseline,
    scores: BaselineScores | None,
    st: StatisticsConfig,
    on_unscorable: str,
    shared: Shared | None = None,
) -> tuple[dict[str, Delta], dict[str, str]]:
    """Fill in the baseline's part of `result`; return the per-metric deltas and,
    for each metric without one, why."""
    names = list(evaluation.metrics)
    result.baseline = BaselineIdentity(**baseline.identity)
    same_holdout = holdout_identity(baseline.manifest) == holdout_identity(manifest)
    result.data_changes = data_changes(baseline, evaluation, manifest, same_holdout)
    result.params_diff = params_diff(baseline.manifest, manifest)
    if scores is not None and scores.problem is None:
        if not same_holdout:
            result.notes.append(
                "the holdout data differ from the baseline's: its recorded metrics are not "
                "comparable; the baseline was re-scored on this holdout, so the deltas below are"
            )
        cand, base, notes = _paired(evaluation.scored, scores)
        result.notes.extend(notes)
        result.tests = significance_tests(evaluation.scored, base)
        result.per_class = class_recall(evaluation.scored, base)
        result.baseline_status, result.scored_on = "scored", "current holdout"
        deltas = paired_deltas(cand, base, names, st.resamples, st.confidence, st.seed, shared)
        why = {n: "the baseline gives no probabilities" for n in names if n not in deltas}
        return deltas, why
    problem = scores.problem if scores else "not scored"
    result.baseline_problem = problem
    if same_holdout or on_unscorable == "recorded":
        result.baseline_status = "recorded"
        result.scored_on = (
            "recorded metrics (same holdout)"
            if same_holdout
            else ("recorded metrics (other holdout data: not comparable row for row)")
        )
        values = {n: float(v.value) for n, v in evaluation.metrics.items()}
        deltas = recorded_deltas(values, baseline.metrics, names)
        return deltas, {n: f"the baseline recorded no {n}" for n in names if n not in deltas}
    result.baseline_status = "unscorable"
    result.scored_on = "none (baseline not comparable)"
    why = (
        f"the baseline could not be scored on this holdout ({problem}), and its recorded "
        "metrics were measured on other data"
    )
    return {}, dict.fromkeys(names, why)


def _metric_row(
    name: str, evaluation: Evaluation, delta: Delta | None, baseline: Baseline | None
) -> MetricRow:
    m = METRICS[name]
    cm = evaluation.metrics[name]
    recorded = ((baseline.metrics.get("metrics") or {}).get(name) or {}) if baseline else {}
    row = MetricRow(
        metric=name,
        label=m.label,
        greater_is_better=m.greater_is_better,
        candidate=Interval(cm.value, cm.ci_low, cm.ci_high),
        baseline_recorded=recorded.get("value"),
    )
    if delta is None:
        row.verdict = "no baseline" if baseline is None else "n/a"
        return row
    b = delta.baseline
    row.baseline = Interval(b.value, b.ci_low, b.ci_high)
    row.delta, row.ci_low, row.ci_high = delta.delta, delta.ci_low, delta.ci_high
    row.p_value, row.verdict = delta.p_value, delta.verdict
    return row


def compare(
    gates: list[Gate],
    st: StatisticsConfig,
    on_unscorable: str,
    evaluation: Evaluation,
    manifest: dict[str, Any],
    baseline: Baseline | None,
    scores: BaselineScores | None,
    shared: Shared | None = None,
) -> Comparison:
    """The whole comparison record (comparison.json). `shared`: what evaluate
    computed earlier in this process (the candidate's bootstrap units)."""
    result = Comparison(
        primary_metric=evaluation.primary,
        statistics=Statistics(
            "paired bootstrap (percentile)", st.resamples, st.confidence, st.seed
        ),
    )
    deltas: dict[str, Delta] = {}
    why: dict[str, str] = {}
    if baseline is not None:
        deltas, why = _deltas(
            result, evaluation, manifest, baseline, scores, st, on_unscorable, shared
        )
    for name in evaluation.metrics:
        row = _metric_row(name, evaluation, deltas.get(name), baseline)
        row.not_compared = why.get(name)
        if name == "accuracy" and isinstance(result.tests, McNemar) and name in deltas:
            row.p_value_mcnemar = result.tests.p_value
        result.metrics.append(row)
    values = {n: float(v.value) for n, v in evaluation.metrics.items()}
    gate_results = [
        evaluate_gate(
            g,
            values.get(g.metric, math.nan),
            deltas.get(g.metric),
            METRICS[g.metric].greater_is_better,
            st.confidence,
            missing=why.get(g.metric, "no comparable baseline value") if baseline else None,
            on_missing="skip" if on_unscorable == "skip" else "fail",
        )
        for g in gates
    ]
    result.gates = sorted(gate_results, key=lambda r: ORDER[r.status])
    result.verdict = overall(gate_results, result.baseline_status)
    p = next(r for r in result.metrics if r.metric == evaluation.primary)
    result.primary = Primary(evaluation.primary, p.candidate.value, p.delta, p.verdict)
    return result
