"""The report and its pictures: the templates (package data), the filters that
format numbers and escape user text, the charts, and the context the templates
read. The names below are the package's face; the modules behind them hold
filters (ci_ml.report.filters), rendering (render), the context (context) and
the charts (charts)."""

from ci_ml.report.context import (
    ReportResult,
    context,
    outputs,
    pictures,
    run_status,
    sections,
    worst_slice,
)
from ci_ml.report.filters import (
    GATE_ICON,
    HEADLINE,
    VERDICT_ICON,
    arrow,
    ci,
    code,
    md,
    num,
    p_equals,
    pct,
    pvalue,
    rows,
    sci,
    seconds,
    signed,
    size,
)
from ci_ml.report.render import render_model_card, render_report

__all__ = [
    "GATE_ICON",
    "HEADLINE",
    "VERDICT_ICON",
    "ReportResult",
    "arrow",
    "ci",
    "code",
    "context",
    "md",
    "num",
    "outputs",
    "p_equals",
    "pct",
    "pictures",
    "pvalue",
    "render_model_card",
    "render_report",
    "rows",
    "run_status",
    "sci",
    "sections",
    "seconds",
    "signed",
    "size",
    "worst_slice",
]
