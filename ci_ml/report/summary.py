"""The report's first screen, decided: every failed check with its reason, every
significant change (gated or not) ordered by importance, the slice to look at,
what the PR changed and which checks ran. Pure functions of the typed records;
the text they return is markdown-safe (user text through `md`) and its numbers
come from ci_ml.report.numbers, so they read as in the sections below."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.report import numbers
from ci_ml.report.filters import code, md, size
from ci_ml.stats.metrics import METRICS

if TYPE_CHECKING:
    from ci_ml.records import (
        Comparison,
        DataChanges,
        Evaluation,
        ExportResult,
        Finding,
        GateResult,
        ModelTestsResult,
        PairedEstimate,
        SafeguardsResult,
        SliceRow,
        ValidationResult,
    )

# A model's size is exact, but a few percent is no news; latency timed on a shared
# runner varies by tens of percent between runs of one model (a byte-identical
# model measured 1.10x and 1.14x), so only a doubling or a halving is listed.
SIZE_RATIO = 1.5
LATENCY_RATIO = 2.0

FAILED = "❌ gate failed"
PASSED = "✅ gate passed"
NOT_GATED = "⚠️ significant, not gated"
NOT_GATED_GAIN = "significant, not gated"  # an improvement: real, nothing to fear
BUDGET_WORDS = {
    FAILED: "❌ budget exceeded",
    PASSED: "✅ within budget",
    NOT_GATED: "⚠️ significant, no budget set",
    NOT_GATED_GAIN: "significant, no budget set",
}
GATE_WORDS = {v: k for k, v in BUDGET_WORDS.items()}
# Importance, most first: what the gates are about, then the finer views.
KINDS = ("primary", "metric", "class", "slice", "calibration", "size", "latency")


@dataclass
class Failure:
    what: str  # markdown
    why: str  # markdown


@dataclass
class Change:
    kind: str  # one of KINDS
    what: str  # markdown
    verdict: str  # regressed | improved
    before: str
    after: str
    delta: str  # "−0.035 [−0.069, −0.006]", or a ratio "66×"
    check: str  # FAILED | PASSED | NOT_GATED | NOT_GATED_GAIN
    size: float = 0.0  # how far the change goes, to order changes of one kind

    @property
    def icon(self) -> str:
        return "🔴" if self.verdict == "regressed" else "🟢"


def _gate_text(g: GateResult) -> str:
    return f"{code(g.metric)} {g.rule.replace('_', ' ')} {numbers.general(g.threshold, 4)}"


def gate_line(g: GateResult, comparison: Comparison | None) -> str:
    """A gate's outcome in the report's words (markdown): the metric's label and its
    numbers as the tables print them; the gate's own reason when it has no number."""
    rows = [r for r in comparison.metrics if r.metric == g.metric] if comparison else []
    if g.status not in ("pass", "fail") or not numbers.finite(g.actual) or not rows:
        return md(g.reason)
    row = rows[0]
    label, d = md(row.label), numbers.row_places(row)
    if g.rule in ("min", "max"):
        yes, no = ("≥", "<") if g.rule == "min" else ("≤", ">")
        sym = yes if g.status == "pass" else no
        return (
            f"{label} {numbers.fixed(g.actual, d)} {sym} {g.rule} {numbers.general(g.threshold, 4)}"
        )
    pct = g.rule == "max_regression_pct"
    amount = f"{numbers.general(g.actual, 3)}%" if pct else numbers.fixed(g.actual, d)
    limit = numbers.general(g.threshold, 4) + ("%" if pct else "")
    before = row.baseline.value if row.baseline else row.baseline_recorded
    change = f"{numbers.fixed(before, d)} → {numbers.fixed(row.candidate.value, d)}"
    if g.actual <= 0:
        return f"{label} did not regress ({change})"
    if g.status == "fail":
        why = ", significant" if row.verdict == "regressed" else ""
        if row.unreliable:
            why = ", its interval not trustworthy"
        return f"{label} worse by {amount} ({change}), over the limit {limit}{why}"
    if g.actual > g.threshold:
        return f"{label} worse by {amount} ({change}), over the limit {limit} but within noise"
    return f"{label} worse by {amount} ({change}), within the limit {limit}"


