"""The engine seam (issue 27): what the Dask engine decides partition by partition
is a function of each row, and combining the partitions' results gives what the
whole table gives. Checked on the in-memory engine cut into partitions (no
cluster here; tests/integration/test_dask_engine.py builds on one)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from ci_ml.checks.schema import validate, validate_partitioned
from ci_ml.config import Config, load_config
from ci_ml.engine import (
    check_dataset,
    dataset_digest,
    dataset_files,
    in_holdout,
    in_sample,
    is_dataset,
    key_columns,
    merge_failures,
    row_keys,
)
from ci_ml.engine.local import LocalEngine
from ci_ml.errors import ConfigError, DataValidationError, UsageError

ROOT = Path(__file__).resolve().parents[2]


def table(n: int = 2_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.choice(["a", "b", "c"], size=n),
            "y": rng.integers(0, 2, size=n),
        }
    )


def test_the_split_is_a_function_of_the_row_not_of_its_partition() -> None:
    df = table()
    whole = df[in_holdout(df, 0.25, seed=3)]
    # The same rows shuffled and cut into 7 partitions: the same rows are held out.
    shuffled = df.sample(frac=1, random_state=1)
    parts = np.array_split(np.arange(len(df)), 7)
    pieces = [shuffled.iloc[p] for p in parts]
    held = pd.concat([p[in_holdout(p, 0.25, seed=3)] for p in pieces]).sort_index()
    assert held.index.equals(whole.index)
    assert abs(len(whole) / len(df) - 0.25) < 0.03  # 0.25 ± 3 sd at 2,000 rows
    other = df[in_holdout(df, 0.25, seed=4)]
    assert not other.index.equals(whole.index)  # the seed matters
    # Identical rows fall on the same side.
    twice = pd.concat([df.head(50), df.head(50)], ignore_index=True)
    mask = in_holdout(twice, 0.5, 0)
    assert (mask[:50] == mask[50:]).all()


def test_the_sample_keeps_every_row_when_there_are_no_more_and_is_seeded() -> None:
    df = table()
    assert in_sample(df, 1.0, 0).all()
    a, b = in_sample(df, 0.1, 0), in_sample(df, 0.1, 0)
    assert (a == b).all() and abs(a.mean() - 0.1) < 0.03
    assert not (a == in_sample(df, 0.1, 1)).all()
    # Salted apart from the split: a sample is not the holdout.
    assert not (in_sample(df, 0.25, 0) == in_holdout(df, 0.25, 0)).all()


def broken() -> pd.DataFrame:
    df = table(1_000)
    df.loc[[3, 400, 401, 998], "x"] = [np.inf, -np.inf, np.inf, np.inf]  # the table checks
    df.loc[[10, 500, 900], "y"] = np.nan  # the target's
    df.loc[range(0, 1_000, 97), "k"] = "zz"  # the schema's
    return df


SCHEMA = pa.DataFrameSchema(
    {"k": pa.Column(str, pa.Check.isin(["a", "b", "c"])), "x": pa.Column(float, nullable=True)}
)


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_validation_by_partition_finds_what_the_whole_table_gives(partitions: int) -> None:
    frames = {"data": broken()}
    whole = validate(frames, SCHEMA, "s", None, "y", "classification")
    parts = validate_partitioned(
        LocalEngine(frames, partitions), ["data"], SCHEMA, "s", None, "y", "classification"
    )
    key = lambda f: (f.dataset, f.column, f.check)  # noqa: E731
    assert not whole.passed and not parts.passed
    assert parts.rows == whole.rows == {"data": 1_000}
    assert {key(f): f.failing_rows for f in parts.failures} == {
        key(f): f.failing_rows for f in whole.failures
    }
    for f, g in zip(sorted(parts.failures, key=key), sorted(whole.failures, key=key), strict=True):
        assert f.rows == g.rows and f.examples == g.examples  # the same first rows


def test_rules_about_the_whole_table_are_decided_on_the_combined_counts() -> None:
    df = table(400)
    df["y"] = np.repeat([0, 1], 200)  # each half one class: a partition alone has one
    ok = validate_partitioned(
        LocalEngine({"train": df}, 2), ["train"], None, None, None, "y", "classification"
    )
    assert ok.passed, [f.line() for f in ok.failures]
    df["y"] = 1
    one = validate_partitioned(
        LocalEngine({"train": df}, 2), ["train"], None, None, None, "y", "classification"
    )
    assert [f.check for f in one.failures] == ["classification target has at least 2 classes"]
    empty = validate_partitioned(
        LocalEngine({"test": df.iloc[:0]}, 2), ["test"], None, None, None, "y", "regression"
    )
    assert [f.check for f in empty.failures] == ["has at least one row"]


def test_merged_failures_keep_a_bounded_number_of_examples() -> None:
    from ci_ml.records import SchemaFailure

    part = [SchemaFailure("d", "x", "c", 4, examples=[1, 2, 3, 4], rows=[0, 1, 2, 3])]
    (m,) = merge_failures([part, part, part], examples=5)
    assert m.failing_rows == 12 and m.examples == [1, 2, 3, 4, 1] and len(m.rows) == 5
    assert part[0].examples == [1, 2, 3, 4]  # the inputs are not changed


def test_a_dataset_digest_changes_with_any_file_and_reads_none_whole(tmp_path: Path) -> None:
    d = tmp_path / "ds"
    (d / "year=2024").mkdir(parents=True)
    table(100).to_parquet(d / "year=2024" / "a.parquet")
    table(100, 1).to_parquet(d / "b.parquet")
    read: list[Path] = []

    def digest(p: Path) -> str:
        read.append(p)
        return p.read_bytes().hex()[:64]

    first = dataset_digest(d, digest)
    assert sorted(read) == sorted(dataset_files(d)) and len(read) == 2
    assert dataset_digest(d, digest) == first
    table(100, 2).to_parquet(d / "b.parquet")
    assert dataset_digest(d, digest) != first
    changed = dataset_digest(d, digest)
    (d / "b.parquet").rename(d / "c.parquet")
    assert dataset_digest(d, digest) != changed
    assert dataset_digest(d / "*.parquet", digest) != dataset_digest(d, digest)  # a glob: one file
    # Wildcards in a folder's part too, named from the folder before the first one:
    # the same files as the directory give the same digest.
    assert dataset_files(d / "*" / "*.parquet") == [d / "year=2024" / "a.parquet"]
    assert dataset_files(d / "**" / "*.parquet") == dataset_files(d)
    assert dataset_digest(d / "**" / "*.parquet", digest) == dataset_digest(d, digest)
    # A file that is there is a file, whatever its path holds.
    odd = tmp_path / "runs[2024]" / "train*.parquet"
    odd.parent.mkdir()
    table(10).to_parquet(odd)
    assert not is_dataset(odd) and is_dataset(odd.parent / "*.parquet")


def test_a_dataset_without_parquet_files_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no Parquet files found"):
        dataset_files(tmp_path / "empty")
    (tmp_path / "t.csv").write_text("a\n1\n")
    with pytest.raises(UsageError, match="is read as Parquet, not .csv files"):
        dataset_files(tmp_path / "*.csv")
    # A directory: another data file in it would be left out without a word.
    d = tmp_path / "mixed"
    d.mkdir()
    table(10).to_parquet(d / "a.parquet")
    (d / "_SUCCESS").write_text("")  # Spark's marker: no data
    (d / "_delta_log").mkdir()  # metadata folders and hidden files: skipped
    (d / "_delta_log" / "00000.json").write_text("{}")
    table(10).to_parquet(d / ".a.parquet.tmp.parquet")
    (d / "notes.txt").write_text("where these came from")
    assert dataset_files(d) == [d / "a.parquet"]
    table(10).to_csv(d / "b.csv", index=False)
    with pytest.raises(UsageError, match=r"b.csv: a .csv file in the dataset .*left out"):
        dataset_files(d)


def test_a_row_hashes_alike_whichever_numeric_type_its_file_gave_it() -> None:
    # One file of a dataset stores a column as integers, another (with a missing
    # value) as floats: the same row must get the same key, side and row-check hash.
    ints = table(500)
    floats = ints.astype({"y": "float64"})
    assert (row_keys(ints, 3) == row_keys(floats, 3)).all()
    assert (in_holdout(ints, 0.3, 3) == in_holdout(floats, 0.3, 3)).all()
    a, b = key_columns(ints, ["x", "y"], "y", 0), key_columns(floats, ["x", "y"], "y", 0)
    assert a.equals(b)
    negative_zero = pd.DataFrame({"x": [-0.0, 1.0]})
    assert (row_keys(negative_zero, 0) == row_keys(negative_zero.abs(), 0)).all()
    texts = ints.astype({"y": str})  # text is another value: "1" is not 1
    assert not (row_keys(ints, 3) == row_keys(texts, 3)).any()


def test_the_files_of_a_dataset_must_agree_on_columns_and_their_kinds(tmp_path: Path) -> None:
    def dataset(name: str, *frames: pd.DataFrame) -> list[Path]:
        d = tmp_path / name
        d.mkdir()
        for i, df in enumerate(frames):
            df.to_parquet(d / f"part-{i}.parquet", index=False)
        return dataset_files(d)

    df = table(20)
    with_missing = df.astype({"y": "float64"})
    with_missing.loc[0, "y"] = np.nan
    nothing = df.assign(k=None)  # a file whose column is all missing: Arrow's null type
    check_dataset(dataset("numbers", df, with_missing, nothing))  # int, float and null agree
    with pytest.raises(DataValidationError, match=r"part-1.parquet: .* lacks k") as e:
        check_dataset(dataset("fewer", df, df.drop(columns="k")))
    assert e.value.hint == "every file of a dataset must have the same columns"
    with pytest.raises(DataValidationError, match=r"has extra as well"):
        check_dataset(dataset("more", df, df.assign(extra=1)))
    with pytest.raises(DataValidationError, match=r"column x holds text values where .* number"):
        check_dataset(dataset("kinds", df, df.astype({"x": str})))
    (tmp_path / "broken").mkdir()
    df.to_parquet(tmp_path / "broken" / "a.parquet")
    (tmp_path / "broken" / "b.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataValidationError, match="b.parquet: could not be read as Parquet"):
        check_dataset(dataset_files(tmp_path / "broken"))


def write_config(tmp_path: Path, engine: str) -> Path:
    p = tmp_path / "ci-ml.yaml"
    p.write_text(
        "data: {path: d.parquet, target: y}\nmodel: {estimator: sklearn.linear_model.LogisticRegression}\n"
        + engine
    )
    return p


def test_the_scheduler_address_never_goes_in_the_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="address_env") as e:
        load_config(write_config(tmp_path, "engine: {kind: dask, address: tcp://10.0.0.1:8786}\n"))
    assert "secret" in str(e.value)
    with pytest.raises(ConfigError, match="address_env is for kind: dask"):
        load_config(write_config(tmp_path, "engine: {address_env: DASK}\n"))
    cfg = load_config(write_config(tmp_path, "engine: {kind: dask, address_env: DASK_SCHEDULER}\n"))
    assert cfg.engine.address_env == "DASK_SCHEDULER"


def test_the_default_engine_leaves_the_config_dump_as_it_was(tmp_path: Path) -> None:
    local = load_config(write_config(tmp_path, ""))
    assert "engine" not in local.model_dump(mode="json", by_alias=True)
    dask = load_config(write_config(tmp_path, "engine: {kind: dask}\n"))
    assert dask.model_dump(mode="json", by_alias=True)["engine"]["kind"] == "dask"
    assert isinstance(local, Config)


def test_an_unset_address_variable_is_a_usage_error(monkeypatch) -> None:
    pytest.importorskip("distributed")
    from ci_ml.config import EngineConfig
    from ci_ml.engine.dask import connect

    with pytest.raises(UsageError, match="CI_ML_TEST_NO_SCHEDULER is not set"):
        connect(EngineConfig(kind="dask", address_env="CI_ML_TEST_NO_SCHEDULER"), None)
    with pytest.raises(UsageError, match="could not reach the Dask scheduler"):
        cfg = EngineConfig(kind="dask", address_env="CI_ML_TEST_SCHEDULER", connect_seconds=1)
        connect(cfg, "tcp://127.0.0.1:9")  # nothing listens on the discard port


def test_a_local_build_imports_no_dask(tmp_path: Path) -> None:
    """The local engine, the default, loads no Dask: `ci-ml validate` reads the data
    the way every stage does, in a fresh interpreter."""
    probe = (
        "import contextlib, io, json, sys\n"
        "from ci_ml.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(sys.argv[1:])\n"
        "    except SystemExit: pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pandas'))))\n"
    )
    cfg = ROOT / "examples" / "binary-classification" / "ci-ml.yaml"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            probe,
            "validate",
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "pandas" in loaded  # the probe sees what the command imported
    assert not [m for m in loaded if m.split(".")[0] in ("dask", "distributed")]


def keyed(n: int, seed: int) -> pd.DataFrame:
    r = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": r.integers(0, 6, n).astype(float),
            "k": r.choice(["x", "y", "z"], n),
            "y": r.integers(0, 2, n),
        }
    )


@pytest.mark.parametrize("partitions", [1, 5])
def test_row_checks_by_key_find_what_the_local_safeguards_find(partitions: int) -> None:
    """Duplicates, conflicting labels and contamination by a shuffle of row keys give
    the local checks' findings, the same messages and example rows included."""
    from ci_ml.checks.data import MAX_EXAMPLES, check
    from ci_ml.config import SafeguardsConfig

    train, test = keyed(400, 1), keyed(150, 2)
    train.loc[7, "a"] = -0.0  # -0.0 is 0.0
    cfg = SafeguardsConfig.model_validate(
        {
            "leakage": {"severity": "off"},
            "skew": {"severity": "off"},
            "personal_data": {"severity": "off"},
        }
    )
    engine = LocalEngine({"train": train, "test": test}, partitions)
    found = engine.row_checks(["a", "k"], "y", MAX_EXAMPLES)
    assert (found.train_rows, found.test_rows) == (400, 150)
    local = check(train, test, "y", "classification", cfg, {})
    mine = check(train, test, "y", "classification", cfg, {}, found)
    assert [f.message for f in mine.findings] == [f.message for f in local.findings]
    assert len(local.findings) == 3 and mine.measured == local.measured


def test_the_local_engine_answers_the_protocol_as_the_dask_one_does() -> None:
    """The reference engine: row counts, the seeded sample (every row when there are
    no more than asked), a no-op fitting context, what it held, and close."""
    df = pd.DataFrame({"x": np.arange(400.0), "y": np.arange(400) % 2})
    engine = LocalEngine({"train": df, "test": df.iloc[:10]}, partitions=3)
    assert engine.rows("train") == 400 and engine.rows("test") == 10
    assert engine.sample("test", 1_000, seed=0).equals(df.iloc[:10])
    quarter = engine.sample("train", 100, seed=0)
    assert quarter.equals(df[in_sample(df, 0.25, 0)]) and 50 < len(quarter) < 150
    assert engine.sample("train", 100, seed=0).equals(quarter)
    assert not engine.sample("train", 100, seed=1).equals(quarter)
    with engine.fitting() as fitting:
        assert fitting is None
    assert engine.describe() == {"kind": "local", "partitions": {"train": 3, "test": 3}}
    assert engine.close() is None
