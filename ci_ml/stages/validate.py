"""The validate stage (`ci-ml validate`): the data as read, before any split,
against the pandera schema and the target's own rules; every failure at once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.errors import EXIT_DATA
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.errors import CiMlError
    from ci_ml.records import ValidationResult
    from ci_ml.stage import StageRun

RECORD = "validation.json"


def run(r: StageRun) -> ValidationResult:
    from ci_ml.checks.schema import load_schema, validate

    b = r.build
    schema, text = load_schema(b.cfg)
    d = b.dataset
    # What was read, before the split: a bad row fails here, not in the split.
    result = validate(d.sources, schema, b.cfg.schema_, text, d.target, b.task)
    if text is not None:
        b.write_text("schema.yaml", text)
    return result


def stop(r: StageRun, result: ValidationResult) -> CiMlError | None:
    from ci_ml.errors import DataValidationError

    if result.passed:
        return None
    lines = "\n".join(f"  - {f.line()}" for f in result.failures)
    cols = ", ".join(result.broken_columns) or "(table-level checks)"
    ref = r.build.cfg.schema_
    return DataValidationError(
        f"the data broke its schema in {len(result.failures)} way(s); broken columns: "
        f"{cols}\n{lines}",
        file=str(r.build.cfg.resolve(ref)) if ref and ref.endswith((".yaml", ".yml")) else None,
        hint=f"fix the data or the schema; every failure is in {r.build.out / RECORD}",
    )


def summary(result: ValidationResult) -> str:
    rows = ", ".join(f"{n} {role}" for role, n in result.rows.items())
    return f"data valid: {rows} rows passed {result.schema or 'the built-in target checks'}"


STAGE = Stage(
    name="validate",
    command="validate",
    help="test the train and test data against the pandera schema",
    run=run,
    stop=stop,
    summary=summary,
    reads=("data", "schema", "task"),
    writes=("schema.yaml",),
    record="ValidationResult",
    record_file=RECORD,
    exit_code=EXIT_DATA,
    sections=(Section(order=10, template="validate.md.j2"),),
)
