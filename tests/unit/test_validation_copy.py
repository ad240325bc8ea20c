"""Validation without pandera's deep copy: the same failures, and the caller's
frame untouched even where the schema coerces a column."""

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from ci_ml.checks.schema import _check, infer_schema, validate_frames


def _good() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 5, n),
            "c": rng.choice(["x", "y", "z"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def _broken(kind: str) -> pd.DataFrame:
    df = _good()
    if kind == "values":
        df.loc[3, "b"] = -1
        df.loc[7, "c"] = "w"
    elif kind == "coerced":  # integers read as text: the schema coerces them back
        df["b"] = df["b"].astype(str)
    elif kind == "uncoercible":
        df["b"] = df["b"].astype(object)
        df.loc[11, "b"] = "seven"
    elif kind == "missing":
        df = df.drop(columns=["c"])
    return df


def _failures_of_a_deep_copy(schema: pa.DataFrameSchema, df: pd.DataFrame) -> list[str]:
    try:
        schema.validate(df, lazy=True)  # pandera's own way: it copies the frame
    except pa.errors.SchemaErrors as e:
        return sorted(map(str, e.failure_cases.to_dict("records")))
    return []


@pytest.mark.parametrize("kind", ["good", "values", "coerced", "uncoercible", "missing"])
def test_check_fails_as_pandera_does_and_leaves_the_frame_alone(kind: str) -> None:
    schema = infer_schema(_good(), "label")
    df = _broken(kind)
    before = df.copy()
    try:
        _check(schema, df)
        got: list[str] = []
    except pa.errors.SchemaErrors as e:
        got = sorted(map(str, e.failure_cases.to_dict("records")))
    assert got == _failures_of_a_deep_copy(schema, df)
    pd.testing.assert_frame_equal(df, before)
    assert (len(validate_frames({"train": df}, schema, "label", "classification")) == 0) == (
        kind in ("good", "coerced")
    )
