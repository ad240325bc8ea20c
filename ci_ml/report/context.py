"""What the templates see: every record of the build, typed, the headline's
status, the pictures, and the action's step outputs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import HISTORY
from ci_ml.marker import comment_id, marker, release_marker
from ci_ml.records import History, RecordError, load
from ci_ml.report import charts

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.records import Comparison, Evaluation, History, Manifest
    from ci_ml.stage import Stage


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


def _release_facts(
    b: Build, manifest: Manifest | None, metrics: Evaluation | None, commit: str | None
) -> dict[str, Any]:
    """What the model card's hidden marker tells the registry (`ci-ml registry list`)
    without a download; it also marks the release as ci-ml's, for this model."""
    primary = metrics.primary if metrics else None
    value = metrics.metrics[primary].value if metrics and primary in metrics.metrics else None
    fp = manifest.fingerprint if manifest else None
    return {
        "name": b.cfg.display_name,
        "prefix": b.cfg.release.tag_prefix,
        "commit": commit,
        "primary": primary,
        "value": None if value is None or math.isnan(value) else round(float(value), 6),
        "fingerprint": fp.sha256 if fp else None,
        "model_sha256": b.digest("model.onnx"),
    }


def _history(b: Build) -> History | None:

    data = b.optional(HISTORY)
    if data is None:
        return None
    try:
        return load(History, data)
    except RecordError:
        return None  # a picture, never a reason to fail


def sections(stages: tuple[Stage, ...]) -> tuple[list[str], dict[str, str]]:
    """The report's sections in order: template names, and the text of those a
    stage ships itself (by the name the loader knows them under)."""
    found: list[tuple[int, str]] = []
    sources: dict[str, str] = {}
    for stage in stages:
        for i, section in enumerate(stage.sections):
            name = section.template or f"{stage.name}-{i}.inline.md.j2"
            if section.source is not None:
                sources[name] = section.source
            found.append((section.order, name))
    return [name for _, name in sorted(found, key=lambda x: x[0])], sources


def context(b: Build, manifest: Manifest | None) -> dict[str, Any]:
    """What the templates see: every stage's record, typed (`results`, and the
    built-in ones by name), the manifest, the sections, and where the build ran."""
    results = {name: b.result(name) for name in b.chain.names}
    metrics, comparison = results.get("evaluate"), results.get("compare")
    validation, export = results.get("validate"), results.get("export")
    safeguards, tests = results.get("safeguards"), results.get("model_tests")
    trained = results.get("train")
    history = _history(b) if comparison else None
    try:
        config_label = b.cfg.source.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        config_label = b.cfg.source.as_posix()
    commit = manifest.commit if manifest else None
    status = run_status(validation, comparison, metrics, export, safeguards, tests)
    reused = trained.reused_from if trained else None
    if reused and status == "pass":
        status = "unchanged"
    names, _ = sections(b.chain.stages)
    return {
        "results": results,
        "sections": names,
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
        "timings": b.timings_done,
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
