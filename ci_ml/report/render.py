"""Rendering report.md and model-card.md from their templates.

Templates are package data (ci_ml/report/templates/*.md.j2) rendered in a
sandboxed Jinja environment; number formatting lives in the filters
(ci_ml.report.filters), not in the templates. Anything that comes from the data
or the PR (column names, class values, branch names) goes through `md`, which
escapes markdown and HTML, so it can break neither the tables nor the hidden
marker.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from ci_ml.marker import marker
from ci_ml.report import card, numbers, summary
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
from ci_ml.report.numbers import estimate_places, metric_places


def _env(sources: dict[str, str] | None = None) -> Any:
    from jinja2 import FunctionLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    extra = sources or {}
    env = SandboxedEnvironment(
        # The sections and the parts both documents show (the pictures) are templates
        # of their own; a stage that ships its section's text has it found by name.
        loader=FunctionLoader(lambda name: extra[name] if name in extra else _template(name)),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
    env.filters.update(
        md=md,
        code=code,
        num=num,
        signed=signed,
        sci=sci,
        pvalue=pvalue,
        p_equals=p_equals,
        rows=rows,
        seconds=seconds,
        size=size,
        pct=pct,
    )
    env.globals.update(
        ci=ci,
        arrow=arrow,
        digits=estimate_places,
        metric_places=metric_places,
        failures=summary.failures,
        gate_line=summary.gate_line,
        finding_text=summary.finding_text,
        finding_limit=summary.finding_limit,
        times=numbers.times,
        definition=card.definition,
        data_moved=summary.data_moved,
        changes=summary.changes,
        changed=summary.changed,
        checks=summary.checks,
        slice_line=summary.slice_line,
        never_predicted=summary.never_predicted,
        SIZE_RATIO=summary.SIZE_RATIO,
        LATENCY_RATIO=summary.LATENCY_RATIO,
        VERDICT_ICON=VERDICT_ICON,
        HEADLINE=HEADLINE,
        GATE_ICON=GATE_ICON,
    )
    return env


def _template(name: str) -> str:
    return resources.files("ci_ml.report").joinpath("templates", name).read_text(encoding="utf-8")


def render(name: str, ctx: dict[str, Any], sources: dict[str, str] | None = None) -> str:
    return _env(sources).from_string(_template(name)).render(**ctx)


def render_report(ctx: dict[str, Any], sources: dict[str, str] | None = None) -> str:
    """report.md: the headline, then each stage's sections in order (`ctx["sections"]`;
    `sources`: the text of sections a stage ships itself)."""
    text = render("report.md.j2", ctx, sources)
    if marker(ctx["comment_id"]) not in text:
        raise RuntimeError(
            "report.md.j2 lost the sticky-comment marker; the comment could never be updated"
        )
    return text


def render_model_card(ctx: dict[str, Any]) -> str:
    return render("model-card.md.j2", ctx)
