"""`model.preprocess: auto`: the scikit-learn preprocessing ci-ml puts in front of
an `estimator:` (never in front of a `factory:`, which builds its own).

- text columns are one-hot encoded: the `MAX_CATEGORIES` most frequent values
  of the training rows get a column each; rarer values, and values the
  training rows never had (a category seen only in the holdout), are encoded
  as all zeros (`handle_unknown="ignore"`), never an error. A missing text
  value reaches the model as "" (see `Dataset.xy`), a category of its own.
- numeric columns that may be missing are imputed with the training median;
- other numeric (and boolean) columns pass through unchanged.

Which columns are text comes from the data as read, which is also how the
ONNX inputs are typed (a string input per text column, a double input per
numeric one). Which numeric columns may be missing comes from the schema's
`nullable`; for a column the schema does not list, or without a schema, a
numeric column is imputed when the data (every configured file, as read)
has a missing value in it. Nothing is added when nothing is needed: an
all-numeric table without missing values reaches the estimator as it is.

The pipeline is built from scikit-learn's own transformers, so it exports to
one ONNX graph with the model. Numeric steps come first in the
ColumnTransformer: skl2onnx types the merged columns after the first part,
and a numeric first part keeps the whole graph in double precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ml.data import is_text
from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

# The cap on one-hot columns per text column: a column with more distinct
# values (a free-text field, an id) would otherwise add a column per row.
MAX_CATEGORIES = 50


@dataclass
class Columns:
    """The role of every feature column, and where the roles came from."""

    passthrough: list[str] = field(default_factory=list)  # numeric, never missing
    imputed: list[str] = field(default_factory=list)  # numeric, may be missing: median
    categorical: list[str] = field(default_factory=list)  # text: one-hot
    nullable_from: str = "data"  # "schema" or "data"

    @property
    def needed(self) -> bool:
        return bool(self.imputed or self.categorical)


def _kind(s: pd.Series) -> str:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
        return "datetime"
    return "text" if is_text(s) else "numeric"


def _schema_nullable(schema: pa.DataFrameSchema | None) -> dict[str, bool]:
    if schema is None:
        return {}
    return {
        str(name): bool(col.nullable)
        for name, col in schema.columns.items()
        if not getattr(col, "regex", False)
    }


def column_roles(
    frames: list[pd.DataFrame], features: list[str], schema: pa.DataFrameSchema | None
) -> Columns:
    """Roles for the feature columns of `frames` (the data as read, every file)."""
    nullable = _schema_nullable(schema)
    cols = Columns(nullable_from="schema" if nullable else "data")
    dates = []
    for name in features:
        kinds = {_kind(df[name]) for df in frames}
        if "datetime" in kinds:
            dates.append(name)
        elif "text" in kinds:
            cols.categorical.append(name)
        elif nullable.get(name, any(df[name].isna().any() for df in frames)):
            cols.imputed.append(name)
        else:
            cols.passthrough.append(name)
    if dates:
        raise ConfigError(
            f"model.preprocess: auto cannot encode date/time column(s) {', '.join(map(repr, dates))}",
            hint="list them in data.drop, or derive numeric features from them in a "
            "`factory:` (model.py:build_model)",
        )
    return cols


def top_categories(values: pd.Series, cap: int = MAX_CATEGORIES) -> list[str]:
    """The `cap` most frequent values (ties broken by value), sorted."""
    counts = values.astype(str).value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return sorted(v for v, _ in ranked[:cap])


def build(est: Any, cols: Columns, X: pd.DataFrame) -> Any:
    """`est` behind the preprocessing `cols` need, fitted on X later; `est` itself
    when nothing is needed."""
    if not cols.needed:
        return est
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    parts: list[tuple[str, Any, list[str]]] = []
    if cols.imputed:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
        parts.append(("impute", imputer, cols.imputed))
    if cols.passthrough:
        parts.append(("numeric", "passthrough", cols.passthrough))
    if cols.categorical:
        encoder = OneHotEncoder(
            categories=[top_categories(X[c]) for c in cols.categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        parts.append(("one_hot", encoder, cols.categorical))
    features = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return Pipeline([("preprocess", features), ("model", est)])


def describe(cols: Columns, X: pd.DataFrame) -> dict[str, Any]:
    """What train.json and the manifest say about the preprocessing."""
    one_hot = {}
    for c in cols.categorical:
        distinct = int(X[c].astype(str).nunique())
        one_hot[c] = {
            "categories": min(distinct, MAX_CATEGORIES),
            "encoded_as_unknown": max(distinct - MAX_CATEGORIES, 0),
        }
    return {
        "mode": "auto",
        "one_hot": one_hot,
        "imputed_median": list(cols.imputed),
        "passthrough": list(cols.passthrough),
        "nullable_from": cols.nullable_from,
    }
