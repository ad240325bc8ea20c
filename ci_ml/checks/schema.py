"""pandera schemas, loaded from YAML or Python, run lazily so every failure is
reported at once; and the first schema `ci-ml schema infer` writes."""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import plain
from ci_ml.engine import merge_failures
from ci_ml.errors import ConfigError
from ci_ml.records import SchemaFailure, ValidationResult

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    import pandera.pandas as pa

    from ci_ml.config import Config
    from ci_ml.engine import Engine


MAX_EXAMPLES = 5


def validate(
    frames: dict[str, pd.DataFrame],
    schema: pa.DataFrameSchema | None,
    schema_source: str | None,
    schema_text: str | None,
    target: str,
    task: str,
) -> ValidationResult:
    """Test the frames as read (before any split) against the schema and the target rules."""
    failures = validate_frames(frames, schema, target, task)
    return ValidationResult(
        passed=not failures,
        schema=schema_source,
        schema_sha256=schema_hash(schema_text),
        rows={k: len(v) for k, v in frames.items()},
        broken_columns=sorted({f.column for f in failures if f.column}),
        failures=failures,
    )


def validate_partitioned(
    engine: Engine,
    roles: list[str],
    schema: pa.DataFrameSchema | None,
    schema_source: str | None,
    schema_text: str | None,
    target: str,
    task: str,
) -> ValidationResult:
    """`validate` over every row an engine holds, partition by partition: each
    partition's failures (its rows numbered by their place in the source) combined
    as if found on the whole table (ci_ml.engine.merge_failures). The rules that
    are about the whole table are decided on the combined counts: it has rows, a
    classification target has two classes. A schema's own table-wide checks
    (`unique`, a table-level `Check`) see one partition at a time."""
    failures: list[SchemaFailure] = []
    rows: dict[str, int] = {}
    for role in roles:
        found = engine.map_partitions(role, _partition_checker(schema, target, role))
        rows[role] = sum(n for n, _, _ in found)
        failures += merge_failures((f for _, f, _ in found), MAX_EXAMPLES)
        if rows[role] == 0:
            failures.append(SchemaFailure(role, None, "has at least one row", 0))
        classes = {c for _, _, seen in found for c in seen}
        if task == "classification" and role in ("train", "data") and 0 < len(classes) < 2:
            failures.append(
                SchemaFailure(
                    role,
                    target,
                    "classification target has at least 2 classes",
                    rows[role],
                    examples=[plain(v) for v in sorted(classes, key=str)[:MAX_EXAMPLES]],
                )
            )
    return ValidationResult(
        passed=not failures,
        schema=schema_source,
        schema_sha256=schema_hash(schema_text),
        rows=rows,
        broken_columns=sorted({f.column for f in failures if f.column}),
        failures=failures,
    )


# A partition reports at most this many of its target's distinct values: enough to
# tell one class from two.
CLASSES_SEEN = 3


def _partition_checker(
    schema: pa.DataFrameSchema | None, target: str, role: str
) -> Callable[[pd.DataFrame, int], tuple[int, list[SchemaFailure], list[object]]]:
    """What runs on each partition: its row count, its failures of the row rules
    (the target's class count left to the caller) and a few of its classes."""

    def check(df: pd.DataFrame, start: int) -> tuple[int, list[SchemaFailure], list[object]]:
        if len(df) == 0:
            return 0, [], []
        found = validate_frames({role: df}, schema, target, "regression")
        seen = [plain(v) for v in df[target].dropna().unique()[:CLASSES_SEEN]]
        return len(df), found, seen

    return check


def load_schema(cfg: Config) -> tuple[pa.DataFrameSchema | None, str | None]:
    """The configured schema and its source text (YAML), or (None, None) if none is set."""
    import pandera.pandas as pa

    ref = cfg.schema_
    if not ref:
        return None, None
    path = cfg.resolve(ref)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(
                f"schema: file {path} not found",
                file=str(cfg.source),
                hint="create it with: ci-ml schema infer --data data/train.csv --target <col> > schema.yaml",
            )
        text = path.read_text(encoding="utf-8")
        try:
            schema = pa.DataFrameSchema.from_yaml(text)
        except Exception as e:  # pandera raises assorted errors for a malformed schema
            raise ConfigError(
                f"schema: {path} is not a valid pandera YAML schema: {e}", file=str(path)
            ) from None
        return schema, schema.to_yaml()
    if ":" in ref:
        module_name, _, attr = ref.partition(":")
        sys.path.insert(0, str(cfg.base_dir))
        try:
            module = importlib.import_module(module_name)
            schema = getattr(module, attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"schema: cannot load {ref!r}: {e}", file=str(cfg.source)) from None
        finally:
            sys.path.remove(str(cfg.base_dir))
        if not isinstance(schema, pa.DataFrameSchema):
            raise ConfigError(
                f"schema: {ref!r} is a {type(schema).__name__}, not a pandera DataFrameSchema"
            )
        return schema, schema.to_yaml()
    raise ConfigError(
        f"schema: {ref!r} is neither a .yaml file nor a module:attribute",
        file=str(cfg.source),
        hint="schema: schema.yaml  or  schema: my_project.schemas:train_schema",
    )


