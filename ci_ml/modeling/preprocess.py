"""`model.preprocess: auto`: the scikit-learn preprocessing ci-ml puts in front of
an `estimator:` (never in front of a `factory:`, which builds its own).

- text columns are one-hot encoded: the `MAX_CATEGORIES` most frequent values
  of the training rows get a column each; rarer values, and values the
  training rows never had (a category seen only in the holdout), are encoded
  as all zeros (`handle_unknown="ignore"`), never an error. A missing text
  value reaches the model as "" (see `Dataset.xy`), a category of its own.
  The values that get a column are written into model.onnx: a value holding
  personal data (ci_ml.checks.personal_data) never gets one (it is encoded as
  unknown), unless the column is in `safeguards.allow_personal_data`;
- a text column whose values are mostly distinct (an identifier, free text) is
  not a category: one-hot encoding would copy raw values into the model and
  learn nothing from them, so it is left out, with the reason in the manifest
  and the model card (encode it in a `factory:`, or list it in `data.drop`);
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

from ci_ml.checks.personal_data import holds_personal_data
from ci_ml.data import is_text
from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import pandera.pandas as pa

    from ci_ml.config import PersonalDataCheck

# The cap on one-hot columns per text column: a column with more distinct
# values (a free-text field, an id) would otherwise add a column per row.
MAX_CATEGORIES = 50
# A text column with more distinct values than this share of its rows (and more
# than MAX_CATEGORIES) is an identifier or free text, not a category.
MOSTLY_DISTINCT = 0.5


@dataclass
class Columns:
    """The role of every feature column, and where the roles came from."""

    passthrough: list[str] = field(default_factory=list)  # numeric, never missing
    imputed: list[str] = field(default_factory=list)  # numeric, may be missing: median
    categorical: list[str] = field(default_factory=list)  # text: one-hot
    nullable_from: str = "data"  # "schema" or "data"
    left_out: dict[str, str] = field(default_factory=dict)  # text that is no category: why
    # Columns whose personal data may reach the model (safeguards.allow_personal_data),
    # and the scan's settings (None: no scan).
    allowed_personal: frozenset[str] = frozenset()
    personal_check: PersonalDataCheck | None = None
    # Filled by `build`: each one-hot column's values (what model.onnx carries), and
    # how many frequent values were withheld because they hold personal data.
    vocabulary: dict[str, list[str]] = field(default_factory=dict)
    withheld: dict[str, int] = field(default_factory=dict)

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
            why = _not_a_category(frames, name)
            if why:
                cols.left_out[name] = why
            else:
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


def _not_a_category(frames: list[pd.DataFrame], name: str) -> str | None:
    """Why a text column is not a category (mostly distinct values), or None."""
    import pandas as pd

    values = pd.concat([df[name] for df in frames], ignore_index=True).dropna().astype(str)
    distinct = values.nunique()
    if distinct > MAX_CATEGORIES and distinct > MOSTLY_DISTINCT * len(values):
        return (
            f"{distinct:,} distinct values in {len(values):,} rows: an identifier or free text, "
            "not a category (one-hot encoding would copy its raw values into the model); "
            "encode it in a factory, or list it in data.drop"
        )
    return None


def _holds_personal_data(value: str, cols: Columns) -> bool:

    return cols.personal_check is not None and holds_personal_data(value, cols.personal_check)


def vocabulary(values: pd.Series, name: str, cols: Columns) -> list[str]:
    """The values of a text column that get a one-hot column (and so are written
    into model.onnx): the most frequent, none that holds personal data unless the
    column is allowed to."""
    top = top_categories(values)
    if name in cols.allowed_personal:
        return top
    kept = [v for v in top if not _holds_personal_data(v, cols)]
    if len(kept) < len(top):
        cols.withheld[name] = len(top) - len(kept)
    return kept


def top_categories(values: pd.Series, cap: int = MAX_CATEGORIES) -> list[str]:
    """The `cap` most frequent values (ties broken by value), sorted."""
    counts = values.astype(str).value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return sorted(v for v, _ in ranked[:cap])


def build(est: Any, cols: Columns, X: pd.DataFrame) -> Any:
    """`est` behind the preprocessing `cols` need, fitted on X later; `est` itself
    when nothing is needed."""
    if not cols.needed and not cols.left_out:
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
        cols.vocabulary = {c: vocabulary(X[c], c, cols) for c in cols.categorical}
        encoder = OneHotEncoder(
            categories=[cols.vocabulary[c] for c in cols.categorical],
            handle_unknown="ignore",
            sparse_output=False,
        )
        parts.append(("one_hot", encoder, cols.categorical))
    if not parts:
        raise ConfigError(
            "model.preprocess: auto left no column the model can use (every feature is an "
            f"identifier or free text: {', '.join(cols.left_out)})",
            hint="encode the text in a `factory:` (model.py:build_model)",
        )
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
    described: dict[str, Any] = {
        "mode": "auto",
        "one_hot": one_hot,
        "imputed_median": list(cols.imputed),
        "passthrough": list(cols.passthrough),
        "nullable_from": cols.nullable_from,
    }
    # What model.onnx carries of the data: every one-hot column's values.
    if cols.vocabulary:
        described["vocabulary"] = dict(cols.vocabulary)
    if cols.withheld:
        described["withheld_personal_data"] = dict(cols.withheld)
    if cols.left_out:
        described["left_out"] = dict(cols.left_out)
    return described
