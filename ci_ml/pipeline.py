"""The pipeline: the stages in order, each in a log group.

    validate ──► safeguards ──► train ──► export ──► evaluate ──► compare ──► model tests ──► report

Export comes before evaluate because the metrics are the shipped model's: the
ONNX file's predictions, which the parity check has proved agree with
scikit-learn's.

Each stage is `ci_ml.stages.<name>.run(build, ...)`: it reads what earlier
stages left in the build, writes its own part and returns a typed result. A
failing stage still leaves a report of what happened.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ci_ml.build import Build
from ci_ml.fingerprint import CacheDecision, decide
from ci_ml.stages import (
    compare,
    evaluate,
    export,
    model_tests,
    report,
    safeguards,
    train,
    validate,
)

if TYPE_CHECKING:
    from ci_ml.stages.compare import Comparison
    from ci_ml.stages.evaluate import Evaluation
    from ci_ml.stages.history import History


class Console(Protocol):
    """Where the pipeline writes its progress (ci_ml.github.actions.Actions)."""

    def group(self, title: str) -> AbstractContextManager[None]: ...
    def warning(self, message: str, *, file: str | None = None) -> None: ...
    def error(self, message: str, *, file: str | None = None, title: str | None = None) -> None: ...
    def append_summary(self, markdown: str) -> bool: ...
    def set_outputs(self, values: Mapping[str, object]) -> None: ...


def stage(console: Console, name: str, fn: Callable[..., Any], *args: Any) -> Any:
    with console.group(f"ci-ml {name}"):
        return fn(*args)


def safeguards_stage(b: Build, baseline: Path | None, console: Console) -> Any:
    """The data checks; each finding also becomes an annotation in Actions."""
    from ci_ml.artifact import load, read_json

    try:
        return stage(console, "check-data", safeguards.run, b, baseline)
    finally:
        record = b.out / safeguards.RECORD
        if record.is_file():
            result = load(safeguards.SafeguardsResult, read_json(record))
            for f in result.findings:
                say = console.error if f.severity == "error" else console.warning
                say(f"data safeguard {f.check}: {f.message}")


def compare_stage(
    b: Build, baseline: Path | None, console: Console, history: History | None = None
) -> Comparison:
    comp = stage(console, "compare", compare.run, b, baseline, history)
    if comp.baseline_problem:
        console.warning(f"baseline not re-scored: {comp.baseline_problem}")
    return comp


def model_tests_stage(
    b: Build, baseline: Path | None, console: Console
) -> model_tests.ModelTestsResult:
    """The model tests; each failed one also becomes an error annotation in Actions."""
    result = stage(console, "test-model", model_tests.run, b, baseline)
    for f in result.failures:
        console.error(f"model test failed ({f.kind}) {f.name}: {f.message}")
    return result


def report_stage(b: Build, console: Console) -> report.ReportResult:
    result = stage(console, "report", report.run, b)
    console.append_summary(result.text)
    console.set_outputs(result.outputs)
    return result


def metrics_line(m: Evaluation) -> str:
    return "metrics: " + ", ".join(f"{k} {v.value:.4g}" for k, v in m.metrics.items())


def verdict_line(c: Comparison) -> str:
    p = c.primary
    if p.delta is None:
        return f"verdict: {c.verdict}; {p.metric} {p.candidate:.4g}"
    shown = "0" if p.delta == 0 else f"{p.delta:+.4g}"
    return f"verdict: {c.verdict}; {p.metric} {p.candidate:.4g} (Δ {shown}, {p.verdict})"


def cache_decision(b: Build, baseline: Path | None, enabled: bool) -> CacheDecision:
    """Reuse the baseline's model? Only when its fingerprint is this build's."""
    from ci_ml.stages.baseline import load_baseline

    manifest = load_baseline(baseline).manifest if baseline is not None else None
    candidate = b.fingerprint
    if candidate is None:  # pragma: no cover - validate always records the schema
        return CacheDecision(False, "no fingerprint")
    return decide(candidate, manifest, enabled)


def train_and_export(b: Build, baseline: Path | None, console: Console, cache: bool) -> None:
    """Fit and export, or (the build cache) take the baseline's model when it was
    made of exactly the same data, config, code and packages."""
    decision = cache_decision(b, baseline, cache)
    if decision.reuse and baseline is not None:
        print(f"model unchanged: {decision.reason}; training skipped (--no-cache to force)")
        stage(console, "train", train.reuse, b, baseline, decision.reason)
        stage(console, "export", export.reuse, b, baseline)
        return
    if baseline is not None:
        print(f"training: {decision.reason}")
    stage(console, "train", train.run, b)
    stage(console, "export", export.run, b)


def tests_line(t: model_tests.ModelTestsResult) -> str:
    if not t.configured:
        return "model tests: none configured"
    return f"model tests: {t.total - t.failed} of {t.total} passed"


def run(
    b: Build,
    baseline: Path | None,
    console: Console,
    history: History | None = None,
    cache: bool = True,
) -> tuple[Comparison, model_tests.ModelTestsResult]:
    """Every stage in order, from a clean build directory."""
    b.clear_all()
    try:
        stage(console, "validate", validate.run, b)
        safeguards_stage(b, baseline, console)
        train_and_export(b, baseline, console, cache)
        print(metrics_line(stage(console, "evaluate", evaluate.run, b)))
        comp = compare_stage(b, baseline, console, history)
        print(verdict_line(comp))
        tests = model_tests_stage(b, baseline, console)
        print(tests_line(tests))
    except Exception:
        # Best effort: a report of what did happen (validation failures, say) for the
        # PR comment; the original error is what the user sees and the exit code.
        with contextlib.suppress(Exception):  # never hide the original error
            report_stage(b, console)
        raise
    report_stage(b, console)
    return comp, tests
