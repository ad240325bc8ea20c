"""The same build on a Dask cluster (issue 27): the binary-classification example
with its data as partitioned Parquet, built on a 2-worker LocalCluster (threads of
the test process, one each: light on a 2-core runner), against the local build of
the same example. Slow: a cluster and whole builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run_cli
from tests.integration.test_pipeline import check_build
from tests.integration.test_registry_flow import ok
from tests.integration.test_reproduce import committed

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

ENGINE = {"kind": "dask", "workers": 2, "threads_per_worker": 1, "processes": False}
# The metrics of the two builds agree to this: the same rows reach the same
# estimator in the same order (every row: the data are far below engine.sample_rows),
# so the model, its predictions and the bootstrap are the same; only the order of
# floating-point sums could differ.
TOLERANCE = 1e-9


def partitioned(project: Path, parts: int = 3) -> None:
    """The example's CSV files as directories of Parquet files, and the config
    pointed at them with the Dask engine."""
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    for role in ("train", "test"):
        csv = project / cfg["data"][role]
        df = pd.read_csv(csv)
        folder = project / "data" / f"{role}-parquet"
        folder.mkdir()
        for i, rows in enumerate(np.array_split(np.arange(len(df)), parts)):
            df.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)
        cfg["data"][role] = f"data/{role}-parquet"
    cfg["engine"] = ENGINE
    cfg["release"] = {"registry": {"kind": "folder", "path": "../model-registry"}}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture(scope="module")
def dask_build(tmp_path_factory) -> tuple[Path, Path]:
    import shutil

    from tests.conftest import EXAMPLES

    root = tmp_path_factory.mktemp("dask")
    project = root / "binary-classification"
    shutil.copytree(EXAMPLES / "binary-classification", project)
    partitioned(project)
    committed(project)
    out = root / "out"
    ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out)))
    return project, out


def test_a_dask_build_gives_the_local_builds_metrics_and_a_valid_onnx(
    dask_build, example_build
) -> None:
    import onnx

    _, out = dask_build
    local = example_build("binary-classification")
    check_build(out, "binary-classification")  # what every build of the example holds
    onnx.checker.check_model(str(out / "model.onnx"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["export"]["parity"]["passed"]
    theirs = json.loads((local / "metrics.json").read_text())["metrics"]
    mine = json.loads((out / "metrics.json").read_text())["metrics"]
    assert set(mine) == set(theirs)
    for name, m in mine.items():
        for key in ("value", "ci_low", "ci_high"):
            assert m[key] == pytest.approx(theirs[name][key], abs=TOLERANCE), (name, key)
    engine = manifest["data"]["engine"]
    assert engine["kind"] == "dask" and engine["workers"] == 2
    assert engine["partitions"] == {"train": 3, "test": 3}
    local_manifest = json.loads((local / "manifest.json").read_text())
    assert manifest["data"]["test_rows"] == local_manifest["data"]["test_rows"]
    assert engine["sample"]["train"] == {
        "rows": local_manifest["data"]["train_rows"],
        "of": local_manifest["data"]["train_rows"],
        "seed": 0,
    }
    assert "engine" not in local_manifest["data"]  # a local build's manifest is as it was


def test_the_comment_of_a_dask_build_is_the_local_ones_with_the_engine_said(
    dask_build, example_build
) -> None:
    from markdown_it import MarkdownIt

    _, out = dask_build
    text = (out / "report.md").read_text()
    local = (example_build("binary-classification") / "report.md").read_text()
    tables = lambda t: sum(  # noqa: E731
        1 for tok in MarkdownIt("commonmark").enable("table").parse(t) if tok.type == "table_open"
    )
    assert tables(text) == tables(local)
    assert text.count("<!-- ci-ml:comment id=") == 1
    assert (
        "| engine | dask, 2 worker(s); validation on every row; the model trained on 398 of 398"
        in text
    )
    heads = lambda t: [ln for ln in t.splitlines() if ln.startswith("#")]  # noqa: E731
    assert heads(text) == heads(local)


def test_a_dask_build_is_released_and_a_local_build_compares_with_it(
    dask_build, example_copy, tmp_path
) -> None:
    project, out = dask_build
    r = run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out))
    ok(r)
    registry = project.parent / "model-registry"
    assert list((registry / "releases" / "model-v1").rglob("model.onnx"))
    # The example built locally, with the released Dask build as its baseline.
    import shutil

    local = example_copy("binary-classification")
    shutil.copytree(registry, local.parent / "model-registry")
    cfg = yaml.safe_load((local / "ci-ml.yaml").read_text())
    cfg["release"] = {"registry": {"kind": "folder", "path": "../model-registry"}}
    (local / "ci-ml.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    committed(local)
    b = tmp_path / "b"
    args = ("run", "--config", str(local / "ci-ml.yaml"), "--out", str(b), "--baseline", "release")
    ok(run_cli(*args))
    comparison = json.loads((b / "comparison.json").read_text())
    assert comparison["baseline"]["label"] == "model-v1"
    primary = comparison["primary"]
    assert primary["delta"] == 0 and primary["verdict"] == "within noise", primary


def test_one_config_builds_alike_on_either_engine_from_a_partitioned_dataset(
    tmp_path, example_copy
) -> None:
    """The config differs in engine.kind alone: one Parquet dataset (data.path, three
    files) split by row key gives the same holdout rows, model and metrics locally
    and on the cluster. A dropped id column is stored as integers in two files and
    as floats (with a missing value) in the third, as pandas writes a column with
    a gap: the split hashes each row as its file holds it, and 3 is 3.0. The files
    sit in hive-style folders (chunk=0/), whose key neither engine reads as a column."""
    import onnx

    project = example_copy("binary-classification")
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    whole = pd.concat(
        [pd.read_csv(project / cfg["data"][role]) for role in ("train", "test")],
        ignore_index=True,
    )
    whole.insert(0, "row_id", np.arange(len(whole), dtype=np.int64))
    folder = project / "data" / "all"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(whole)), 3)):
        part = whole.iloc[rows]
        if i == 2:
            part = part.astype({"row_id": "float64"})
            part.loc[part.index[0], "row_id"] = np.nan
        (folder / f"chunk={i}").mkdir()  # hive-style folders: the key is no column on either
        part.to_parquet(folder / f"chunk={i}" / "part.parquet", index=False)
    del cfg["data"]["train"], cfg["data"]["test"]
    cfg["data"].update(path="data/all", split={"test_size": 0.25, "seed": 7, "by": "row_key"})
    cfg["data"]["drop"] = ["row_id"]
    outs = {}
    for kind, engine in (("local", {"kind": "local"}), ("dask", ENGINE)):
        cfg["engine"] = engine
        (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        outs[kind] = tmp_path / kind
        ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(outs[kind])))
    local, dask = (json.loads((outs[k] / "manifest.json").read_text()) for k in ("local", "dask"))
    assert (
        local["data"]["split"]
        == dask["data"]["split"]
        == {
            "test_size": 0.25,
            "seed": 7,
            "stratify": False,
            "by": "row key",
        }
    )
    assert (local["data"]["train_rows"], local["data"]["test_rows"]) == (
        dask["data"]["train_rows"],
        dask["data"]["test_rows"],
    )
    assert local["data"]["files"]["data"]["sha256"] == dask["data"]["files"]["data"]["sha256"]
    theirs, mine = (json.loads((outs[k] / "metrics.json").read_text())["metrics"] for k in outs)
    assert set(mine) == set(theirs)
    for name, m in mine.items():
        for key in ("value", "ci_low", "ci_high"):
            assert m[key] == pytest.approx(theirs[name][key], abs=TOLERANCE), (name, key)
    for out in outs.values():
        onnx.checker.check_model(str(out / "model.onnx"))
    assert local["export"]["parity"]["passed"] and dask["export"]["parity"]["passed"]
    assert local["data"]["files"]["data"]["columns"] == dask["data"]["files"]["data"]["columns"]


def test_broken_rows_of_any_partition_are_reported_with_their_place_in_the_data(
    tmp_path,
) -> None:
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"x": rng.normal(size=n), "y": rng.integers(0, 2, size=n)})
    df["y"] = df["y"].astype(float)
    df.loc[[5, 450, 451], "x"] = np.inf
    df.loc[[599], "y"] = np.nan
    folder = tmp_path / "data"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(n), 4)):
        df.iloc[rows].to_parquet(folder / f"p{i}.parquet", index=False)
    (tmp_path / "ci-ml.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"path": "data", "target": "y", "split": {"test_size": 0.25}},
                "task": "classification",
                "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
                "engine": ENGINE,
            }
        )
    )
    out = tmp_path / "out"
    r = run_cli("validate", "--config", str(tmp_path / "ci-ml.yaml"), "--out", str(out))
    assert r.returncode == 3 and "Traceback" not in r.stderr, r.stderr
    v = json.loads((out / "validation.json").read_text())
    by = {(f["column"], f["check"].split(" (")[0]): f for f in v["failures"]}
    inf = by[("x", "values are finite")]
    assert inf["failing_rows"] == 3 and inf["rows"] == [5, 450, 451]
    assert by[("y", "target has no missing values")]["rows"] == [599]
    assert v["rows"] == {"data": n}


def test_the_safeguards_count_every_row_while_the_client_holds_a_sample(tmp_path) -> None:
    """3,000 training rows, 1,000 of them sampled to the client: duplicates across
    partitions and holdout rows copied from training are counted over every row."""
    rng = np.random.default_rng(1)
    n = 3_000
    train = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    train["y"] = (train["x"] + rng.normal(size=n) > 0).astype(int)
    train.iloc[2_000:2_300] = train.iloc[:300].to_numpy()  # 300 duplicates, other partitions
    test = pd.DataFrame({"x": rng.normal(size=500), "z": rng.normal(size=500)})
    test["y"] = (test["x"] > 0).astype(int)
    test.iloc[:60] = train.iloc[2_500:2_560].to_numpy()  # 60 holdout rows seen in training
    for name, df in (("train", train), ("test", test)):
        folder = tmp_path / name
        folder.mkdir()
        for i, rows in enumerate(np.array_split(np.arange(len(df)), 4)):
            df.iloc[rows].to_parquet(folder / f"p{i}.parquet", index=False)
    (tmp_path / "ci-ml.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"train": "train", "test": "test", "target": "y"},
                "task": "classification",
                "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
                "engine": {**ENGINE, "sample_rows": 1_000},
                "safeguards": {"leakage": {"severity": "off"}},
            }
        )
    )
    out = tmp_path / "out"
    cfg = str(tmp_path / "ci-ml.yaml")
    ok(run_cli("validate", "--config", cfg, "--out", str(out)))
    r = run_cli("check-data", "--config", cfg, "--out", str(out))
    assert r.returncode == 6 and "Traceback" not in r.stderr, r.stderr  # contamination: error
    s = json.loads((out / "safeguards.json").read_text())
    assert s["rows"] == {"train": 3_000, "test": 500}
    assert s["measured"]["duplicates"]["rows"] == 300
    assert s["measured"]["contamination"]["rows"] == 60
    found = {f["check"]: f for f in s["findings"]}
    assert found["duplicates"]["examples"] == [2_000, 2_001, 2_002, 2_003, 2_004]
    assert found["contamination"]["of_rows"] == 500 and found["contamination"]["rows"] == 60
    manifest = json.loads((out / "manifest.json").read_text())
    sample = manifest["data"]["engine"]["sample"]["train"]
    assert sample["of"] == 3_000 and 800 < sample["rows"] < 1_200  # a seeded Bernoulli sample


def test_a_build_joins_the_cluster_its_address_variable_names_and_leaves_it_running(
    tmp_path,
) -> None:
    """engine.address_env: the CLI reads the variable (a secret in CI), the build
    connects to that scheduler, and closing the build only disconnects."""
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=400)})
    df["y"] = (df["x"] > 0).astype(int)
    (tmp_path / "d").mkdir()
    df.to_parquet(tmp_path / "d" / "a.parquet", index=False)
    engine = {"kind": "dask", "address_env": "CI_ML_TEST_SCHEDULER"}
    (tmp_path / "ci-ml.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"path": "d", "target": "y"},
                "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
                "engine": engine,
            }
        )
    )
    args = ("validate", "--config", str(tmp_path / "ci-ml.yaml"), "--out", str(tmp_path / "o"))
    r = run_cli(*args)
    assert r.returncode == 2 and "CI_ML_TEST_SCHEDULER is not set" in r.stderr, r.stderr
    with LocalCluster(n_workers=3, threads_per_worker=1, processes=False) as cluster:
        r = run_cli(*args, env={"CI_ML_TEST_SCHEDULER": cluster.scheduler_address})
        ok(r)
        manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
        assert manifest["data"]["engine"]["workers"] == 3
        assert set(manifest["data"]["engine"]["partitions"]) == {"data", "train", "test"}
        with Client(cluster.scheduler_address) as client:  # still up
            assert len(client.nthreads()) == 3


def test_an_estimators_own_jobs_run_on_the_cluster(tmp_path) -> None:
    """A forest's n_jobs (and a search's) go through joblib's Dask backend: its
    trees are built as tasks on the cluster's workers."""
    from distributed import LocalCluster

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=600), "z": rng.normal(size=600)})
    df["y"] = (df["x"] + rng.normal(size=600) > 0).astype(int)
    (tmp_path / "d").mkdir()
    df.to_parquet(tmp_path / "d" / "a.parquet", index=False)
    model = {
        "estimator": "sklearn.ensemble.RandomForestClassifier",
        "params": {"n_estimators": 20, "max_depth": 3, "n_jobs": 2},
    }
    (tmp_path / "ci-ml.yaml").write_text(
        yaml.safe_dump(
            {
                "data": {"path": "d", "target": "y"},
                "task": "classification",
                "model": model,
                "engine": {"kind": "dask", "address_env": "CI_ML_TEST_SCHEDULER"},
            }
        )
    )
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        env = {"CI_ML_TEST_SCHEDULER": cluster.scheduler_address}
        ok(
            run_cli(
                "run",
                "--config",
                str(tmp_path / "ci-ml.yaml"),
                "--out",
                str(tmp_path / "o"),
                env=env,
            )
        )
        ran = set(cluster.scheduler.task_prefixes)
    assert any("_parallel_build_trees" in name for name in ran), sorted(ran)
