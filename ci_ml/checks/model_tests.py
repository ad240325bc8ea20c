"""The model tests as one suite: what they run on (both models, the holdout and
training rows, the paired predictions), the check of their config before any
training, the declarative checks in the order the report shows them, the
project's pytest suites, and which tests failed.

- slices: metrics per slice of the holdout rows with paired-bootstrap deltas
  against the baseline (ci_ml.checks.slices), gates per slice, the worst slice;
- golden rows, invariance, directional expectations, calibration and budgets
  (ci_ml.checks.model);
- pytest suites with the fixtures of ci_ml.testing.plugin (ci_ml.testing.runner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.checks import model as checks
from ci_ml.checks.model import Inputs
from ci_ml.checks.slice_sums import every_row_slices
from ci_ml.checks.slices import Computed, run_slices, slice_metrics, slices
from ci_ml.errors import ConfigError, ModelTestFailed
from ci_ml.records import ModelTestsResult, SuiteResult, TestFailure
from ci_ml.scoring import every_row
from ci_ml.scoring.holdout import candidate
from ci_ml.scoring.model import OnnxModel
from ci_ml.scoring.pairing import pair
from ci_ml.testing.runner import check_paths, run_suites
from ci_ml.testing.view import Preloaded

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.baseline import Baseline
    from ci_ml.build import Build
    from ci_ml.config import ModelTestsConfig, SliceConfig
    from ci_ml.records import Manifest


def inputs(b: Build, base: Baseline | None, manifest: Manifest) -> Inputs:
    """Both models, the rows, and the two models' holdout predictions paired; the
    baseline's are the scores compare made (a baseline is scored once)."""

    evaluation = b.require("evaluate", "model_tests")
    scored = evaluation.scored if evaluation.scored is not None else candidate(b, "model_tests")
    X, _ = b.dataset.xy("test")
    train_X = b.dataset.features_of("train", b.cfg.model_tests.training_columns())
    found = Inputs(
        OnnxModel(b.path("model.onnx"), manifest), X, train_X, scored, b.dataset.holdout_rows
    )
    if base is None:
        return found
    scores = base.scores(b.dataset.holdout_rows, b.task)
    if scores.problem is not None:
        found.missing = f"the baseline could not be scored on this holdout ({scores.problem})"
        return found
    found.baseline = OnnxModel(base.model_path, base.manifest)
    found.scored, found.base_scored, _ = pair(scored, scores)
    return found


# --- slices ---------------------------------------------------------------------------


def _every_row_slices(b: Build, cfg: SliceConfig, ins: Inputs, primary: str) -> Computed | None:
    """The slices over every holdout row (engine: dask, a holdout larger than the
    sample; a baseline, if compared, with the candidate's classes), else None:
    they are then cut from the sample's rows."""
    if not every_row.wanted(b):
        return None
    scorers = [every_row.candidate_scorer(b, "model_tests")]
    if ins.baseline is not None and ins.base_scored is not None:
        train = b.require("train", "model_tests")
        if not every_row.same_keys(train.classes, ins.baseline.classes_):
            return None
        scorers.append(every_row.Scorer.of_model(ins.baseline))
    names = slice_metrics(cfg, primary, ins.scored.task, ins.scored.proba is not None)
    scale = b.dataset.scale
    assert scale is not None
    passes = every_row.build_passes(b, scorers, names)
    st = b.cfg.statistics
    return every_row_slices(scale.engine, passes, cfg, st.resamples, len(ins.scored.y))


# --- the stage ------------------------------------------------------------------------


def preflight(b: Build) -> None:
    """The model tests' config against the data, before training: a wrong column, a
    missing file or a check that cannot apply is a config error now, not after the fit."""

    cfg = b.cfg.model_tests
    if not cfg.configured:
        return
    X, _ = b.dataset.xy("test")
    if cfg.slices:
        slice_metrics(cfg.slices, b.plan_metrics(True).primary, b.task, has_proba=True)
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
        check_paths([b.cfg.resolve(p) for p in cfg.pytest], [str(p) for p in cfg.pytest])


def _sample(X: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    return X if len(X) <= rows else X.sample(n=rows, random_state=seed)


def run_checks(b: Build, cfg: ModelTestsConfig, ins: Inputs, result: ModelTestsResult) -> None:
    """The declarative checks, in the order the report shows them."""

    st = b.cfg.statistics
    on_missing = "skip" if b.cfg.baseline.on_unscorable == "skip" else "fail"
    if cfg.slices:
        primary = b.metric_plan.primary
        computed = _every_row_slices(b, cfg.slices, ins, primary)
        result.slices = run_slices(
            cfg.slices, b.dataset.test, ins, st, primary, on_missing, computed
        )
    if cfg.golden:
        path = b.cfg.resolve(cfg.golden.path)
        result.golden = checks.golden(
            ins.candidate, path, ins.X, cfg.golden.max_failures, str(cfg.golden.path)
        )
    X = _sample(ins.rows, cfg.sample_rows, st.seed)
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
        measured = checks.measure(models, ins.rows, cfg.budgets.repeats)
        result.budgets = checks.budget_checks(cfg.budgets, measured)


def failures(result: ModelTestsResult) -> tuple[int, list[TestFailure]]:
    """(how many tests ran, the failed ones)."""
    found: list[TestFailure] = []
    total = 0
    if result.slices:
        total += len(result.slices.gates)
        found += [
            TestFailure("slice", g.slice, g.gate.reason)
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
                TestFailure(
                    "golden",
                    g.path,
                    f"{g.failed} of {g.rows} rows wrong (allowed {g.max_failures}): {shown}",
                )
            )
    for check in [*result.invariance, *result.directional]:
        total += 1
        if not check.passed:
            found.append(TestFailure(check.kind, check.name, check.reason))
    if result.calibration:
        total += len(result.calibration.gates)
        found += [
            TestFailure("calibration", f"{g.metric} {g.rule}", g.reason)
            for g in result.calibration.gates
            if g.status == "fail"
        ]
    if result.budgets:
        limited = [
            m for m in result.budgets.measures if m.limit is not None or m.ratio_limit is not None
        ]
        total += len(limited)
        found += [TestFailure("budget", m.name, m.reason) for m in limited if not m.passed]
    if result.pytest:
        suite = result.pytest
        total += len(suite.tests) or 1
        if suite.problem:
            found.append(TestFailure("pytest", ", ".join(suite.paths), suite.problem))
        found += [
            TestFailure("pytest", t.nodeid, t.message or t.outcome)
            for t in suite.tests
            # a file that could not be collected is already the suite's problem
            if t.outcome in ("failed", "error") and ("::" in t.nodeid or not suite.problem)
        ]
    return total, found  # fmt: skip


def suites(b: Build, cfg: ModelTestsConfig, base: Baseline | None) -> SuiteResult:
    """The project's pytest suites, in this process, handed the verified baseline."""

    paths = [b.cfg.resolve(p) for p in cfg.pytest]
    shown = [p.as_posix() for p in cfg.pytest]
    config = b.cfg.source.resolve()
    directory = base.directory if base else None
    return run_suites(
        paths, b.out.resolve(), config, directory, b.cfg.base_dir, shown, Preloaded(base)
    )


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
