"""The report stage: report.md (the PR comment and job summary),
model-card.md (the release body) and SHA256SUMS.

Templates are package data (ci_ml/templates/*.md.j2) rendered in a sandboxed
Jinja environment; number formatting lives in the filters below, not in the
templates. Anything that comes from the data or the PR (column names, class
values, branch names) goes through `md`, which escapes markdown and HTML, so
it can break neither the tables nor the hidden marker.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import load, sha256_file, write_sums, write_text
from ci_ml.chain import STAGES
from ci_ml.marker import comment_id, marker, release_marker
from ci_ml.stages import charts

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.stages.compare import Comparison
    from ci_ml.stages.evaluate import Evaluation
    from ci_ml.stages.history import History

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


# --- filters ------------------------------------------------------------------


def md(value: Any) -> str:
    """Escape text for a markdown table cell or line: markdown, HTML and newlines."""
    from markupsafe import escape

    if value is None:
        return "—"
    # HTML first (so no tag or comment can open or close), then markdown syntax.
    s = _MD_SPECIAL.sub(r"\\\1", str(escape(str(value))))
    return re.sub(r"[\r\n]+", " ", s)


def code(value: Any) -> str:
    """Inline code: backslash escapes do not work inside backticks, so drop what could end it."""
    if value is None:
        return "—"
    s = re.sub(r"[`\r\n]+", " ", str(value)).strip()
    return f"`{s}`" if s else "—"


def _undefined(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: Any, digits: int = 4) -> str:
    """One format for every metric value and delta: `digits` significant digits,
    positional (0.9758, 0.0117, 0.000219, 54.3), never an exponent beside them."""
    if _undefined(value):
        return "—"
    return charts.fmt(float(value), digits)


def signed(value: Any, digits: int = 3) -> str:
    """A delta: the same format with a sign, to 3 significant digits (as its interval)."""
    if _undefined(value):
        return "—"
    return charts.signed(float(value), digits)


def sci(value: Any) -> str:
    """Engineering tolerances and round-off (parity): 2.504e-07."""
    if _undefined(value):
        return "—"
    return f"{float(value):.3e}"


def ci(low: Any, high: Any) -> str:
    if (
        low is None
        or high is None
        or any(isinstance(x, float) and math.isnan(x) for x in (low, high))
    ):
        return "—"
    return f"[{signed(low, 3)}, {signed(high, 3)}]"


def pct(value: Any) -> str:
    """A share as a percentage: '0%', '1.25%', '—' when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    v = 100 * float(value)
    return "0%" if v == 0 else f"{v:.3g}%"


def rows(n: Any) -> str:
    """'1 row', '1,234 rows'."""
    return f"{int(n):,} row{'' if int(n) == 1 else 's'}"


def p_equals(p: Any) -> str:
    """'p = 0.042', 'p < 0.001' (never 'p = < 0.001')."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def pvalue(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


VERDICT_ICON = charts.ICONS
GATE_ICON = {"pass": "✅", "fail": "❌", "skipped": "⏭️", "not evaluated": "⚠️"}
HEADLINE = {
    "pass": ("✅", "passes its gates"),
    "fail": ("❌", "fails its gates"),
    "tests-failed": ("❌", "fails its model tests"),
    "no-baseline": ("🆕", "first model: no baseline to compare with"),
    "incomplete": ("⚠️", "could not be compared with its baseline: relative gates not evaluated"),
    "invalid-data": ("🚫", "data broke the schema"),
    "unsafe-data": ("🚫", "a data safeguard stopped the build"),
    "failed": ("💥", "the build failed before the comparison"),
    "unchanged": ("♻️", "model unchanged: training skipped"),
}


def arrow(delta: Any) -> str:
    if delta is None or (isinstance(delta, float) and math.isnan(delta)) or delta == 0:
        return ""
    return "↑" if delta > 0 else "↓"


def seconds(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min"


def size(n: Any) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def _env() -> Any:
    from jinja2 import FunctionLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        # The parts both documents show (the pictures) are templates of their own.
        loader=FunctionLoader(lambda name: _template(name)),
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
        ci=ci, arrow=arrow, VERDICT_ICON=VERDICT_ICON, HEADLINE=HEADLINE, GATE_ICON=GATE_ICON
    )
    return env


def _template(name: str) -> str:
    return resources.files("ci_ml.stages").joinpath("templates", name).read_text(encoding="utf-8")


def render(name: str, ctx: dict[str, Any]) -> str:
    return _env().from_string(_template(name)).render(**ctx)


def render_report(ctx: dict[str, Any]) -> str:
    text = render("report.md.j2", ctx)
    if marker(ctx["comment_id"]) not in text:
        raise RuntimeError(
            "report.md.j2 lost the sticky-comment marker; the comment could never be updated"
        )
    return text


def render_model_card(ctx: dict[str, Any]) -> str:
    return render("model-card.md.j2", ctx)


def run_status(
    validation: Any,
    comparison: Any,
    metrics: Any,
    export: Any,
    safeguards: Any = None,
    model_tests: Any = None,
) -> str:
    """What the headline says: the verdict, or how far the build got."""
    if validation and not validation.passed:
        return "invalid-data"
    if safeguards and not safeguards.passed:
        return "unsafe-data"
    if comparison and comparison.verdict == "fail":
        return "fail"
    if model_tests and not model_tests.passed:
        return "tests-failed"
    if comparison:
        return comparison.verdict
    if metrics and export:
        return "no-baseline"
    return "failed"


def pictures(
    comparison: Comparison | None, metrics: Evaluation | None, history: History | None
) -> dict[str, Any]:
    """What the templates draw: the forest plot of the deltas, the history of the
    primary metric, recall per class (each None or empty when it does not apply)."""
    return {
        "forest": charts.forest(comparison),
        "history": charts.history(history, metrics),
        "class_recall": charts.class_recall(metrics, comparison),
    }


def worst_slice(tests: Any) -> dict[str, Any] | None:
    """The headline's worst slice: its name and its ranking metric's numbers."""
    slices = tests.slices if tests and tests.configured else None
    if not slices or not slices.worst:
        return None
    row = next(r for r in slices.slices if r.name == slices.worst)
    return {"name": row.name, "metric": slices.ranked_by, "m": row.metrics[slices.ranked_by]}


def _typed(cls: Any, data: Any) -> Any:
    return None if data is None else load(cls, data)


def _release_facts(
    b: Build, manifest: dict[str, Any] | None, metrics: Evaluation | None, commit: str | None
) -> dict[str, Any]:
    """What the model card's hidden marker tells the registry (`ci-ml registry list`)
    without a download; it also marks the release as ci-ml's, for this model."""
    primary = metrics.primary if metrics else None
    value = metrics.metrics[primary].value if metrics and primary in metrics.metrics else None
    fp = (manifest or {}).get("fingerprint") or {}
    model = b.out / "model.onnx"
    return {
        "name": b.cfg.display_name,
        "prefix": b.cfg.release.tag_prefix,
        "commit": commit,
        "primary": primary,
        "value": None if value is None or math.isnan(value) else round(float(value), 6),
        "fingerprint": fp.get("sha256"),
        "model_sha256": sha256_file(model) if model.is_file() else None,
    }


