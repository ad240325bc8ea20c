"""The model-tests stage (`ci-ml test-model`, between compare and report): the
checks `model_tests:` declares and the project's own pytest suites, all run
against the model that ships, model.onnx, through onnxruntime, and the
baseline's model.onnx beside it. The result is `model-tests.json`.

- slices: metrics per slice of the holdout rows with paired-bootstrap deltas
  against the baseline (ci_ml.stats.slices), gates per slice, the worst slice;
- golden rows, invariance, directional expectations, calibration and budgets
  (ci_ml.stages.model_checks);
- pytest suites with the fixtures of ci_ml.testing.plugin (ci_ml.testing.runner).

A failed model test does not stop the build: the stage seals its result, the
report shows it, and the command then exits 7 (ModelTestFailed).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import Num, optional, write_json
from ci_ml.errors import ConfigError, ModelTestFailed
from ci_ml.stages.gates import GateResult
from ci_ml.stages.model_checks import (
    BudgetsResult,
    CalibrationResult,
    GoldenResult,
    RateCheck,
)
from ci_ml.testing.runner import SuiteResult

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.config import Config, ModelTestsConfig, SliceConfig, StatisticsConfig
    from ci_ml.stats.metrics import Scored
    from ci_ml.testing.model import OnnxModel

RESULT = "model-tests.json"
SHOWN_SLICES = 10  # slices in the comment's table; all of them in model-tests.json


# --- the result -----------------------------------------------------------------------


@dataclass
class Failure:
    kind: str  # slice | golden | invariance | directional | calibration | budget | pytest
    name: str
    message: str


@dataclass
class SliceMetric:
    candidate: Num
    ci_low: Num
    ci_high: Num
    baseline: Num | None = None
    delta: Num | None = None
    delta_ci_low: Num | None = None
    delta_ci_high: Num | None = None
    p_value: Num | None = None
    p_adjusted: Num | None = None  # Holm, over the slices large enough to gate
    verdict: str = "no baseline"


@dataclass
class SliceRow:
    name: str
    by: str
    rows: int
    gated: bool  # at least min_rows rows
    metrics: dict[str, SliceMetric]


@dataclass
class SliceGate:
    slice: str
    gate: GateResult


@dataclass
class SlicesResult:
    metrics: list[str]
    ranked_by: str  # the metric the table is sorted by, worst first
    min_rows: int
    confidence: float
    resamples: int
    slices: list[SliceRow]  # worst first; slices too small to gate after the rest
    gates: list[SliceGate]
    passed: bool
    worst: str | None = None
    not_compared: str | None = optional()  # why there are no deltas though a baseline exists


@dataclass
class ModelTestsResult:
    """model-tests.json: every model test of the build and whether it held."""

    configured: bool
    passed: bool = True
    total: int = 0
    failed: int = 0
    baseline: str = "none"  # none | compared | why the baseline gave nothing to compare
    failures: list[Failure] = field(default_factory=list)
    slices: SlicesResult | None = optional()
    golden: GoldenResult | None = optional()
    invariance: list[RateCheck] = field(default_factory=list)
    directional: list[RateCheck] = field(default_factory=list)
    calibration: CalibrationResult | None = optional()
    budgets: BudgetsResult | None = optional()
    pytest: SuiteResult | None = optional()


# --- inputs ---------------------------------------------------------------------------


@dataclass
class Inputs:
    """What the checks run on: both models, the holdout and training rows, the
    candidate's and the baseline's predictions on the holdout aligned class by class."""

    candidate: OnnxModel
    X: pd.DataFrame  # holdout features, as the model reads them
    train_X: pd.DataFrame
    scored: Scored  # the candidate on the holdout (widened if the baseline knows more classes)
    baseline: OnnxModel | None = None
    base_scored: Scored | None = None
    missing: str | None = None  # why a baseline that exists gives no comparable numbers


def inputs(b: Build, baseline_dir: Path | None) -> Inputs:
    from ci_ml.stages import baseline as baseline_mod
    from ci_ml.stages.compare import _paired
    from ci_ml.stages.evaluate import load_evaluation
    from ci_ml.testing.model import OnnxModel

    evaluation = load_evaluation(b, "test-model")
    X, _ = b.dataset.xy("test")
    train_X = b.dataset.features_of("train", training_columns(b.cfg))
    found = Inputs(OnnxModel.load(b.out), X, train_X, evaluation.scored)
    if baseline_dir is None:
        return found
    base = baseline_mod.load_baseline(baseline_dir)
    scores = baseline_mod.score(base, X, b.task)
    if scores.problem is not None:
        found.missing = f"the baseline could not be scored on this holdout ({scores.problem})"
        return found
    found.baseline = OnnxModel(base.directory / "model.onnx", base.manifest)
    found.scored, found.base_scored, _ = _paired(evaluation.scored, scores)
    return found


# --- slices ---------------------------------------------------------------------------


def slice_metrics(cfg: SliceConfig, primary: str, task: str, has_proba: bool) -> list[str]:
    """The metrics computed per slice: the configured ones, else the gated ones and the
    primary metric; each must be one of the task's, and computable for this model."""
    from ci_ml.stats.metrics import METRICS

    names = list(cfg.metrics or dict.fromkeys([*(g.metric for g in cfg.gates), primary]))
    for name in names:
        m = METRICS.get(name)
        if m is None or m.task != task:
            valid = ", ".join(n for n, x in METRICS.items() if x.task == task)
            raise ConfigError(
                f"model_tests.slices: {name!r} is not a {task} metric", hint=f"one of: {valid}"
            )
        if m.needs_proba and not has_proba:
            raise ConfigError(
                f"model_tests.slices: {name} needs predicted probabilities, and the model has none"
            )
    gated = [g.metric for g in cfg.gates if g.metric not in names]
    if gated:
        raise ConfigError(
            f"model_tests.slices.gates: {', '.join(gated)} is not in model_tests.slices.metrics"
        )
    return names