def schema_hash(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


def _failures_from(err: Any, dataset: str) -> list[SchemaFailure]:
    """Group pandera's failure_cases table into one Failure per (column, check)."""
    fc = err.failure_cases
    out: list[SchemaFailure] = []
    for (column, check), grp in fc.groupby(["column", "check"], dropna=False, sort=False):
        idx = grp["index"].dropna()
        col = (
            None
            if column is None or (isinstance(column, float) and column != column)
            else str(column)
        )
        if col == dataset or col == "None":
            col = None
        rows = idx.nunique() if len(idx) else len(grp)
        out.append(
            SchemaFailure(
                dataset=dataset,
                column=col,
                check=str(check),
                failing_rows=int(rows),
                examples=[plain(v) for v in grp["failure_case"].head(MAX_EXAMPLES)],
                rows=[plain(v) for v in idx.head(MAX_EXAMPLES)],
            )
        )
    return out


_EXCEPTION = re.compile(r"^[A-Za-z_.]*(Error|Exception)\(")


def without_consequences(failures: list[SchemaFailure]) -> list[SchemaFailure]:
    """One bad cell, one failure: in a column whose values could not be coerced to
    its dtype, pandera also reports the dtype itself and every check that then
    compared text with numbers (its 'example' the exception, no row). Those follow
    from the coercion failure, which names the cell; they are left out."""
    uncoerced = {(f.dataset, f.column) for f in failures if f.check.startswith("coerce_dtype(")}

    def follows(f: SchemaFailure) -> bool:
        if (f.dataset, f.column) not in uncoerced or f.check.startswith("coerce_dtype("):
            return False
        raised = bool(f.examples) and all(_EXCEPTION.match(str(v)) for v in f.examples)
        return f.check.startswith("dtype(") or (raised and not f.rows)

    return [f for f in failures if not follows(f)]


def target_failures(df: pd.DataFrame, target: str, task: str, dataset: str) -> list[SchemaFailure]:
    """Rules every target obeys whatever the schema says."""
    y = df[target]
    out = []
    missing = y.isna()
    if missing.any():
        out.append(
            SchemaFailure(
                dataset,
                target,
                "target has no missing values",
                int(missing.sum()),
                rows=[plain(i) for i in y.index[missing][:MAX_EXAMPLES]],
            )
        )
    if task == "classification" and dataset in ("train", "data") and y.nunique(dropna=True) < 2:
        out.append(
            SchemaFailure(
                dataset,
                target,
                "classification target has at least 2 classes",
                len(y),
                examples=[plain(v) for v in y.dropna().unique()[:MAX_EXAMPLES]],
            )
        )
    return out


# Tree models (and float ONNX inputs) compute in 32-bit floats: a larger number
# cannot reach them. The float32 maximum, ~3.4e38.
FLOAT32_MAX = 3.4028234663852886e38
# A text column whose values are numbers but for this share or less was meant to
# be numbers: a decimal comma ("12,5") or a stray word made it text.
MOSTLY_NUMERIC = 0.9


def _failure(dataset: str, df: pd.DataFrame, c: object, check: str, bad: Any) -> SchemaFailure:
    return SchemaFailure(
        dataset,
        str(c),
        check,
        int(bad.sum()),
        examples=[plain(v) for v in df[c][bad].head(MAX_EXAMPLES)],
        rows=[plain(i) for i in df.index[bad][:MAX_EXAMPLES]],
    )


def _numbers_but_for(s: pd.Series) -> Any:
    """For a text column whose values are numbers but for a few: which are not
    (a mask); None for a column that is text, or numbers throughout."""
    import pandas as pd

    present = s.dropna()
    if len(present) < 10:
        return None
    sample = present.head(1000)
    if pd.to_numeric(sample, errors="coerce").notna().mean() < MOSTLY_NUMERIC:
        return None
    parsed = pd.to_numeric(s, errors="coerce")
    bad = s.notna() & parsed.isna()
    share = 1 - bad.sum() / len(present)
    return bad if bad.any() and share >= MOSTLY_NUMERIC else None


def table_failures(
    df: pd.DataFrame, dataset: str, declared: frozenset[str] = frozenset()
) -> list[SchemaFailure]:
    """Rules every table obeys whatever the schema says: it has rows; its numbers
    are finite (no model can be trained or scored on ±inf) and fit in 32-bit
    floats (trees and float ONNX inputs compute in them); and a column of numbers
    the schema does not declare (`declared`) stays numbers (one "12,5" would
    silently make it text)."""
    import numpy as np
    import pandas as pd

    if len(df) == 0:
        return [SchemaFailure(dataset, None, "has at least one row", 0)]
    out = []
    numeric = [c for c, t in df.dtypes.items() if pd.api.types.is_numeric_dtype(t)]
    if numeric:
        # All numeric columns as one array: a wide table has thousands of them.
        x = df[numeric].to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.isinf(x)
        with np.errstate(invalid="ignore"):
            huge = ~inf & (np.abs(x) > FLOAT32_MAX)
        for j in np.flatnonzero(inf.any(axis=0) | huge.any(axis=0)):
            c = numeric[j]
            if inf[:, j].any():
                out.append(_failure(dataset, df, c, "values are finite (no ±inf)", inf[:, j]))
            if huge[:, j].any():
                check = "values fit in 32-bit floats (|x| ≤ 3.4e38; trees and ONNX compute in them)"
                out.append(_failure(dataset, df, c, check, huge[:, j]))
    for c, t in df.dtypes.items():
        if str(c) in declared or pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t):
            continue
        bad = _numbers_but_for(df[c])
        if bad is not None:
            check = (
                "values are numbers (the column is numbers but for these; a decimal comma "
                "or a word makes the whole column text)"
            )
            out.append(_failure(dataset, df, c, check, bad.to_numpy()))
    return out


