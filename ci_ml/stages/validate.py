"""The validate stage (`ci-ml validate`): the data as read, before any split,
against the pandera schema and the target's own rules; every failure at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import EXIT_DATA
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from pathlib import Path

    from ci_ml.errors import CiMlError
    from ci_ml.records import SchemaFailure, ValidationResult
    from ci_ml.stage import StageRun

RECORD = "validation.json"


def run(r: StageRun) -> ValidationResult:
    from ci_ml.checks.schema import load_schema, validate, validate_partitioned

    b = r.build
    schema, text = load_schema(b.cfg)
    if schema is not None:
        dropped_but_required(schema, b.cfg)
    d = b.dataset
    # What was read, before the split: a bad row fails here, not in the split.
    if d.scale is not None:  # every row, on the engine (the client holds a sample)
        roles = ["data"] if b.cfg.data.path is not None else ["train", "test"]
        result = validate_partitioned(
            d.scale.engine, roles, schema, b.cfg.schema_, text, d.target, b.task
        )
    else:
        result = validate(d.sources, schema, b.cfg.schema_, text, d.target, b.task)
    for f in result.failures:
        if f.dataset in d.files:
            as_in_file(f, b.cfg.resolve(d.files[f.dataset].path))
    if text is not None:
        b.write_text("schema.yaml", text)
    return result


def as_in_file(f: SchemaFailure, path: Path) -> None:
    """A failure's rows as lines of a text file (the frames keep the file's row
    numbers, 0-based: line = row + 2, the header being line 1), and a cell pandas
    read as missing ("n/a", "NULL", "") shown as the file has it, not as None."""
    import pandas as pd

    if path.suffix.lower() not in (".csv", ".tsv") or not f.rows:
        return
    rows = [int(r) for r in f.rows if isinstance(r, int)]
    f.lines = [r + 2 for r in rows]
    if f.column is None or len(f.examples) != len(rows) or None not in f.examples:
        return
    try:
        raw = pd.read_csv(
            path,
            sep="\t" if path.suffix.lower() == ".tsv" else ",",
            usecols=[f.column],
            dtype=str,
            keep_default_na=False,
        )[f.column]
        f.examples = [
            raw.iloc[r] if v is None else v for r, v in zip(rows, f.examples, strict=True)
        ]
    except (ValueError, KeyError, IndexError, OSError):
        return  # the parsed value stays: a reader still sees which row


def dropped_but_required(schema: Any, cfg: Any) -> None:
    """A column the schema requires that `data.drop` removes is the config's
    contradiction, not broken data: say so and name the fix (exit 2)."""
    from ci_ml.errors import ConfigError

    required = {
        str(name) for name, column in schema.columns.items() if getattr(column, "required", True)
    }
    both = [c for c in cfg.data.drop if c in required]
    if both:
        names = ", ".join(map(repr, both))
        raise ConfigError(
            f"data.drop removes {names}, which the schema ({cfg.schema_}) requires: the data "
            "has not changed, the config has",
            file=str(cfg.resolve(cfg.schema_))
            if str(cfg.schema_).endswith((".yaml", ".yml"))
            else None,
            hint=f"take {names} out of the schema (the schema describes the columns left after "
            "data.drop), mark it `required: false` there, or keep it out of data.drop",
        )


def stop(r: StageRun, result: ValidationResult) -> CiMlError | None:
    from ci_ml.data import data_paths
    from ci_ml.errors import DataValidationError

    if result.passed:
        return None
    lines = "\n".join(f"  - {f.line()}" for f in result.failures)
    cols = ", ".join(result.broken_columns) or "(table-level checks)"
    file, line = broken_where(result, data_paths(r.build.cfg))
    return DataValidationError(
        f"the data broke its schema in {len(result.failures)} way(s); broken columns: "
        f"{cols}\n{lines}",
        file=file,
        line=line,
        hint=f"fix the data or the schema; every failure is in {r.build.out / RECORD}",
    )


def broken_where(result: ValidationResult, paths: dict[str, Path]) -> tuple[str | None, int | None]:
    """The data file, and its line, of the first failure that names a row: what the
    annotation points at (a CSV's line is the row's position + 2: the header is line 1,
    and no value spans lines; a Parquet file has no lines)."""
    for failure in result.failures:
        path = paths.get(failure.dataset)
        if path is None:
            continue
        rows = [r for r in failure.rows if isinstance(r, int) and not isinstance(r, bool)]
        text = path.suffix.lower() in (".csv", ".tsv")
        return str(path), (rows[0] + 2 if rows and text else None)
    return None, None


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
    reads=("data", "schema", "task", "engine"),
    writes=("schema.yaml",),
    record="ValidationResult",
    record_file=RECORD,
    exit_code=EXIT_DATA,
    sections=(Section(order=10, template="validate.md.j2"),),
)
