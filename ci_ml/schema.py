"""The data tests: pandera schemas, loaded from YAML or Python, run lazily so
every failure is reported at once; and `ci-ml schema infer` to write a first one."""

from __future__ import annotations

import hashlib
import importlib
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

    from ci_ml.config import Config

MAX_EXAMPLES = 5


@dataclass
class Failure:
    """One broken rule: which column, which check, how many rows, a few examples."""

    dataset: str
    column: str | None
    check: str
    failing_rows: int
    examples: list[Any] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)

    def line(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        ex = ", ".join(repr(v) for v in self.examples)
        rows = ", ".join(str(r) for r in self.rows)
        s = f"[{self.dataset}] {where}: {self.check} failed on {self.failing_rows} row(s)"
        if ex:
            s += f"; e.g. {ex}"
        if rows:
            s += f" (rows {rows})"
        return s


@dataclass
class ValidationResult:
    passed: bool
    schema_source: str | None
    schema_sha256: str | None
    failures: list[Failure]
    rows: dict[str, int]

    @property
    def broken_columns(self) -> list[str]:
        return sorted({f.column for f in self.failures if f.column})

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "schema": self.schema_source,
            "schema_sha256": self.schema_sha256,
            "rows": self.rows,
            "broken_columns": self.broken_columns,
            "failures": [asdict(f) for f in self.failures],
        }


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


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        try:
            return v.item()
        except (ValueError, AttributeError):
            pass
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _failures_from(err: Any, dataset: str) -> list[Failure]:
    """Group pandera's failure_cases table into one Failure per (column, check)."""
    fc = err.failure_cases
    out: list[Failure] = []
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
            Failure(
                dataset=dataset,
                column=col,
                check=str(check),
                failing_rows=int(rows),
                examples=[_jsonable(v) for v in grp["failure_case"].head(MAX_EXAMPLES)],
                rows=[_jsonable(v) for v in idx.head(MAX_EXAMPLES)],
            )
        )
    return out


def target_failures(df: pd.DataFrame, target: str, task: str, dataset: str) -> list[Failure]:
    """Rules every target obeys whatever the schema says."""
    y = df[target]
    out = []
    missing = y.isna()
    if missing.any():
        out.append(
            Failure(
                dataset,
                target,
                "target has no missing values",
                int(missing.sum()),
                rows=[_jsonable(i) for i in y.index[missing][:MAX_EXAMPLES]],
            )
        )
    if task == "classification" and dataset in ("train", "data") and y.nunique(dropna=True) < 2:
        out.append(
            Failure(
                dataset,
                target,
                "classification target has at least 2 classes",
                len(y),
                examples=[_jsonable(v) for v in y.dropna().unique()[:MAX_EXAMPLES]],
            )
        )
    return out


def validate_frames(
    frames: dict[str, pd.DataFrame], schema: pa.DataFrameSchema | None, target: str, task: str
) -> list[Failure]:
    import pandera.pandas as pa

    failures: list[Failure] = []
    for name, df in frames.items():
        if schema is not None:
            try:
                schema.validate(df, lazy=True)
            except pa.errors.SchemaErrors as e:
                failures.extend(_failures_from(e, name))
            except (
                pa.errors.SchemaError
            ) as e:  # raised even in lazy mode for some table-level checks
                failures.append(Failure(name, None, str(e).splitlines()[0], len(df)))
        failures.extend(target_failures(df, target, task, name))
    return failures


# --- ci-ml schema infer -------------------------------------------------------


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
            if len(values) <= categories_max or (
                is_target and len(values) <= max(categories_max, 50)
            ):
                checks.append(pa.Check.isin(sorted(map(str, values))))
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric and len(s.dropna()) and s.min() >= 0:
            checks.append(pa.Check.ge(0))
        columns[name] = pa.Column(
            dtype, checks=checks or None, nullable=bool(s.isna().any()) and not is_target
        )
    return pa.DataFrameSchema(columns, coerce=True, strict=False)


def cmd_infer(args: Any) -> int:
    from ci_ml.data import read_frame

    df = read_frame(Path(args.data))
    if args.target and args.target not in df.columns:
        raise ConfigError(
            f"--target {args.target!r} is not a column of {args.data}",
            hint=f"columns are: {', '.join(map(str, df.columns[:30]))}",
        )
    schema = infer_schema(df, args.target, args.categories_max)
    sys.stdout.write(
        f"# pandera schema inferred by `ci-ml schema infer` from {Path(args.data).name}\n"
    )
    sys.stdout.write("# review it: tighten ranges and value sets to what your data must satisfy\n")
    sys.stdout.write(schema.to_yaml())
    return 0
