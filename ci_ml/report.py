"""Rendering report.md (the PR comment and job summary) and model-card.md.

Templates are package data (ci_ml/templates/*.md.j2) rendered in a sandboxed
Jinja environment; number formatting lives in the filters below, not in the
templates. Anything that comes from the data or the PR (column names, class
values, branch names) goes through `md`, which escapes markdown and HTML, so
it can break neither the tables nor the hidden marker.
"""

from __future__ import annotations

import hashlib
import math
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import BUILD_DIR, read_json

if TYPE_CHECKING:
    from ci_ml.config import Config

MARKER_PREFIX = "ci-ml:comment"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def comment_id(config_path: str | Path) -> str:
    """A stable id per config, so two models in one repo keep two comments."""
    norm = Path(config_path).as_posix().lstrip("./") or "ci-ml.yaml"
    return hashlib.sha256(norm.encode()).hexdigest()[:12]


def marker(cid: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", cid):
        raise ValueError(f"comment id {cid!r} may only hold letters, digits, '.', '_' and '-'")
    return f"<!-- {MARKER_PREFIX} id={cid} -->"


# --- filters ------------------------------------------------------------------


def md(value: Any) -> str:
    """Escape text for a markdown table cell or line: markdown, HTML and newlines."""
    if value is None:
        return "—"
    # HTML first (so no tag or comment can open or close), then markdown syntax.
    s = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return re.sub(r"[\r\n]+", " ", s)


def code(value: Any) -> str:
    """Inline code: backslash escapes do not work inside backticks, so drop what could end it."""
    if value is None:
        return "—"
    s = re.sub(r"[`\r\n]+", " ", str(value)).strip()
    return f"`{s}`" if s else "—"


def num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    v = float(value)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".") or "0"


def signed(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if float(value) == 0:
        return "0"
    return ("+" if float(value) > 0 else "−") + num(abs(float(value)), digits)


def ci(low: Any, high: Any) -> str:
    if (
        low is None
        or high is None
        or any(isinstance(x, float) and math.isnan(x) for x in (low, high))
    ):
        return "—"
    return f"[{signed(low, 3)}, {signed(high, 3)}]"


def pvalue(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


VERDICT_ICON = {
    "improved": "🟢",
    "regressed": "🔴",
    "within noise": "⚪",
    "n/a": "·",
    "no baseline": "·",
}
HEADLINE = {
    "pass": ("✅", "passes its gates"),
    "fail": ("❌", "fails its gates"),
    "no-baseline": ("🆕", "first model: no baseline to compare with"),
    "invalid-data": ("🚫", "data broke the schema"),
    "failed": ("💥", "the build failed before the comparison"),
}


def arrow(delta: Any, greater_is_better: bool) -> str:
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
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        autoescape=False,
    )
    env.filters.update(
        md=md, code=code, num=num, signed=signed, pvalue=pvalue, seconds=seconds, size=size
    )
    env.globals.update(ci=ci, arrow=arrow, VERDICT_ICON=VERDICT_ICON, HEADLINE=HEADLINE)
    return env


def _template(name: str) -> str:
    return resources.files("ci_ml").joinpath("templates", name).read_text(encoding="utf-8")


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


def _opt(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def run_url(env: dict[str, str]) -> str | None:
    server, repo, run = (
        env.get("GITHUB_SERVER_URL"),
        env.get("GITHUB_REPOSITORY"),
        env.get("GITHUB_RUN_ID"),
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def chart(
    comparison: dict[str, Any] | None, metrics: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Data for a Mermaid bar chart of the metrics that live on a 0..1 scale."""
    if not metrics:
        return None
    rows = []
    for name, m in metrics["metrics"].items():
        base = None
        if comparison:
            row = next((r for r in comparison["metrics"] if r["metric"] == name), None)
            if row and row.get("baseline"):
                base = row["baseline"]["value"]
        vals = [v for v in (m["value"], base) if v is not None]
        if vals and all(0 <= v <= 1 for v in vals if not math.isnan(v)):
            rows.append({"name": name, "candidate": m["value"], "baseline": base})
    if not rows:
        return None
    return {
        "names": [r["name"] for r in rows],
        "candidate": [round(r["candidate"], 4) for r in rows],
        "baseline": [None if r["baseline"] is None else round(r["baseline"], 4) for r in rows],
    }


def context_from_dir(out: Path, env: dict[str, str], cfg: Config) -> dict[str, Any]:
    manifest = _opt(out / "manifest.json")
    metrics = _opt(out / "metrics.json")
    comparison = _opt(out / "comparison.json")
    validation = _opt(out / "validation.json")
    export = _opt(out / BUILD_DIR / "export.json")
    train = _opt(out / BUILD_DIR / "train.json")
    timings = _opt(out / BUILD_DIR / "timings.json") or {}
    if validation and not validation["passed"]:
        status = "invalid-data"
    elif comparison:
        status = comparison["verdict"]
    elif metrics and export:
        status = "no-baseline"
    else:
        status = "failed"
    try:
        config_label = cfg.source.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        config_label = cfg.source.as_posix()
    return {
        "name": cfg.display_name,
        "config_path": config_label,
        "comment_id": comment_id(config_label),
        "marker": marker(comment_id(config_label)),
        "status": status,
        "manifest": manifest,
        "metrics": metrics,
        "comparison": comparison,
        "validation": validation,
        "export": export,
        "train": train,
        "timings": timings,
        "chart": chart(comparison, metrics),
        "run_url": run_url(env),
        "sha": (env.get("GITHUB_SHA") or ((manifest or {}).get("git") or {}).get("commit") or "")[
            :12
        ],
    }
