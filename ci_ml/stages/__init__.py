"""The build's stages, one module each, in the order they run:

    validate ──► safeguards ──► train ──► export ──► evaluate ──► compare ──► model_tests ──► report

Each module declares itself once (`STAGE`, a ci_ml.stage.Stage); this tuple is
the one list of stages: it drives the sealed chain, the pipeline's order, the
CLI's subcommands, clearing outputs, the log groups and the report's sections.
Adding a stage is one module and one line here (plus its template partial).
No stage imports another, nor `ci_ml.github` or `ci_ml.cli`: they share typed
records (ci_ml.records) and the build, and the CLI resolves what comes from
GitHub (a release baseline) into a verified baseline before a stage sees it.

`ci-ml --help` imports every stage module (the CLI's subcommands come from the
declarations), so a stage module imports ci-ml's heavier modules, and records
(pydantic), inside its functions or under TYPE_CHECKING, never at its top.
"""

from __future__ import annotations

from ci_ml.chain import Chain
from ci_ml.stage import Stage
from ci_ml.stages import compare, evaluate, export, model_tests, report, safeguards, train, validate

STAGES: tuple[Stage, ...] = (
    validate.STAGE,
    safeguards.STAGE,
    train.STAGE,
    export.STAGE,
    evaluate.STAGE,
    compare.STAGE,
    model_tests.STAGE,
    report.STAGE,
)


def chain() -> Chain:
    """The chain of today's stages (a test may add one to STAGES first)."""
    return Chain(STAGES)
