"""drift.md: the drift report for a person (an issue, a job summary): the verdict,
the findings most severe first, a chart of the columns that moved most, and the
tables. Everything from the data (column names, categories) is escaped."""

from __future__ import annotations

import math
import re

from ci_ml.checks.skew import p_text
from ci_ml.records import ColumnDrift, DriftReport, PerformanceDrift
from ci_ml.report.charts import mermaid_text

MARKER = "<!-- ci-ml:drift -->"  # what finds the report again (a sticky issue)
CHART_COLUMNS = 10
ICON = {"drift": "🔴", "warn": "⚠️", "info": "ℹ️"}


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md(value: object) -> str:
    """Text from the data (a column, a category) for a markdown line or table cell:
    HTML's <, > and & as entities, markdown's syntax escaped, newlines as spaces.
    (Quotes stay as they are: an entity such as &#39; would have its # escaped.)"""
    if value is None:
        return "—"
    s = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"[\r\n]+", " ", _MD_SPECIAL.sub(r"\\\1", s))


def render(r: DriftReport) -> str:
    lines = [MARKER, _headline(r), "", _about(r), ""]
    if r.findings:
        lines += ["### Findings, most severe first", ""]
        lines += [f"- {ICON.get(f.severity, '·')} {md(f.message)}" for f in r.findings]
        lines.append("")
    missing = r.settings.get("min_missing_change")
    chart = worst_chart(r.columns, float(missing) if missing else 0.05)
    if chart:
        lines += [chart, ""]
    lines += _columns_table(r)
    predictions = [d for d in (r.prediction, r.prediction_score) if d is not None]
    if predictions:
        lines += ["", "### The model's predictions", ""]
        lines += _table(predictions)
    if r.performance is not None:
        lines += ["", *_performance(r.performance)]
    lines += ["", _rule(r)]
    return "\n".join(lines) + "\n"


def _headline(r: DriftReport) -> str:
    moved = [d for d in r.columns if d.drifted]
    if r.drifted:
        parts = []
        if moved:
            parts.append(f"{len(moved)} of {len(r.columns)} column(s) moved")
        preds = [d for d in (r.prediction, r.prediction_score) if d is not None and d.drifted]
        if preds:
            parts.append("the predictions moved")
        if r.performance and any(m.drifted for m in r.performance.metrics):
            parts.append("the model's metric dropped")
        if not parts:
            parts.append("column(s) are missing")
        return f"## 🔴 Drift: {'; '.join(parts)}"
    return f"## ✅ No drift: {len(r.columns)} column(s) within the thresholds"


def _about(r: DriftReport) -> str:
    ref = r.reference
    what = f"release {md(ref.label)}" if ref.source == "release" else f"build {md(ref.label)}"
    model = f" (model {md(ref.model)})" if ref.model else ""
    commit = f", commit {ref.commit[:7]}" if ref.commit else ""
    files = ", ".join(md(f.rsplit("/", 1)[-1]) for f in r.current.files[:5])
    if len(r.current.files) > 5:
        files += f" and {len(r.current.files) - 5} more"
    labelled = f", {r.current.labelled:,} labelled" if r.current.labelled else ""
    return (
        f"Reference: {what}{model}{commit}. Current data: {files} "
        f"({r.current.rows:,} rows{labelled})."
    )


def worst_chart(columns: list[ColumnDrift], min_missing_change: float) -> str | None:
    """The columns that moved most, each as how far it went in multiples of its
    threshold (the distribution's effect or the missing-value rate's change,
    whichever is further), with the threshold (1) as a line: a Mermaid bar chart."""
    shown = sorted(columns, key=lambda d: -multiple(d, min_missing_change))[:CHART_COLUMNS]
    values = [multiple(d, min_missing_change) for d in shown]
    if not shown or max(values) <= 0:
        return None
    x = ", ".join(f'"{mermaid_text(d.column, 24)}"' for d in shown)
    bars = ", ".join(f"{round(v, 3):g}" for v in values)
    top = max(1.2, max(values) * 1.1)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            '    title "How far the columns moved, in multiples of their threshold"',
            f"    x-axis [{x}]",
            f'    y-axis "effect / threshold (1: the threshold)" 0 --> {round(top, 2):g}',
            f"    bar [{bars}]",
            f"    line [{', '.join(['1'] * len(shown))}]",
            "```",
        ]
    )


