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


def test_a_file_larger_than_free_memory_is_refused_before_reading(tmp_path, monkeypatch) -> None:
    """Issue 22, 6: a 10 GB file was read until memory ran out (5.6 GB RSS, a minute),
    then "could not be read as csv: " with an empty reason."""
    import pytest

    from ci_ml import data
    from ci_ml.errors import DataValidationError

    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1,2\n" * 50_000)  # 200 KB
    monkeypatch.setattr(data, "available_memory", lambda: 100_000)
    with pytest.raises(DataValidationError) as e:
        data.read_frame(path)
    assert "takes at least 200.0 KB of memory, and 100.0 KB is free" in str(e.value)


def test_running_out_of_memory_while_reading_says_so_with_the_numbers(
    tmp_path, monkeypatch
) -> None:
    import pandas as pd
    import pytest

    from ci_ml import data
    from ci_ml.errors import DataValidationError

    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n")

    def out_of_memory(*a, **k):
        raise MemoryError()

    monkeypatch.setattr(pd, "read_csv", out_of_memory)
    with pytest.raises(DataValidationError) as e:
        data.read_frame(path)
    assert "ran out of memory reading it" in str(e.value) and "on disk" in str(e.value)


def test_too_few_training_rows_are_named_with_their_numbers() -> None:
    import pandas as pd

    from ci_ml.data import too_few_rows

    assert too_few_rows(pd.Series(["a"] * 5), "classification", "the training rows") == (
        "the training rows hold 5 row(s); training needs at least 10"
    )
    y = pd.Series(["a"] * 20 + ["b"])
    assert "1 of 'b'" in too_few_rows(y, "classification", "the training rows")
    assert too_few_rows(pd.Series(range(20)), "regression", "the training rows") is None


def _dataset_config(tmp_path: Path, data: str, extra: str = "") -> Path:
    p = tmp_path / "ci-ml.yaml"
    p.write_text(f"data: {{{data}}}\n{MODEL}{extra}")
    return p


def test_a_partitioned_dataset_is_read_locally_in_the_dask_engines_file_order(
    tmp_path: Path,
) -> None:
    df = _frame(300, 1).astype({"k": "int64"})
    (tmp_path / "all").mkdir()
    for i in range(12):  # part-10 sorts before part-2: the order is the engines' own
        df.iloc[i * 25 : (i + 1) * 25].to_parquet(tmp_path / "all" / f"part-{i}.parquet")
    from ci_ml.engine import dataset_files

    cfg = load_config(_dataset_config(tmp_path, "path: all, target: y, split: {by: row_key}"))
    ds = load_dataset(cfg)
    order = [int(f.stem.split("-")[1]) for f in dataset_files(tmp_path / "all")]
    expected = pd.concat([df.iloc[i * 25 : (i + 1) * 25] for i in order], ignore_index=True)
    pd.testing.assert_frame_equal(ds.sources["data"], expected)
    assert len(ds.files["data"].sha256) == 64 and ds.files["data"].rows == 300


def test_a_row_key_split_moves_no_row_when_a_column_is_dropped(tmp_path: Path) -> None:
    from ci_ml.engine import in_holdout

    df = _frame(400, 2).astype({"k": "int64"})
    df.to_parquet(tmp_path / "d.parquet")
    keep = "path: d.parquet, target: y, split: {by: row_key, seed: 5}"
    kept = load_dataset(load_config(_dataset_config(tmp_path, keep)))
    dropped = load_dataset(load_config(_dataset_config(tmp_path, keep + ", drop: [s]")))
    assert list(kept.test.index) == list(dropped.test.index)
    assert list(kept.test.index) == list(np.flatnonzero(in_holdout(df, 0.2, 5)))
    assert dropped.split == {"test_size": 0.2, "seed": 5, "stratify": False, "by": "row key"}


@pytest.mark.parametrize(
    ("data", "engine", "words"),
    [
        ("split: {by: random}", "engine: {kind: dask}\n", "the Dask engine splits by row key"),
        ("split: {by: row_key, stratify: true}", "", "a row-key split is not stratified"),
        ("split: {stratify: true}", "engine: {kind: dask}\n", "a row-key split is not stratified"),
    ],
)
def test_a_split_the_engine_cannot_make_is_a_config_error(
    tmp_path: Path, data: str, engine: str, words: str
) -> None:
    from ci_ml.errors import ConfigError

    with pytest.raises(ConfigError, match=words):
        load_config(_dataset_config(tmp_path, f"path: d.parquet, target: y, {data}", engine))


def test_an_unset_split_method_leaves_the_config_dump_as_it_was(tmp_path: Path) -> None:
    cfg = load_config(_dataset_config(tmp_path, "path: d.csv, target: y, split: {seed: 1}"))
    assert cfg.model_dump(mode="json", by_alias=True)["data"]["split"] == {
        "test_size": 0.2,
        "seed": 1,
        "stratify": None,
    }


def test_a_categorical_column_of_a_dataset_stays_categorical_with_every_files_categories(
    tmp_path: Path,
) -> None:
    from ci_ml.data import read_dataset

    (tmp_path / "d").mkdir()
    pd.DataFrame({"k": pd.Categorical(["b", "a"]), "x": [1.0, 2.0]}).to_parquet(
        tmp_path / "d/a.parquet"
    )
    pd.DataFrame({"k": pd.Categorical(["c", "c"]), "x": [3.0, 4.0]}).to_parquet(
        tmp_path / "d/b.parquet"
    )
    df = read_dataset(tmp_path / "d")
    assert isinstance(df["k"].dtype, pd.CategoricalDtype)
    assert list(df["k"].cat.categories) == ["a", "b", "c"] and list(df["k"]) == ["b", "a", "c", "c"]