def failures(
    validation: ValidationResult | None,
    safeguards: SafeguardsResult | None,
    comparison: Comparison | None,
    tests: ModelTestsResult | None,
    export: ExportResult | None,
) -> list[Failure]:
    """Every check that failed, in the order the build ran them, with its reason."""
    out: list[Failure] = []
    if validation and not validation.passed:
        for f in validation.failures:
            where = f"{md(f.dataset)} {md(f.column) if f.column else 'table'}"
            out.append(Failure(f"schema: {where}", f"{md(f.check)}, {f.failing_rows} row(s)"))
    for sf in safeguards.findings if safeguards else []:
        if sf.severity == "error":
            what = f"safeguard {sf.check.replace('_', ' ')}"
            why = f"{finding_text(sf)}; limit {finding_limit(sf)}"
            out.append(Failure(f"{what} {md(sf.column)}" if sf.column else what, why))
    if export and export.parity and not export.parity.get("passed", True):
        out.append(Failure("ONNX parity", "the exported model disagrees with scikit-learn"))
    for g in comparison.gates if comparison else []:
        if g.status == "fail":
            out.append(Failure(f"gate {_gate_text(g)}", gate_line(g, comparison)))
    for t in tests.failures if tests else []:
        out.append(Failure(f"model test ({t.kind}) {md(t.name)}", md(t.message)))
    return out


ROW_WORDS = {
    "contamination": "holdout rows also occur in the training rows",
    "duplicates": "training rows repeat an earlier one",
    "conflicting_labels": "training rows share their features with a row of another label",
}
MAX_LINES = 10


def finding_text(f: Finding) -> str:
    """A safeguard finding (markdown): for a row check, how many rows of how many,
    and the first rows as lines of their file; else the check's own message."""
    if f.check not in ROW_WORDS or f.rows is None or not f.of_rows:
        return md(f.message)
    share = numbers.general(100 * f.rows / f.of_rows, 2)
    text = f"{f.rows:,} of {f.of_rows:,} {ROW_WORDS[f.check]} ({share}%)"
    if f.lines:
        shown = ", ".join(str(n) for n in f.lines[:MAX_LINES])
        more = ", …" if f.rows > len(f.lines[:MAX_LINES]) else ""
        text += f": lines {shown}{more} of {code(f.file)} (1-based, the header is line 1)"
    elif f.examples:
        shown = ", ".join(str(n) for n in f.examples[:MAX_LINES])
        text += f": rows {shown} of {code(f.file)} (0-based)" if f.file else f": rows {shown}"
    return text


def finding_limit(f: Finding) -> str:
    """The threshold the finding crossed, in the check's own terms."""
    if f.threshold is None:
        return "—"
    if f.check in ROW_WORDS:
        return f"{numbers.general(100 * f.threshold, 2)}% of the rows"
    if f.check == "skew":
        return f"PSI {numbers.general(f.threshold, 2)}"
    return numbers.general(f.threshold, 3)


def _check(gates: list[GateResult], verdict: str) -> str:
    statuses = {g.status for g in gates}
    if "fail" in statuses:
        return FAILED
    if "pass" in statuses:
        return PASSED
    return NOT_GATED if verdict == "regressed" else NOT_GATED_GAIN


def _estimate_change(
    kind: str, what: str, m: PairedEstimate, gates: list[GateResult], scale: float = 1.0
) -> Change:
    d = numbers.estimate_places(m)
    return Change(
        kind,
        what,
        m.verdict,
        numbers.fixed(m.baseline, d),
        numbers.fixed(m.candidate, d),
        f"{numbers.signed(m.delta, d)} {numbers.interval(m.delta_ci_low, m.delta_ci_high, d)}",
        _check(gates, m.verdict),
        abs(float(m.delta or 0.0)) * scale,
    )


def _significant(verdict: str) -> bool:
    return verdict in ("regressed", "improved")


def _metric_changes(comparison: Comparison) -> list[Change]:
    out = []
    for r in comparison.metrics:
        if not _significant(r.verdict):
            continue
        d = numbers.row_places(r)
        gates = [g for g in comparison.gates if g.metric == r.metric]
        primary = r.metric == comparison.primary_metric
        arrow = "↑" if r.greater_is_better else "↓"
        out.append(
            Change(
                "primary" if primary else "metric",
                f"{md(r.label)} {arrow}{' (primary)' if primary else ''}",
                r.verdict,
                numbers.fixed(r.baseline.value if r.baseline else r.baseline_recorded, d),
                numbers.fixed(r.candidate.value, d),
                f"{numbers.signed(r.delta, d)} {numbers.interval(r.ci_low, r.ci_high, d)}",
                _check(gates, r.verdict),
                abs(float(r.delta or 0.0)),
            )
        )
    return out


