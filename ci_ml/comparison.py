"""Comparing the candidate with the baseline on the same holdout rows: paired
deltas with intervals, significance tests, per-class recall, data, schema and
parameter changes, and the gates. Pure functions of predictions, records and
config; the result is `comparison.json` (ci_ml.records.Comparison)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ci_ml.checks.gates import ORDER, evaluate_gate, overall
from ci_ml.records import (
    BaselineIdentity,
    ClassRecall,
    ColumnChanges,
    Comparison,
    DataChanges,
    ErrorTests,
    Interval,
    McNemar,
    MetricRow,
    PairedEstimate,
    PairedT,
    ParamChange,
    Primary,
    Statistics,
)
from ci_ml.scoring.every_row import Summed, scope
from ci_ml.scoring.pairing import pair
from ci_ml.stats.bootstrap import (
    Delta,
    Estimate,
    Plan,
    Shared,
    block_totals_and_sums,
    delta_of,
    deltas_of,
    mcnemar_exact,
    paired_deltas,
    paired_error_test,
    resample_units,
    tail_of,
    totals_and_sums,
)
from ci_ml.stats.metrics import METRICS, Scored, class_parts

if TYPE_CHECKING:
    from ci_ml.baseline import Baseline, BaselineScores
    from ci_ml.config import Gate, StatisticsConfig
    from ci_ml.records import Evaluation, Manifest


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


def _paired(c: tuple[float, Any], b: tuple[float, Any], confidence: float) -> PairedEstimate:
    d = delta_of("", True, c, b, confidence)
    return PairedEstimate(
        candidate=d.candidate.value,
        ci_low=d.candidate.ci_low,
        ci_high=d.candidate.ci_high,
        baseline=d.baseline.value,
        delta=d.delta,
        delta_ci_low=d.ci_low,
        delta_ci_high=d.ci_high,
        p_value=d.p_value,
        verdict=d.verdict,
    )


def class_recall(
    candidate: Scored, baseline: Scored, resamples: int = 1000, confidence: float = 0.95,
    seed: int = 0, summed: Summed | None = None,
) -> list[ClassRecall] | None:  # fmt: skip
    """Each class's recall and precision for both models on the same rows, with
    paired bootstrap intervals of the changes (classification only). A class a
    model never predicts has recall 0 and no precision (NaN), not a silent 0.
    `summed`: both models' per-class sums over every holdout row (engine: dask),
    resampled as blocks, instead of the rows of `candidate` and `baseline`."""
    import numpy as np

    if candidate.task != "classification" or not candidate.classes:
        return None
    k, n = len(candidate.classes), len(candidate.y)
    if summed is not None and summed.class_units is not None:
        parts = summed.class_units
        totals, sums = block_totals_and_sums(parts, summed.told.rows, resamples, seed)
    else:
        parts = [class_parts(candidate.y, s.pred[:n], k) for s in (candidate, baseline)]
        totals, sums = totals_and_sums(parts, resamples, seed)
    if np.array_equal(parts[0], parts[1]):  # one model twice: exact zeros
        totals, sums = [totals[0], totals[0]], [sums[0], sums[0]]

    def ratio(t: Any, i: int, j: int) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            return t[..., i] / t[..., j]

    out = []
    for i, label in enumerate(candidate.classes):
        recall = [
            (float(ratio(t, k + i, i)), ratio(r, k + i, i))
            for t, r in zip(totals, sums, strict=True)
        ]
        prec = [(float(ratio(t, k + i, 2 * k + i)), ratio(r, k + i, 2 * k + i))
                for t, r in zip(totals, sums, strict=True)]  # fmt: skip
        out.append(
            ClassRecall(
                str(label),
                int(totals[0][i]),
                recall[0][0],
                recall[1][0],
                recall=_paired(recall[0], recall[1], confidence),
                precision=_paired(prec[0], prec[1], confidence),
                predicted=int(totals[0][2 * k + i]),
            )
        )
    return out


def _number(v: Any) -> float:
    """A recorded number (null for undefined in strict JSON) as a float."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def recorded_deltas(
    candidate_values: dict[str, float], recorded: Evaluation, names: list[str]
) -> dict[str, Delta]:
    """Deltas against the baseline's recorded metrics: no interval, no verdict."""
    out = {}
    nan = math.nan
    for name in names:
        rec = recorded.metrics.get(name)
        if rec is None or name not in candidate_values:
            continue
        b, c = _number(rec.value), candidate_values[name]
        out[name] = Delta(
            name,
            METRICS[name].greater_is_better,
            Estimate(c, nan, nan),
            Estimate(b, _number(rec.ci_low), _number(rec.ci_high)),
            c - b,
            nan,
            nan,
            nan,
            "n/a",
        )
    return out


