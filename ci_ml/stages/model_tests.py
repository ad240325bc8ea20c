"""The model-tests stage (`ci-ml test-model`, between compare and report): the
checks `model_tests:` declares and the project's own pytest suites
(ci_ml.checks.model_tests), all run against the model that ships, model.onnx,
through onnxruntime, and the baseline's model.onnx beside it. The result is
`model-tests.json`.

A failed model test does not stop the build: the stage seals its result, the
report shows it, and the command then exits 7.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.errors import EXIT_MODEL_TEST
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.errors import CiMlError
    from ci_ml.records import ModelTestsResult
    from ci_ml.stage import Console, StageRun

RECORD = "model-tests.json"


def run(r: StageRun) -> ModelTestsResult:
    from ci_ml import manifest as manifest_file
    from ci_ml.checks.model_tests import failures, inputs, run_checks, suites
    from ci_ml.errors import ConfigError
    from ci_ml.records import ModelTestsResult

    b = r.build
    cfg = b.cfg.model_tests
    result = ModelTestsResult(configured=cfg.configured)
    if cfg.configured:
        manifest = manifest_file.assemble(b)
        ins = inputs(b, r.baseline, manifest)
        result.baseline = "none" if r.baseline is None else ins.missing or "compared"
        run_checks(b, cfg, ins, result)
        if cfg.pytest:
            # The project's suites read the artifact folder (the pytest plugin's
            # fixtures): its manifest must be there, as it stands now.
            manifest_file.write(b)
            result.pytest = suites(b, cfg, r.baseline)
            changed = b.problems(b.chain.ancestors("model_tests"))
            if changed:
                raise ConfigError(
                    "model_tests.pytest: a model test changed the build it tests: "
                    + "; ".join(changed),
                    hint="a test may read the artifact folder, never write into it",
                )
    result.total, result.failures = failures(result)
    result.failed = len(result.failures)
    result.passed = not result.failures
    return result


def preflight(r: StageRun) -> None:
    """Run by train before it fits: a wrong column, a missing file or a check that
    cannot apply is a config error now, not after the fit."""
    from ci_ml.checks.model_tests import preflight

    preflight(r.build)


def verdict(r: StageRun, result: ModelTestsResult) -> CiMlError | None:
    from ci_ml.checks.model_tests import failure

    return None if result.passed else failure(result)


def annotate(result: ModelTestsResult, console: Console) -> None:
    for f in result.failures:
        console.error(f"model test failed ({f.kind}) {f.name}: {f.message}")


def summary(t: ModelTestsResult) -> str:
    if not t.configured:
        return "model tests: none configured"
    return f"model tests: {t.total - t.failed} of {t.total} passed"


STAGE = Stage(
    name="model_tests",
    command="test-model",
    help="run the model tests (model_tests: in the config, and its pytest suites) on the "
    "built model.onnx, beside the baseline's",
    run=run,
    preflight=preflight,
    verdict=verdict,
    summary=summary,
    annotate=annotate,
    reads=("metrics", "statistics", "baseline", "model_tests"),
    record="ModelTestsResult",
    record_file=RECORD,
    uses_baseline=True,
    exit_code=EXIT_MODEL_TEST,
    sections=(Section(order=80, template="model-tests.md.j2"),),
)
