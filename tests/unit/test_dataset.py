"""The dataset lets its training rows go after train, keeping what the manifest says."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ci_ml.config import load_config
from ci_ml.data import load_dataset

MODEL = "model: {estimator: sklearn.linear_model.LogisticRegression}\n"


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": pd.Series(rng.integers(0, 3, n)).astype("category"),
            "s": np.where(rng.random(n) < 0.5, "a", "b"),
            "y": rng.integers(0, 2, n),
        }
    )


@pytest.mark.parametrize("layout", ["files", "split"])
def test_drop_train_keeps_the_holdout_the_columns_and_the_row_count(
    tmp_path: Path, layout: str
) -> None:
    if layout == "files":
        _frame(80, 1).to_parquet(tmp_path / "train.parquet")
        _frame(20, 2).to_parquet(tmp_path / "test.parquet")
        data = "data: {train: train.parquet, test: test.parquet, target: y}\n"
    else:
        _frame(100, 3).to_parquet(tmp_path / "all.parquet")
        data = "data: {path: all.parquet, split: {test_size: 0.25, seed: 1}, target: y}\n"
    (tmp_path / "ci-ml.yaml").write_text(data + MODEL)
    d = load_dataset(load_config(tmp_path / "ci-ml.yaml"))
    test, rows = d.test.copy(), len(d.train)
    dtypes = {role: df.dtypes.to_dict() for role, df in d.sources.items()}
    features = d.features

    d.drop_train()

    assert d.train_rows == rows and len(d.train) == 0
    pd.testing.assert_frame_equal(d.test, test)
    assert d.features == features
    assert {role: df.dtypes.to_dict() for role, df in d.sources.items()} == dtypes
    assert all(len(df) == 0 for role, df in d.sources.items() if role != "test")
    X, y = d.xy("test")
    assert len(X) == len(y) == len(test)


def test_drop_train_keeps_whole_the_columns_a_later_stage_draws_from(tmp_path: Path) -> None:
    """The model tests' resampled invariance checks draw from the training rows."""
    _frame(80, 1).to_parquet(tmp_path / "train.parquet")
    _frame(20, 2).to_parquet(tmp_path / "test.parquet")
    (tmp_path / "ci-ml.yaml").write_text(
        "data: {train: train.parquet, test: test.parquet, target: y}\n" + MODEL
    )
    d = load_dataset(load_config(tmp_path / "ci-ml.yaml"))
    before = d.features_of("train", ["s", "k"])

    d.drop_train(keep=["s", "k"])

    assert d.train_rows == 80 and list(d.train.columns) == ["s", "k"]
    pd.testing.assert_frame_equal(d.features_of("train", ["s", "k"]), before)
    assert d.features_of("test").equals(d.xy("test")[0])