def _class_changes(comparison: Comparison) -> list[Change]:
    out = []
    for c in comparison.per_class or []:
        for name, m in (("recall", c.recall), ("precision", c.precision)):
            if m is not None and _significant(m.verdict):
                out.append(_estimate_change("class", f"class {md(c.label)}: {name} ↑", m, []))
    return out


def _slice_changes(tests: ModelTestsResult) -> list[Change]:
    sl = tests.slices
    if sl is None:
        return []
    out = []
    for r in sl.slices:
        for metric, m in r.metrics.items():
            if not _significant(m.verdict):
                continue
            gates = [g.gate for g in sl.gates if g.slice == r.name and g.gate.metric == metric]
            out.append(_estimate_change("slice", f"slice {md(r.name)}: {md(metric)}", m, gates))
    return out


def _calibration_changes(tests: ModelTestsResult) -> list[Change]:
    cal = tests.calibration
    if cal is None:
        return []
    out = []
    for m in cal.metrics:
        if _significant(m.verdict):
            gates = [g for g in cal.gates if g.metric == m.metric]
            out.append(_estimate_change("calibration", f"{md(m.label)} ↓", m, gates))
    return out


def _budget_changes(tests: ModelTestsResult) -> list[Change]:
    if tests.budgets is None:
        return []
    out = []
    for m in tests.budgets.measures:
        # A size is exact; a latency is the median of the repeats, with no interval.
        how = "exact" if m.unit == "bytes" else f"median of {tests.budgets.repeats} runs"
        if m.baseline is None or not m.baseline > 0 or not numbers.finite(m.candidate):
            continue
        ratio = m.candidate / m.baseline
        kind = "size" if m.unit == "bytes" else "latency"
        limit = SIZE_RATIO if kind == "size" else LATENCY_RATIO
        if 1 / limit < ratio < limit:
            continue
        budgeted = m.limit is not None or m.ratio_limit is not None
        verdict = "regressed" if ratio > 1 else "improved"
        check = (PASSED if m.passed else FAILED) if budgeted else _check([], verdict)
        show = size if m.unit == "bytes" else _ms
        out.append(
            Change(
                kind,
                md(m.name),
                verdict,
                show(m.baseline),
                show(m.candidate),
                f"{numbers.times(ratio)} ({how})",
                BUDGET_WORDS[check],
                abs(math.log(ratio)),
            )
        )
    return out


def _ms(v: float) -> str:
    return f"{numbers.general(v, 3)} ms"


def changes(comparison: Comparison | None, tests: ModelTestsResult | None) -> list[Change]:
    """Every significant change, gated or not, most important first: regressions
    before improvements, failed checks before unchecked ones before passed ones,
    then by kind (KINDS) and by how far each went."""
    found = _metric_changes(comparison) + _class_changes(comparison) if comparison else []
    if tests is not None:
        found += _slice_changes(tests) + _calibration_changes(tests) + _budget_changes(tests)
    checks = (FAILED, NOT_GATED, NOT_GATED_GAIN, PASSED)

    def order(c: Change) -> tuple[int, int, int, float]:
        check = checks.index(GATE_WORDS.get(c.check, c.check))
        return (c.verdict != "regressed", check, KINDS.index(c.kind), -c.size)

    return sorted(found, key=order)


# --- the slice to look at ---------------------------------------------------------


def slice_line(tests: ModelTestsResult | None) -> SliceLine | None:
    """The slice the first screen names: a slice that fails its gate, else the one
    with the lowest value of the ranking metric (among slices large enough to be
    gated, when there are any); `why` says which ordering chose it."""
    sl = tests.slices if tests and tests.configured else None
    if sl is None or not sl.slices:
        return None
    metric = sl.ranked_by
    failed = [g for g in sl.gates if g.gate.status == "fail"]
    by_name = {r.name: r for r in sl.slices}
    if failed:
        g = failed[0]
        row = by_name.get(g.slice)
        if row is not None:
            m = row.metrics.get(g.gate.metric) or row.metrics[metric]
            return _slice(row, g.gate.metric, m, "failing", md(g.gate.reason), len(failed))
    better = METRICS[metric].greater_is_better if metric in METRICS else True
    pool = [r for r in sl.slices if r.gated] or list(sl.slices)
    pool = [r for r in pool if numbers.finite(r.metrics[metric].candidate)]
    if not pool:
        return None
    row = (min if better else max)(pool, key=lambda r: float(r.metrics[metric].candidate))
    word = "lowest" if better else "highest"
    return _slice(row, metric, row.metrics[metric], word, "", 0)