def _slice_row(s: Any, rows: int, gated: bool, per_metric: dict[str, Any], i: int) -> SliceRow:
    out = {}
    for name, sm in per_metric.items():
        r = sm.results[i]
        if hasattr(r, "delta"):
            out[name] = SliceMetric(
                r.candidate.value, r.candidate.ci_low, r.candidate.ci_high,
                r.baseline.value, r.delta, r.ci_low, r.ci_high, r.p_value,
                float(sm.p_adjusted[i]), r.verdict if gated else "too small to test",
            )  # fmt: skip
        else:
            out[name] = SliceMetric(r.value, r.ci_low, r.ci_high)
    return SliceRow(s.name, s.by, rows, gated, out)


def _badness(row: SliceRow, metric: str, gib: bool) -> float:
    """How bad a slice looks: its worsening against the baseline, else its value."""
    m = row.metrics.get(metric)
    if m is None:
        return -math.inf
    worse = (-m.delta if gib else m.delta) if m.delta is not None else None
    value = worse if worse is not None else (-m.candidate if gib else m.candidate)
    return -math.inf if value is None or math.isnan(value) else value


def run_slices(
    cfg: SliceConfig, holdout: pd.DataFrame, ins: Inputs, st: StatisticsConfig,
    primary: str, on_missing: str,
) -> SlicesResult:  # fmt: skip
    from ci_ml.stages.gates import ORDER, evaluate_gate
    from ci_ml.stages.slicing import slices
    from ci_ml.stats.metrics import METRICS
    from ci_ml.stats.slices import resample_slices, slice_results

    names = slice_metrics(cfg, primary, ins.scored.task, ins.scored.proba is not None)
    found = slices(holdout, cfg)
    models = [ins.scored] + ([ins.base_scored] if ins.base_scored is not None else [])
    stats = resample_slices(models, names, [s.rows for s in found], st.resamples, st.seed)
    tested = stats.rows >= cfg.min_rows
    per_metric = slice_results(stats, st.confidence, tested)
    rows = [
        _slice_row(s, int(n), bool(t), per_metric, i)
        for i, (s, n, t) in enumerate(zip(found, stats.rows, tested, strict=True))
    ]
    gates = []
    for i, row in enumerate(rows):
        if not row.gated:
            continue
        for g in cfg.gates:
            r = per_metric[g.metric].results[i]
            delta = r if hasattr(r, "delta") else None
            value = r.candidate.value if delta is not None else r.value
            result = evaluate_gate(
                g, value, delta, METRICS[g.metric].greater_is_better, st.confidence,
                missing=ins.missing, on_missing=on_missing,
            )  # fmt: skip
            result.reason = f"{row.name}: {result.reason}"
            gates.append(SliceGate(row.name, result))
    gib = METRICS[names[0]].greater_is_better
    rows.sort(key=lambda r: (not r.gated, -_badness(r, names[0], gib)))
    worst = next((r.name for r in rows if r.gated and _badness(r, names[0], gib) > -math.inf), None)
    return SlicesResult(
        names, names[0], cfg.min_rows, st.confidence, st.resamples, rows,
        sorted(gates, key=lambda g: ORDER[g.gate.status]),
        all(g.gate.status != "fail" for g in gates), worst,
        ins.missing,
    )  # fmt: skip


