"""The report stage (`ci-ml report`): report.md (the PR comment and job summary,
each stage's sections in order; ci_ml.report), model-card.md (the release body),
the manifest and SHA256SUMS. It runs even when an earlier stage failed: a build
that stopped still says why."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.artifact import SUMS
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.report.context import ReportResult
    from ci_ml.stage import Console, StageRun

REPORT, CARD = "report.md", "model-card.md"


def run(r: StageRun) -> ReportResult:
    from ci_ml import manifest as manifest_file
    from ci_ml.artifact import present_files
    from ci_ml.errors import CiMlError
    from ci_ml.report.context import ReportResult, context, outputs, sections
    from ci_ml.report.render import render_model_card, render_report

    b = r.build
    # Publishable only when every stage before completed and is still current.
    before = b.chain.names[: b.chain.names.index("report")]
    complete = not b.problems(before)
    try:
        manifest = manifest_file.assemble(b)
    except CiMlError:
        manifest = None  # the data cannot be read: there is nothing for a manifest to describe
    ctx = context(b, manifest)
    _, sources = sections(b.chain.stages)
    text = render_report(ctx, sources)
    b.write_text(REPORT, text)
    if ctx["status"] in ("invalid-data", "unsafe-data", "failed"):
        b.clear([CARD])  # no model, no card
    else:
        b.write_text(CARD, render_model_card(ctx))
    if manifest is not None:
        b.write_record(manifest_file.FILE, manifest)
        b.manifest_due = False
    b.write_text(SUMS, "".join(f"{b.digest(n)}  {n}\n" for n in present_files(b.out)))
    if r.state is not None:
        r.state.complete = complete
    return ReportResult(text, ctx["status"], outputs(ctx, b.out))


def annotate(result: ReportResult, console: Console) -> None:
    console.append_summary(result.text)
    console.set_outputs(result.outputs)


def summary(result: ReportResult) -> str:
    return f"wrote {REPORT} ({result.status})"


STAGE = Stage(
    name="report",
    command="report",
    help="render report.md, model-card.md and SHA256SUMS",
    run=run,
    summary=summary,
    annotate=annotate,
    writes=(REPORT, CARD, SUMS),
    always=True,
    sections=(Section(order=98, template="lineage.md.j2"),),
)