def validate_frames(
    frames: dict[str, pd.DataFrame], schema: pa.DataFrameSchema | None, target: str, task: str
) -> list[SchemaFailure]:
    import pandera.pandas as pa

    failures: list[SchemaFailure] = []
    # Columns the schema gives a type: it says what they hold, not the table checks.
    declared = frozenset(str(c) for c in schema.columns) if schema is not None else frozenset()
    for name, df in frames.items():
        if schema is not None:
            try:
                _check(schema, df)
            except pa.errors.SchemaErrors as e:
                failures.extend(without_consequences(_failures_from(e, name)))
            except (
                pa.errors.SchemaError
            ) as e:  # raised even in lazy mode for some table-level checks
                failures.append(SchemaFailure(name, None, str(e).splitlines()[0], len(df)))
        failures.extend(table_failures(df, name, declared))
        failures.extend(target_failures(df, target, task, name))
    return failures


def _check(schema: pa.DataFrameSchema, df: pd.DataFrame) -> None:
    """`schema.validate(df, lazy=True)`. pandera deep-copies the frame first so
    that its coercion cannot change the caller's data; under pandas'
    copy-on-write (pandas 3) a shallow copy protects it as well, without
    copying every column of a large table."""
    import pandas as pd

    if int(pd.__version__.split(".")[0]) >= 3:
        schema.validate(df.copy(deep=False), lazy=True, inplace=True)
    else:
        schema.validate(df, lazy=True)


def infer_schema(
    df: pd.DataFrame, target: str | None = None, categories_max: int = 20
) -> pa.DataFrameSchema:
    """A starting schema: dtypes, nullability, value sets for small string columns,
    and non-negativity for numeric columns that never go below zero. Bounds are
    deliberately loose: a schema that fails on next week's data teaches nothing."""
    import pandas as pd
    import pandera.pandas as pa

    columns = {}
    for name in df.columns:
        s = df[name]
        checks = []
        is_target = name == target
        if pd.api.types.is_bool_dtype(s):
            dtype: Any = bool
        elif pd.api.types.is_integer_dtype(s):
            dtype = "int64"
        elif pd.api.types.is_float_dtype(s):
            # A float column of whole numbers is an int column with gaps: keep float.
            dtype = "float64"
        elif pd.api.types.is_datetime64_any_dtype(s):
            dtype = "datetime64[ns]"
        else:
            dtype = str
            values = s.dropna().unique()
            # A target with many values is still worth pinning, up to a point.
            if 0 < len(values) <= categories_max or (
                is_target and 0 < len(values) <= max(categories_max, 50)
            ):
                checks.append(pa.Check.isin(sorted(map(str, values))))
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric and len(s.dropna()) and s.min() >= 0:
            checks.append(pa.Check.ge(0))
        columns[name] = pa.Column(
            dtype, checks=checks or None, nullable=bool(s.isna().any()) and not is_target
        )
    return pa.DataFrameSchema(columns, coerce=True, strict=False)
