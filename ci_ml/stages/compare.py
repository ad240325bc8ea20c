"""The compare stage (`ci-ml compare`): candidate versus baseline on the same
holdout rows (ci_ml.comparison): paired deltas, tests, data and schema changes,
gates. The result is `comparison.json`. A failed gate fails the command (exit 4)
once the report is written, unless --no-fail-on-regression."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.artifact import HISTORY
from ci_ml.errors import EXIT_GATE
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.errors import CiMlError
    from ci_ml.records import Comparison
    from ci_ml.stage import Console, StageRun


def run(r: StageRun) -> Comparison:
    """Score the baseline (if any) on this holdout, compare, apply the gates. The
    model's release history, if the CLI fetched it with the baseline, is kept for
    the report."""
    from ci_ml import manifest
    from ci_ml.baseline import every_row_scorer
    from ci_ml.comparison import compare
    from ci_ml.scoring import every_row
    from ci_ml.scoring.holdout import candidate

    b, base = r.build, r.baseline
    if base is not None and base.history is not None:
        b.write_record(HISTORY, base.history)
    evaluation = b.require("evaluate", "compare")
    if evaluation.scored is None:  # run alone: the predictions behind metrics.json
        evaluation.scored = candidate(b, "compare")
    scores, summed = None, None
    if base is not None:
        # the rows as they are in the files: the baseline reads its own columns
        scores = base.scores(b.dataset.holdout_rows, b.task)
        # engine: dask, a holdout larger than the sample: both models over every row,
        # when the baseline scores the sample and predicts the candidate's classes
        # (summed with the candidate's in evaluate, when this process ran it)
        beside = every_row_scorer(b, base, "compare") if every_row.wanted(b) else None
        if beside is not None:
            summed = every_row.with_baseline(b, beside, "compare")
    return compare(
        b.cfg.gates,
        b.cfg.statistics,
        b.cfg.baseline.on_unscorable,
        evaluation,
        manifest.assemble(b),
        base,
        scores,
        b.shared,
        summed,
    )


def verdict(r: StageRun, result: Comparison) -> CiMlError | None:
    from ci_ml.errors import GateFailed

    if result.verdict != "fail" or not r.options.fail_on_regression:
        return None
    failed = [g.reason for g in result.failed_gates]
    return GateFailed(
        "quality gate(s) failed:\n" + "\n".join(f"  - {reason}" for reason in failed),
        hint="see comparison.json and report.md; pass --no-fail-on-regression to report without failing",
    )


def annotate(result: Comparison, console: Console) -> None:
    if result.baseline_problem:
        console.warning(f"baseline not re-scored: {result.baseline_problem}")


def summary(c: Comparison) -> str:
    p = c.primary
    assert p is not None
    if p.delta is None:
        return f"verdict: {c.verdict}; {p.metric} {p.candidate:.4g}"
    shown = "0" if p.delta == 0 else f"{p.delta:+.4g}"
    return f"verdict: {c.verdict}; {p.metric} {p.candidate:.4g} (Δ {shown}, {p.verdict})"


def _arguments(p: Any) -> None:
    p.add_argument(
        "--no-fail-on-regression",
        dest="fail_on_regression",
        action="store_false",
        help="report failed gates but exit 0",
    )


STAGE = Stage(
    name="compare",
    command="compare",
    help="score the baseline on the holdout set, compare, apply gates",
    run=run,
    verdict=verdict,
    summary=summary,
    annotate=annotate,
    reads=("metrics", "statistics", "gates", "baseline"),
    writes=(HISTORY,),
    record="Comparison",
    record_file="comparison.json",
    uses_baseline=True,
    exit_code=EXIT_GATE,
    arguments=_arguments,
    sections=(
        Section(order=30, template="gates.md.j2"),
        Section(order=45, template="history.md.j2"),
        Section(order=50, template="data-changes.md.j2"),
        Section(order=92, template="params.md.j2"),
    ),
)
