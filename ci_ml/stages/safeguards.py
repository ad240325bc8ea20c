"""The safeguards stage (`ci-ml check-data`): data mistakes a schema cannot see
(contamination, duplicates, conflicting labels, leakage, skew, personal data;
ci_ml.checks.data), checked after validation and before any training. An error
finding stops the build (exit 6) after `safeguards.json` is written."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ci_ml.errors import EXIT_SAFEGUARD
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.errors import CiMlError
    from ci_ml.records import Finding, SafeguardsResult
    from ci_ml.stage import Console, StageRun

RECORD = "safeguards.json"


def run(r: StageRun) -> SafeguardsResult:
    from ci_ml.checks.data import check

    t0 = time.perf_counter()
    b = r.build
    d = b.dataset
    recorded = r.baseline.safeguards() if r.baseline is not None else None
    # The leakage scores the baseline recorded, to spot a jump (none from older builds).
    scores = {str(k): float(v) for k, v in recorded.leakage_scores.items()} if recorded else {}
    every_row = None
    if d.scale is not None:  # the row checks over every row, on the engine
        from ci_ml.checks.data import MAX_EXAMPLES

        every_row = d.scale.engine.row_checks(d.features, d.target, MAX_EXAMPLES)
    result = check(d.train, d.test, d.target, b.task, b.cfg.safeguards, scores, every_row)
    if every_row is not None:
        for f in result.findings:
            if f.check in ("contamination", "duplicates", "conflicting_labels"):
                total = every_row.test_rows if f.check == "contamination" else every_row.train_rows
                role = "test" if f.check == "contamination" else "train"
                f.of_rows, f.rows = total, round((f.value or 0.0) * total)
                f.file = d.files[role if role in d.files else "data"].path
        result.rows = {"train": every_row.train_rows, "test": every_row.test_rows}
        result.seconds = round(time.perf_counter() - t0, 4)
        return result
    holdout = "test" if "test" in d.files else "data"
    train = "train" if "train" in d.files else "data"
    frames = {"contamination": (d.test, holdout)} | dict.fromkeys(
        ("duplicates", "conflicting_labels"), (d.train, train)
    )
    for f in result.findings:
        if f.check in frames:
            frame, role = frames[f.check]
            locate(f, [int(i) for i in frame.index], d.files[role].path)
    result.seconds = round(time.perf_counter() - t0, 4)
    return result


TEXT_FILES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")


def locate(f: Finding, index: list[int], path: str) -> None:
    """A row check's counts, and its example rows (positions in the frame the check
    read) as lines of the file they came from: the frames keep the file's row
    numbers as their index (0-based, the split sorted back into file order), and
    a text file's line is that number + 2 (its header is line 1; a quoted value
    that spans lines would shift the rest, which the record cannot know)."""
    f.of_rows = len(index)
    f.rows = round((f.value or 0.0) * len(index))
    f.file = path
    if path.lower().endswith(TEXT_FILES):
        f.lines = [index[p] + 2 for p in f.examples if 0 <= int(p) < len(index)]


def stop(r: StageRun, result: SafeguardsResult) -> CiMlError | None:
    from ci_ml.errors import SafeguardFailed

    errors = [f for f in result.findings if f.severity == "error"]
    if not errors:
        return None
    lines = "\n".join(f"  - [{f.check}] {f.message}" for f in errors)
    return SafeguardFailed(
        f"{len(errors)} data safeguard(s) failed:\n{lines}",
        hint=f"fix the data, or set the check's severity in `safeguards:` (see {RECORD})",
    )


def annotate(result: SafeguardsResult, console: Console) -> None:
    for f in result.findings:
        say = console.error if f.severity == "error" else console.warning
        say(f"data safeguard {f.check}: {f.message}")


def summary(result: SafeguardsResult) -> str:
    warnings = sum(f.severity == "warn" for f in result.findings)
    return f"data safeguards passed ({warnings} warning(s); see {RECORD})"


STAGE = Stage(
    name="safeguards",
    command="check-data",
    help="data safeguards: leakage, contamination, duplicates, skew, personal data",
    run=run,
    stop=stop,
    summary=summary,
    annotate=annotate,
    reads=("data", "schema", "task", "safeguards"),
    record="SafeguardsResult",
    record_file=RECORD,
    uses_baseline=True,  # the leakage check compares with the baseline's record
    exit_code=EXIT_SAFEGUARD,
    sections=(Section(order=20, template="safeguards.md.j2"),),
)