def context(b: Build) -> dict[str, Any]:
    """What the templates see: every record of the build, typed, and where it ran."""
    from ci_ml.stages.compare import Comparison
    from ci_ml.stages.evaluate import Evaluation
    from ci_ml.stages.export import ExportResult
    from ci_ml.stages.history import FILE, History
    from ci_ml.stages.model_tests import ModelTestsResult
    from ci_ml.stages.safeguards import SafeguardsResult
    from ci_ml.stages.train import TrainResult
    from ci_ml.stages.validate import ValidationResult

    manifest = b.optional("manifest.json")
    metrics = _typed(Evaluation, b.optional("metrics.json"))
    comparison = _typed(Comparison, b.optional("comparison.json"))
    validation = _typed(ValidationResult, b.optional("validation.json"))
    export = _typed(ExportResult, b.record_of("export.json"))
    safeguards = _typed(SafeguardsResult, b.optional("safeguards.json"))
    history = _typed(History, b.record_of(FILE)) if comparison else None
    tests = _typed(ModelTestsResult, b.optional("model-tests.json"))
    try:
        config_label = b.cfg.source.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        config_label = b.cfg.source.as_posix()
    commit = ((manifest or {}).get("git") or {}).get("commit")
    trained = _typed(TrainResult, b.record_of("train.json"))
    status = run_status(validation, comparison, metrics, export, safeguards, tests)
    reused = trained.reused_from if trained else None
    if reused and status == "pass":
        status = "unchanged"
    return {
        "reused": reused,
        "release_marker": release_marker(_release_facts(b, manifest, metrics, commit)),
        "name": b.cfg.display_name,
        "config_path": config_label,
        "comment_id": comment_id(config_label),
        "marker": marker(comment_id(config_label)),
        "status": status,
        "safeguards": safeguards,
        "model_tests": tests if tests and tests.configured else None,
        "worst_slice": worst_slice(tests),
        "manifest": manifest,
        "metrics": metrics,
        "comparison": comparison,
        "validation": validation,
        "export": export,
        "train": trained,
        "timings": b.record_of("timings.json") or {},
        **pictures(comparison, metrics, history),
        "run_url": b.run.run_url,
        "sha": (b.run.github_sha or commit or "")[:12],
    }


@dataclass
class ReportResult:
    text: str
    status: str
    outputs: dict[str, str]  # the action's step outputs


def outputs(ctx: dict[str, Any], out: Path) -> dict[str, str]:
    comp, metrics = ctx["comparison"], ctx["metrics"]
    primary = comp.primary if comp else None
    return {
        "verdict": comp.verdict if comp else ctx["status"],
        "primary-metric": primary.metric if primary else (metrics.primary if metrics else ""),
        "primary-delta": "" if not primary or primary.delta is None else f"{primary.delta:.6g}",
        "report-path": str(out / "report.md"),
        "model-path": str(out / "model.onnx") if (out / "model.onnx").is_file() else "",
        "model-tests": _tests_output(ctx["model_tests"]),
    }


def _tests_output(tests: Any) -> str:
    """passed / failed, or empty when no model test is configured."""
    if tests is None:
        return ""
    return "passed" if tests.passed else "failed"


def run(b: Build) -> ReportResult:
    """The stage: render report.md and model-card.md, refresh the manifest, write SHA256SUMS."""
    t0 = time.perf_counter()
    b.begin("report")
    # Publishable only when every stage before completed and is still current.
    complete = not b.chain_problems([s for s in STAGES if s != "report"])
    ctx = context(b)
    text = render_report(ctx)
    write_text(b.out / "report.md", text)
    if ctx["status"] in ("invalid-data", "unsafe-data", "failed"):
        b.clear(["model-card.md"])  # no model, no card
    else:
        write_text(b.out / "model-card.md", render_model_card(ctx))
    b.record("report", {"complete": complete}, time.perf_counter() - t0)
    if (b.out / "metrics.json").is_file():
        b.write_manifest()
    write_sums(b.out)
    b.seal("report", complete=complete)
    return ReportResult(text, ctx["status"], outputs(ctx, b.out))