def schema_changes(base_manifest: Manifest, cand_manifest: Manifest) -> ColumnChanges:
    b, c = base_manifest.columns, cand_manifest.columns
    return ColumnChanges(
        added=sorted(set(c) - set(b)),
        removed=sorted(set(b) - set(c)),
        retyped=[
            {"column": k, "baseline": b[k], "candidate": c[k]}
            for k in sorted(set(b) & set(c))
            if b[k] != c[k]
        ],
        schema_changed=base_manifest.schema.sha256 != cand_manifest.schema.sha256,
    )


def holdout_identity(manifest: Manifest) -> str | None:
    """A fingerprint of the holdout rows: the test file's sha256, or data file + split."""
    files = manifest.data.files if manifest.data else {}
    if "test" in files:
        return files["test"].sha256
    if "data" in files:
        split = (manifest.data.split if manifest.data else None) or {}
        by = f":{split['by']}" if split.get("by") else ""  # absent: a random split
        return f"{files['data'].sha256}:{split.get('test_size')}:{split.get('seed')}:{split.get('stratify')}{by}"
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


def _user_set(m: Manifest) -> tuple[dict[str, Any] | None, Any]:
    """The parameters and seed the config set (manifest.config), None for a manifest
    that did not record its config."""
    model = m.config.get("model") if isinstance(m.config, dict) else None
    if not isinstance(model, dict):
        return None, None
    params = model.get("params")
    return (params if isinstance(params, dict) else {}), model.get("seed")


def params_diff(base_manifest: Manifest, cand_manifest: Manifest) -> list[ParamChange]:
    """The parameters the user set (in either config) whose values differ, and a
    change of estimator class or seed: not every default of both estimators."""
    b = base_manifest.model.params if base_manifest.model else {}
    c = cand_manifest.model.params if cand_manifest.model else {}
    (b_set, b_seed), (c_set, c_seed) = _user_set(base_manifest), _user_set(cand_manifest)
    # Either config's own keys; a manifest without its config: every parameter.
    keys = set(b) | set(c) if b_set is None or c_set is None else set(b_set) | set(c_set)

    def value(effective: dict[str, Any], user: dict[str, Any] | None, k: str) -> Any:
        return effective[k] if k in effective else (user or {}).get(k)

    # A parameter one estimator lacks reads as None (unset) on that side: equal
    # values, or unset on both sides, are not changes.
    rows = [
        ParamChange(k, value(b, b_set, k), value(c, c_set, k))
        for k in sorted(keys)
        if not _same(value(b, b_set, k), value(c, c_set, k))
    ]
    if b_seed is not None and c_seed is not None and b_seed != c_seed:
        rows.insert(0, ParamChange("(seed)", b_seed, c_seed))
    b_est = base_manifest.model.estimator if base_manifest.model else None
    c_est = cand_manifest.model.estimator if cand_manifest.model else None
    if b_est != c_est:
        rows.insert(0, ParamChange("(estimator)", b_est, c_est))
    return rows


def changed_files(base_manifest: Manifest, cand_manifest: Manifest) -> list[str]:
    """The data files (by role: train, test, data) whose content differs or that
    only one build had."""
    b = base_manifest.data.files if base_manifest.data else {}
    c = cand_manifest.data.files if cand_manifest.data else {}
    return [
        role
        for role in sorted(set(b) | set(c))
        if role not in b or role not in c or b[role].sha256 != c[role].sha256
    ]