# --- the stage ------------------------------------------------------------------------


def training_columns(cfg: Config) -> list[str]:
    """The columns the model tests draw from the training rows (resampled invariance)."""
    if not cfg.model_tests.configured:
        return []
    return sorted({c.column for c in cfg.model_tests.invariance if c.resample})


def preflight(b: Build) -> None:
    """The model tests' config against the data, before training: a wrong column, a
    missing file or a check that cannot apply is a config error now, not after the fit."""
    from ci_ml.stages import model_checks as checks
    from ci_ml.stages.slicing import slices

    cfg = b.cfg.model_tests
    if not cfg.configured:
        return
    X, _ = b.dataset.xy("test")
    if cfg.slices:
        slice_metrics(cfg.slices, b.metric_names[1], b.task, has_proba=True)
        slices(b.dataset.test, cfg.slices)
    for i, c in enumerate(cfg.invariance):
        checks.check_invariance(c, i, X, b.task)
    for i, d in enumerate(cfg.directional):
        checks.check_directional(d, i, X)
    if cfg.calibration and b.task != "classification":
        raise ConfigError("model_tests.calibration: calibration is for classifiers")
    if cfg.golden and not b.cfg.resolve(cfg.golden.path).is_file():
        raise ConfigError(
            f"model_tests.golden.path: {cfg.golden.path} not found",
            hint="paths are relative to the config file",
        )
    if cfg.pytest:
        from ci_ml.testing.runner import check_paths

        check_paths([b.cfg.resolve(p) for p in cfg.pytest], [str(p) for p in cfg.pytest])