def multiple(d: ColumnDrift, min_missing_change: float) -> float:
    """How far a column moved in multiples of its threshold: its distribution's
    effect or its missing-value rate's change, whichever is further."""
    out = [0.0]
    if math.isfinite(d.effect) and d.threshold > 0:
        out.append(d.effect / d.threshold)
    if math.isfinite(d.missing_change) and min_missing_change > 0:
        out.append(abs(d.missing_change) / min_missing_change)
    return max(out)


def _pct(v: float) -> str:
    return "—" if not math.isfinite(v) else f"{100 * v:.1f} %"


def _num(v: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(v) else f"{v:.{digits}f}"


def _table(entries: list[ColumnDrift]) -> list[str]:
    rows = [
        "| | column | kind | test | effect (threshold) | PSI | p, corrected | missing | which way |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in entries:
        icon = "🔴" if d.drifted else "✅"
        effect = f"{_num(d.effect, 3)} ({d.threshold:g})" if math.isfinite(d.effect) else "—"
        p = p_text(d.p_adjusted) if math.isfinite(d.p_adjusted) else "—"
        missing = (
            f"{_pct(d.missing_before)} → {_pct(d.missing_after)}"
            if math.isfinite(d.missing_before)
            else "—"
        )
        if math.isfinite(d.missing_p_adjusted) and d.missing_p_adjusted < 0.05:
            missing += f" ({p_text(d.missing_p_adjusted)})"
        role = " (label)" if d.role == "label" else ""
        rows.append(
            f"| {icon} | {md(d.column)}{role} | {d.kind} | {d.test} | {effect} | {_num(d.psi, 3)} "
            f"| {p} | {missing} | {md(d.direction) if d.direction else '—'} |"
        )
    return rows


def _columns_table(r: DriftReport) -> list[str]:
    if not r.columns:
        return ["No column of the reference is in the current data."]
    return ["### Columns, most moved first", "", *_table(r.columns)]


def _performance(p: PerformanceDrift) -> list[str]:
    icon = {"worse": "🔴", "better": "🟢", "within noise": "🔘"}
    rows = [
        f"### The model's metrics on {p.sampled:,} labelled current rows",
        "",
        "| | metric | release (its holdout) | current | Δ | interval of Δ | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in p.metrics:
        rows.append(
            f"| {icon.get(m.verdict, '·')} | {md(m.label)} | {_num(m.release, 4)} | "
            f"{_num(m.current, 4)} [{_num(m.ci_low, 4)}, {_num(m.ci_high, 4)}] | "
            f"{_num(m.delta, 4)} | [{_num(m.delta_ci_low, 4)}, {_num(m.delta_ci_high, 4)}] | {m.verdict} |"
        )
    rows += ["", f"{int(p.confidence * 100)} % intervals: {p.method}."]
    return rows


def _rule(r: DriftReport) -> str:
    s = r.settings
    psi = f" (or PSI above {s['min_psi']:g})" if s.get("min_psi") else ""
    return (
        "A column drifts when its test on the reference's bins (chi-squared; Monte Carlo "
        f"when counts are small) rejects at α = {s.get('alpha'):g} after a Benjamini–Hochberg "
        f"correction over every test here, and it moved further than its threshold{psi}: the "
        f"largest gap between the binned cumulative shares above {s.get('min_ks'):g} for numbers, "
        f"the share of rows that changed category above {s.get('min_share_shift'):g} for "
        f"categories, or the missing-value rate by more than {s.get('min_missing_change'):g}. "
        "Thresholds: `drift:` in ci-ml.yaml."
    )
