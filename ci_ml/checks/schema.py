"""pandera schemas, loaded from YAML or Python, run lazily so every failure is
reported at once; and the first schema `ci-ml schema infer` writes."""

from __future__ import annotations

import hashlib
import importlib
import sys
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import plain
from ci_ml.errors import ConfigError
from ci_ml.records import SchemaFailure, ValidationResult

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

    from ci_ml.config import Config


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


def table_failures(df: pd.DataFrame, dataset: str) -> list[SchemaFailure]:
    """Rules every table obeys whatever the schema says: it has rows, and its
    numbers are finite (no model can be trained or scored on ±inf)."""
    import numpy as np

    if len(df) == 0:
        return [SchemaFailure(dataset, None, "has at least one row", 0)]
    out = []
    for c in df.select_dtypes(include="number").columns:
        inf = np.isinf(df[c].to_numpy(dtype=np.float64, na_value=np.nan))
        if inf.any():
            out.append(
                SchemaFailure(
                    dataset,
                    str(c),
                    "values are finite (no ±inf)",
                    int(inf.sum()),
                    examples=[plain(v) for v in df[c][inf].head(MAX_EXAMPLES)],
                    rows=[plain(i) for i in df.index[inf][:MAX_EXAMPLES]],
                )
            )
    return out


def validate_frames(
    frames: dict[str, pd.DataFrame], schema: pa.DataFrameSchema | None, target: str, task: str
) -> list[SchemaFailure]:
    import pandera.pandas as pa

    failures: list[SchemaFailure] = []
    for name, df in frames.items():
        if schema is not None:
            try:
                _check(schema, df)
            except pa.errors.SchemaErrors as e:
                failures.extend(_failures_from(e, name))
            except (
                pa.errors.SchemaError
            ) as e:  # raised even in lazy mode for some table-level checks
                failures.append(SchemaFailure(name, None, str(e).splitlines()[0], len(df)))
        failures.extend(table_failures(df, name))
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