def _sample(X: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return X if len(X) <= rows else X.sample(n=rows, random_state=seed)


def run_checks(b: Build, cfg: ModelTestsConfig, ins: Inputs, result: ModelTestsResult) -> None:
    """The declarative checks, in the order the report shows them."""
    from ci_ml.stages import model_checks as checks

    st = b.cfg.statistics
    on_missing = "skip" if b.cfg.baseline.on_unscorable == "skip" else "fail"
    if cfg.slices:
        primary = b.metric_names[1]
        result.slices = run_slices(cfg.slices, b.dataset.test, ins, st, primary, on_missing)
    if cfg.golden:
        path = b.cfg.resolve(cfg.golden.path)
        result.golden = checks.golden(
            ins.candidate, path, ins.X, cfg.golden.max_failures, str(cfg.golden.path)
        )
    X = _sample(ins.X, cfg.sample_rows, st.seed)
    models = [ins.candidate, ins.baseline]
    result.invariance = [
        checks.invariance(c, i, X, ins.train_X, models, st.seed)
        for i, c in enumerate(cfg.invariance)
    ]
    result.directional = [
        checks.directional(c, i, X, models) for i, c in enumerate(cfg.directional)
    ]
    if cfg.calibration:
        if b.task != "classification":
            raise ConfigError("model_tests.calibration: calibration is for classifiers")
        result.calibration = checks.calibration(
            cfg.calibration, ins.scored, ins.base_scored,
            (st.resamples, st.confidence, st.seed), ins.missing, on_missing,
        )  # fmt: skip
    if cfg.budgets:
        measured = checks.measure(models, ins.X, cfg.budgets.repeats)
        result.budgets = checks.budget_checks(cfg.budgets, measured)


def failures(result: ModelTestsResult) -> tuple[int, list[Failure]]:
    """(how many tests ran, the failed ones)."""
    found: list[Failure] = []
    total = 0
    if result.slices:
        total += len(result.slices.gates)
        found += [
            Failure("slice", g.slice, g.gate.reason)
            for g in result.slices.gates
            if g.gate.status == "fail"
        ]
    if result.golden:
        total += 1
        g = result.golden
        if not g.passed:
            shown = "; ".join(
                f"line {f.row}: expected {f.expected}, got {f.got}" for f in g.failures[:3]
            )
            found.append(
                Failure(
                    "golden",
                    g.path,
                    f"{g.failed} of {g.rows} rows wrong (allowed {g.max_failures}): {shown}",
                )
            )
    for check in [*result.invariance, *result.directional]:
        total += 1
        if not check.passed:
            found.append(Failure(check.kind, check.name, check.reason))
    if result.calibration:
        total += len(result.calibration.gates)
        found += [
            Failure("calibration", f"{g.metric} {g.rule}", g.reason)
            for g in result.calibration.gates
            if g.status == "fail"
        ]
    if result.budgets:
        limited = [
            m for m in result.budgets.measures if m.limit is not None or m.ratio_limit is not None
        ]
        total += len(limited)
        found += [Failure("budget", m.name, m.reason) for m in limited if not m.passed]
    if result.pytest:
        suite = result.pytest
        total += len(suite.tests) or 1
        if suite.problem:
            found.append(Failure("pytest", ", ".join(suite.paths), suite.problem))
        found += [
            Failure("pytest", t.nodeid, t.message or t.outcome)
            for t in suite.tests
            # a file that could not be collected is already the suite's problem
            if t.outcome in ("failed", "error") and ("::" in t.nodeid or not suite.problem)
        ]
    return total, found  # fmt: skip


def run(b: Build, baseline_dir: Path | None) -> ModelTestsResult:
    """The stage: run every configured model test, write model-tests.json, seal."""
    from ci_ml import chain
    from ci_ml.testing.view import RECORD

    t0 = time.perf_counter()
    b.begin("model_tests")
    cfg = b.cfg.model_tests
    config_path = str(b.cfg.source.resolve())
    # Names the config for the pytest plugin (`pytest --ci-ml-artifact` reads it later).
    write_json(b.state_path(RECORD), {"config": config_path})
    result = ModelTestsResult(configured=cfg.configured)
    if cfg.configured:
        ins = inputs(b, baseline_dir)
        result.baseline = "none" if baseline_dir is None else ins.missing or "compared"
        run_checks(b, cfg, ins, result)
        if cfg.pytest:
            result.pytest = suites(b, cfg, baseline_dir)
            changed = b.chain_problems(chain.ancestors("model_tests"))
            if changed:
                raise ConfigError(
                    "model_tests.pytest: a model test changed the build it tests: "
                    + "; ".join(changed),
                    hint="a test may read the artifact folder, never write into it",
                )
    result.total, result.failures = failures(result)
    result.failed = len(result.failures)
    result.passed = not result.failures
    write_json(b.out / RESULT, result)
    b.record(
        "model_tests", {"config": config_path, "passed": result.passed}, time.perf_counter() - t0
    )
    b.write_manifest()
    b.seal("model_tests", baseline=str(baseline_dir) if baseline_dir else None)
    return result


def suites(b: Build, cfg: ModelTestsConfig, baseline_dir: Path | None) -> SuiteResult:
    from ci_ml.testing.runner import run_suites

    paths = [b.cfg.resolve(p) for p in cfg.pytest]
    shown = [p.as_posix() for p in cfg.pytest]
    config = b.cfg.source.resolve()
    return run_suites(paths, b.out.resolve(), config, baseline_dir, b.cfg.base_dir, shown)


def failure(result: ModelTestsResult) -> ModelTestFailed:
    """The error a command exits with after the report says which tests failed."""
    lines = [f"  - {f.kind} {f.name}: {f.message}" for f in result.failures[:20]]
    more = len(result.failures) - len(lines)
    if more > 0:
        lines.append(f"  … and {more} more in model-tests.json")
    return ModelTestFailed(
        f"{result.failed} of {result.total} model test(s) failed:\n" + "\n".join(lines),
        hint="see model-tests.json and the report's Model tests section",
    )
