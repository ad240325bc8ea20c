"""`model.preprocess: auto`: which column gets which treatment, and the pipeline
that results. (tests/unit/test_estimator_matrix.py exports it behind every
supported estimator.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ci_ml.errors import ConfigError
from ci_ml.modeling import preprocess
from ci_ml.modeling.export import export


def frame(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols)


def test_roles_from_the_data_when_there_is_no_schema() -> None:
    train = frame(
        plan=["a", "b", None], fee=[1.0, 2.0, 3.0], tickets=[1.0, 2.0, 3.0], vip=[True, False, True]
    )
    test = frame(
        plan=["a", "a", "b"], fee=[1.0, 2.0, 3.0], tickets=[1.0, np.nan, 2.0], vip=[True] * 3
    )
    cols = preprocess.column_roles([train, test], list(train.columns), None)
    assert cols.categorical == ["plan"]
    assert cols.imputed == ["tickets"]  # missing in the holdout file counts too
    assert cols.passthrough == ["fee", "vip"]
    assert cols.nullable_from == "data" and cols.needed


def test_the_schema_decides_which_numeric_columns_may_be_missing() -> None:
    df = frame(fee=[1.0, 2.0], tenure=[3.0, 4.0], extra=[np.nan, 1.0], label=["y", "n"])
    schema = pa.DataFrameSchema(
        {
            "fee": pa.Column(float, nullable=True),  # no gap today, allowed tomorrow
            "tenure": pa.Column(float, nullable=False),
            "label": pa.Column(str),
        }
    )
    cols = preprocess.column_roles([df], ["fee", "tenure", "extra"], schema)
    assert cols.imputed == ["fee", "extra"]  # extra: not in the schema, so the data says
    assert cols.passthrough == ["tenure"]
    assert cols.nullable_from == "schema"


def test_date_columns_are_a_config_error_naming_them() -> None:
    df = frame(signup=pd.to_datetime(["2024-01-01", "2024-02-01"]), fee=[1.0, 2.0])
    with pytest.raises(ConfigError, match="'signup'") as e:
        preprocess.column_roles([df], ["signup", "fee"], None)
    assert e.value.exit_code == 2 and "data.drop" in (e.value.hint or "")


def test_nothing_is_added_to_an_all_numeric_table_without_gaps() -> None:
    df = frame(a=[1.0, 2.0], b=[3, 4])
    cols = preprocess.column_roles([df], ["a", "b"], None)
    est = LogisticRegression()
    assert not cols.needed and preprocess.build(est, cols, df) is est


def test_the_cap_keeps_the_most_frequent_categories() -> None:
    values = pd.Series(["x"] * 3 + ["b"] * 2 + ["a"] * 2 + ["c"])
    assert preprocess.top_categories(values, cap=2) == ["a", "x"]  # a/b tie: the first by value
    assert preprocess.top_categories(values, cap=10) == ["a", "b", "c", "x"]


def test_describe_says_how_many_values_the_cap_folds_into_unknown() -> None:
    n = preprocess.MAX_CATEGORIES + 5
    # each city twice: a category with a long tail, not an identifier
    df = frame(city=[f"c{i % n}" for i in range(2 * n)], fee=np.arange(2 * n, dtype=float))
    cols = preprocess.column_roles([df], ["city", "fee"], None)
    assert preprocess.describe(cols, df) == {
        "mode": "auto",
        "one_hot": {"city": {"categories": preprocess.MAX_CATEGORIES, "encoded_as_unknown": 5}},
        "imputed_median": [],
        "passthrough": ["fee"],
        "nullable_from": "data",
    }


def _churn(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    X = frame(
        plan=rng.choice(["basic", "plus", "premium"], n).astype(object),
        tenure=np.where(rng.random(n) < 0.2, np.nan, rng.normal(20, 5, n)),
    )
    y = pd.Series(np.where((X["plan"] == "premium") | (X["tenure"] < 15), "yes", "no"))
    return X, y


def test_a_category_only_the_holdout_has_is_encoded_as_unknown(tmp_path: Path) -> None:
    X, y = _churn(300, 0)
    Xte, _ = _churn(60, 1)
    Xte.loc[:4, "plan"] = "enterprise"
    cols = preprocess.column_roles([X, Xte], ["plan", "tenure"], None)
    model = preprocess.build(LogisticRegression(), cols, X).fit(X, y)
    assert isinstance(model, Pipeline)
    encoded = model.named_steps["preprocess"].transform(Xte.iloc[:5])
    assert (encoded[:, -3:] == 0).all()  # no one-hot column lit: unknown
    result, _ = export(model, Xte, "classification", tmp_path, None, 1e-4)
    assert result.parity["passed"] and result.precision == "double"


def test_a_table_of_text_only_exports_too(tmp_path: Path) -> None:
    """One-hot first in the ColumnTransformer types the graph float: exact for 0/1."""
    X, y = _churn(300, 2)
    X = X[["plan"]]
    cols = preprocess.column_roles([X], ["plan"], None)
    model = preprocess.build(LogisticRegression(), cols, X).fit(X, y)
    result, _ = export(model, X, "classification", tmp_path, None, 1e-4)
    assert result.parity["passed"]


def test_a_mostly_distinct_text_column_is_left_out_with_the_reason() -> None:
    """Issue 22, 5: an identifier or free text is not one-hot encoded (its raw values
    would be written into model.onnx)."""
    n = preprocess.MAX_CATEGORIES + 5
    df = frame(note=[f"note {i}" for i in range(n)], fee=np.arange(n, dtype=float))
    cols = preprocess.column_roles([df], ["note", "fee"], None)
    assert cols.categorical == [] and "identifier or free text" in cols.left_out["note"]
    assert preprocess.describe(cols, df)["left_out"] == cols.left_out