@dataclass
class SliceLine:
    name: str
    metric: str
    m: PairedEstimate
    order: str  # failing | lowest | highest: which ordering named it
    reason: str  # markdown: the failed gate's reason
    failing: int  # how many slice gates failed
    rows: int


def _slice(
    row: SliceRow, metric: str, m: PairedEstimate, order: str, reason: str, failing: int
) -> SliceLine:
    return SliceLine(row.name, metric, m, order, reason, failing, row.rows)


# --- what the PR changed, and what was checked -----------------------------------


def _value(v: object) -> str:
    return md(v if not isinstance(v, float) else numbers.general(v, 4))


def changed(comparison: Comparison | None, commit: str | None) -> list[str]:
    """One line's parts: parameters the user set, data, schema, code."""
    if comparison is None or comparison.baseline is None:
        return []
    parts = []
    params = comparison.params_diff
    if params:
        shown = [f"{code(p.param)} {_value(p.baseline)} → {_value(p.candidate)}" for p in params]
        more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
        parts.append("parameters " + ", ".join(shown[:3]) + more)
    else:
        parts.append("parameters unchanged")
    dc = comparison.data_changes
    if dc is not None:
        files = dc.files
        if files is None:
            parts.append("data unchanged" if dc.holdout_identical else "holdout data changed")
        else:
            parts.append(f"data changed ({', '.join(files)})" if files else "data unchanged")
        cols = dc.columns
        moved = len(cols.added) + len(cols.removed) + len(cols.retyped)
        if moved:
            parts.append(f"schema: {moved} column(s) added, removed or retyped")
        else:
            parts.append("schema rules changed" if cols.schema_changed else "schema unchanged")
    base = comparison.baseline.commit
    if base and commit:
        same = base[:7] == commit[:7]
        parts.append(f"same commit {commit[:7]}" if same else f"commit {base[:7]} → {commit[:7]}")
    return parts


def checks(
    comparison: Comparison | None,
    tests: ModelTestsResult | None,
    safeguards: SafeguardsResult | None = None,
) -> list[str]:
    """Which checks ran and how they came out: ✅ checked and passed, ❌ failed,
    "not set" for what no gate or budget covers."""
    parts = []
    if safeguards is not None:
        warned = sum(f.severity == "warn" for f in safeguards.findings)
        mark = "✅" if safeguards.passed else "❌"
        parts.append(f"data safeguards {mark}" + (f" ({warned} warning(s))" if warned else ""))
    gates = comparison.gates if comparison else []
    if gates:
        counts = {k: sum(g.status == k for g in gates) for k in ("pass", "fail", "skipped")}
        rest = len(gates) - sum(counts.values())
        text = [f"{counts['pass']} ✅"] if counts["pass"] or not counts["fail"] else []
        text += [f"{counts['fail']} ❌"] if counts["fail"] else []
        text += [f"{counts['skipped']} skipped (no baseline)"] if counts["skipped"] else []
        text += [f"{rest} not evaluated"] if rest else []
        parts.append("gates " + ", ".join(text))
    else:
        parts.append("gates not set")
    if tests is not None and tests.configured:
        ok = tests.total - tests.failed
        if tests.total == 0:
            parts.append("model tests: nothing gated")
        else:
            parts.append(f"model tests {ok} ✅" + (f", {tests.failed} ❌" if tests.failed else ""))
        if tests.budgets is not None:
            for m in tests.budgets.measures:
                budgeted = m.limit is not None or m.ratio_limit is not None
                mark = ("✅" if m.passed else "❌") if budgeted else "budget not set"
                parts.append(f"{md(m.name)} {mark}")
    return parts


def never_predicted(metrics: Evaluation | None) -> list[str]:
    """The classes of the holdout the candidate never predicts (markdown): their
    recall is 0, their precision undefined, and macro precision counts it as 0."""
    cm = metrics.confusion_matrix if metrics else None
    if cm is None:
        return []
    rows = cm.rows_true_cols_pred
    return [
        md(label)
        for j, label in enumerate(cm.labels)
        if sum(r[j] for r in rows) == 0 and sum(rows[j]) > 0
    ]


def data_moved(dc: DataChanges | None) -> bool:
    """Whether the data or schema changed at all (the section is left out when not)."""
    if dc is None:
        return False
    cols = dc.columns
    balance = [(c.get("baseline"), c.get("candidate")) for c in dc.class_balance]
    return bool(
        dc.files
        or not dc.holdout_identical
        or cols.added
        or cols.removed
        or cols.retyped
        or cols.schema_changed
        or dc.rows.get("baseline") != dc.rows.get("candidate")
        or any(b != c for b, c in balance)
    )