def data_changes(
    baseline: Baseline, evaluation: Evaluation, manifest: Manifest, same_holdout: bool
) -> DataChanges:
    return DataChanges(
        holdout_identical=same_holdout,
        rows={"baseline": baseline.metrics.rows, "candidate": evaluation.rows},
        class_balance=class_balance(baseline.metrics.class_balance, evaluation.class_balance),
        columns=schema_changes(baseline.manifest, manifest),
        files=changed_files(baseline.manifest, manifest),
    )


def _deltas(
    result: Comparison,
    evaluation: Evaluation,
    manifest: Manifest,
    baseline: Baseline,
    scores: BaselineScores | None,
    st: StatisticsConfig,
    on_unscorable: str,
    shared: Shared | None = None,
    summed: Summed | None = None,
) -> tuple[dict[str, Delta], dict[str, str]]:
    """Fill in the baseline's part of `result`; return the per-metric deltas and,
    for each metric without one, why. `summed`: both models' components over every
    holdout row (engine: dask), the deltas' source when given."""
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
        cand, base, notes = pair(evaluation.scored, scores)
        result.notes.extend(notes)
        result.tests = significance_tests(evaluation.scored, base)
        result.per_class = class_recall(
            evaluation.scored, base, st.resamples, st.confidence, st.seed, summed
        )
        result.baseline_status, result.scored_on = "scored", "current holdout"
        if summed is None:
            deltas = paired_deltas(cand, base, names, st.resamples, st.confidence, st.seed, shared)
        else:
            deltas = every_row_deltas(summed, cand, base, names, st)
            every = ["paired deltas", "their intervals and p-values"]
            if summed.class_units is not None:
                every.append("per-class recall and precision")
            on_sample = ["the tail checks"]
            if summed.told.tests is not None:  # plain sums: over every row too
                result.tests = summed.told.tests
                every.append(_test_name(result.tests))
            else:
                on_sample.insert(0, _test_name(result.tests))
            result.scope = scope(summed, len(evaluation.scored.y), every, on_sample)
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


def every_row_deltas(
    summed: Summed, cand: Scored, base: Scored, names: list[str], st: StatisticsConfig
) -> dict[str, Delta]:
    """The paired deltas of the two models summed over every holdout row: the
    block bootstrap evaluate ran, with both models' blocks resampled together.
    Whether an interval is untrustworthy (its tail) is judged on the sample."""
    plan = Plan.blocked_units(summed.told.rows, summed.blocks, st.resamples, st.seed)
    c, b = resample_units(plan, summed.units)
    return deltas_of(c, b, names, st.confidence, lambda name: tail_of(cand, base, name))


def _test_name(tests: McNemar | ErrorTests | None) -> str:
    return "McNemar's test" if isinstance(tests, McNemar) else "the paired t-tests"


def _metric_row(
    name: str, evaluation: Evaluation, delta: Delta | None, baseline: Baseline | None
) -> MetricRow:
    m = METRICS[name]
    cm = evaluation.metrics[name]
    recorded = baseline.metrics.metrics.get(name) if baseline else None
    row = MetricRow(
        metric=name,
        label=m.label,
        greater_is_better=m.greater_is_better,
        candidate=Interval(cm.value, cm.ci_low, cm.ci_high),
        baseline_recorded=recorded.value if recorded is not None else None,
    )
    if delta is None:
        row.verdict = "no baseline" if baseline is None else "n/a"
        return row
    b = delta.baseline
    row.baseline = Interval(b.value, b.ci_low, b.ci_high)
    row.delta, row.ci_low, row.ci_high = delta.delta, delta.ci_low, delta.ci_high
    row.p_value, row.verdict = delta.p_value, delta.verdict
    row.unreliable = delta.unreliable
    return row


def compare(
    gates: list[Gate],
    st: StatisticsConfig,
    on_unscorable: str,
    evaluation: Evaluation,
    manifest: Manifest,
    baseline: Baseline | None,
    scores: BaselineScores | None,
    shared: Shared | None = None,
    summed: Summed | None = None,
) -> Comparison:
    """The whole comparison record (comparison.json). `shared`: what evaluate
    computed earlier in this process (the candidate's bootstrap units); `summed`:
    the candidate's and the baseline's over every holdout row (engine: dask)."""
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
            result, evaluation, manifest, baseline, scores, st, on_unscorable, shared, summed
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
