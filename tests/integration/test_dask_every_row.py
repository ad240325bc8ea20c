"""A Dask build whose holdout is larger than engine.sample_rows (issue 27): its
metrics, intervals and paired deltas are summed over every holdout row on the
cluster, and equal the local build's on the same rows. One 2-worker LocalCluster
(threads of this process, one each) for the module; the builds join it through
engine.address_env. Slow: a cluster and whole builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run_cli
from tests.integration.test_registry_flow import ok

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

VAR = "CI_ML_TEST_EVERY_ROW_SCHEDULER"
SAMPLE = 1_000  # engine.sample_rows: below the holdout's 2,500 rows
TRAIN, TEST = 3_000, 2_500
# The point estimates are the same sums added in another order.
TOLERANCE = 1e-9
# The intervals: the Dask build resamples blocks of rows chosen by their keys, the
# local build resamples rows, each with its own 1,000 draws; their percentile
# endpoints differ by Monte Carlo error (about 3 % of the width each, by the
# normal approximation), so within 20 % of the width, and the widths within 15 %.
ENDPOINTS, WIDTH = 0.20, 0.15


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as c:
        yield c


def _frames(seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def rows(n: int) -> pd.DataFrame:
        df = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
        df["y"] = (df["a"] - 0.7 * df["b"] + rng.logistic(size=n) > 0).astype(int)
        return df

    return rows(TRAIN), rows(TEST)


def _config(project: Path, data: dict, engine: dict | None, params: dict | None = None) -> Path:
    cfg = {
        "data": {**data, "target": "y"},
        "task": "classification",
        "model": {"estimator": "sklearn.linear_model.LogisticRegression", "params": params or {}},
        "safeguards": {"leakage": {"severity": "off"}},
        # bins of a feature, the target's values, and their crossing
        "model_tests": {
            "slices": {"columns": {"a": [-1, 0, 1], "y": "values"}, "crossings": [["y", "a"]]}
        },
    }
    if engine is not None:
        cfg["engine"] = engine
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return project / "ci-ml.yaml"


def _parquet(folder: Path, df: pd.DataFrame, parts: int = 3) -> None:
    folder.mkdir(parents=True)
    for i, rows in enumerate(np.array_split(np.arange(len(df)), parts)):
        df.iloc[rows].to_parquet(folder / f"part-{i}.parquet", index=False)


def _dask_project(root: Path, params: dict | None = None) -> Path:
    train, test = _frames()
    _parquet(root / "train", train)
    _parquet(root / "test", test)
    engine = {"kind": "dask", "address_env": VAR, "sample_rows": SAMPLE}
    return _config(root, {"train": "train", "test": "test"}, engine, params)


def _local_project(root: Path, params: dict | None = None) -> Path:
    """The same rows as the Dask build's: its training sample (a function of each
    row: ci_ml.engine.in_sample), in the data's order, and every holdout row."""
    from ci_ml.engine import in_sample

    train, test = _frames()
    root.mkdir(parents=True)
    train[in_sample(train, SAMPLE / TRAIN, 0)].to_csv(root / "train.csv", index=False)
    test.to_csv(root / "test.csv", index=False)
    return _config(root, {"train": "train.csv", "test": "test.csv"}, None, params)


@pytest.fixture(scope="module")
def builds(cluster, tmp_path_factory) -> dict[str, Path]:
    """A Dask build and the local build of the same rows; then each again with
    another regularisation, compared with the first."""
    root = tmp_path_factory.mktemp("every-row")
    env = {VAR: cluster.scheduler_address}
    out: dict[str, Path] = {}
    for kind, make in (("dask", _dask_project), ("local", _local_project)):
        cfg = make(root / kind)
        out[kind] = root / f"{kind}-out"
        ok(run_cli("run", "--config", str(cfg), "--out", str(out[kind]), env=env))
        cfg = make(root / f"{kind}-2", {"C": 0.01})
        out[f"{kind}-2"] = root / f"{kind}-2-out"
        args = ("run", "--config", str(cfg), "--out", str(out[f"{kind}-2"]))
        ok(run_cli(*args, "--baseline", str(out[kind]), "--no-fail-on-regression", env=env))
    return out


def test_evaluate_and_compare_score_the_holdout_on_the_cluster_once(
    builds, cluster, tmp_path, monkeypatch
) -> None:
    """With a baseline, evaluate sums the candidate's and the baseline's components
    in one fold over the holdout partitions; compare reads them from the build
    (it scored the candidate on the cluster a second time before)."""
    from ci_ml.scoring import every_row

    calls: list[int] = []
    real = every_row.holdout_sums

    def counted(engine, passes):
        calls.append(len(passes.scorers))
        return real(engine, passes)

    monkeypatch.setattr(every_row, "holdout_sums", counted)
    cfg = _dask_project(tmp_path / "p", {"C": 0.01})
    out = tmp_path / "out"
    args = ("run", "--config", str(cfg), "--out", str(out), "--baseline", str(builds["dask"]))
    ok(run_cli(*args, "--no-fail-on-regression", env={VAR: cluster.scheduler_address}))
    assert calls == [2], calls  # one fold, both models
    again = json.loads((out / "comparison.json").read_text())
    before = json.loads((builds["dask-2"] / "comparison.json").read_text())
    assert again["primary"]["delta"] == pytest.approx(before["primary"]["delta"], abs=TOLERANCE)
    assert _metrics(out)["metrics"] == _metrics(builds["dask-2"])["metrics"]
    assert _metrics(out)["scope"] == _metrics(builds["dask-2"])["scope"]


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_a_dask_builds_metrics_over_every_row_equal_the_local_builds(builds) -> None:
    mine, theirs = _metrics(builds["dask"]), _metrics(builds["local"])
    assert mine["rows"] == theirs["rows"] == TEST
    scope = mine["scope"]
    assert scope["rows"] == TEST and 800 < scope["sample_rows"] < 1_200
    assert "metrics" in scope["every_row"] and "confusion matrix" in scope["every_row"]
    bound = scope["auc_max_error"]
    assert 0 < bound < 1e-4
    assert list(mine["metrics"]) == list(theirs["metrics"])
    for name, m in mine["metrics"].items():
        t = theirs["metrics"][name]
        # ROC AUC: off by the pairs tied within a bin, at most the recorded bound
        allowed = bound + 1e-12 if name == "roc_auc" else TOLERANCE
        assert abs(m["value"] - t["value"]) <= allowed, (name, m["value"], t["value"])
        width = t["ci_high"] - t["ci_low"]
        assert m["ci_high"] - m["ci_low"] == pytest.approx(width, rel=WIDTH), name
        for end in ("ci_low", "ci_high"):
            assert abs(m[end] - t[end]) <= ENDPOINTS * width, (name, end)
    assert mine["confusion_matrix"] == theirs["confusion_matrix"]
    assert mine["class_balance"] == theirs["class_balance"]


def test_the_comment_says_which_numbers_are_over_every_row(builds) -> None:
    text = (builds["dask"] / "report.md").read_text()
    assert "Holdout: 2,500 rows, every row in the metrics and their intervals" in text
    assert "on a seeded sample of" in text
    assert "the metrics and their intervals on every holdout row (2,500)" in text
    local = (builds["local"] / "report.md").read_text()
    assert "every row" not in local


def test_the_paired_deltas_are_over_every_row_and_equal_the_local_comparisons(builds) -> None:
    mine = json.loads((builds["dask-2"] / "comparison.json").read_text())
    theirs = json.loads((builds["local-2"] / "comparison.json").read_text())
    assert mine["baseline_status"] == theirs["baseline_status"] == "scored"
    scope = mine["scope"]
    assert scope["rows"] == TEST and "paired deltas" in scope["every_row"]
    assert "McNemar's test" in scope["every_row"]  # its discordant counts are plain sums
    assert mine["tests"] == theirs["tests"]
    # Each model's binned ROC AUC is within the bound; their difference within twice it.
    bound = 2 * scope["auc_max_error"] + 1e-12
    rows = {r["metric"]: r for r in theirs["metrics"]}
    assert [r["metric"] for r in mine["metrics"]] == list(rows)
    for m in mine["metrics"]:
        t = rows[m["metric"]]
        allowed = bound if m["metric"] == "roc_auc" else TOLERANCE
        assert abs(m["delta"] - t["delta"]) <= allowed, (m["metric"], m["delta"], t["delta"])
        assert abs(m["baseline"]["value"] - t["baseline"]["value"]) <= allowed, m["metric"]
        width = t["ci_high"] - t["ci_low"]
        assert m["ci_high"] - m["ci_low"] == pytest.approx(width, rel=WIDTH), m["metric"]
        for end in ("ci_low", "ci_high"):
            assert abs(m[end] - t[end]) <= ENDPOINTS * width, (m["metric"], end)
    # Per-class recall and precision: plain sums, over every row too.
    assert "per-class recall and precision" in scope["every_row"]
    assert len(mine["per_class"]) == len(theirs["per_class"]) == 2
    for m, t in zip(mine["per_class"], theirs["per_class"], strict=True):
        assert (m["label"], m["rows"], m["predicted"]) == (t["label"], t["rows"], t["predicted"])
        for part in ("recall", "precision"):
            for key in ("candidate", "baseline", "delta"):
                assert abs(m[part][key] - t[part][key]) <= TOLERANCE, (m["label"], part, key)
            width = t[part]["delta_ci_high"] - t[part]["delta_ci_low"]
            for end in ("delta_ci_low", "delta_ci_high"):
                assert abs(m[part][end] - t[part][end]) <= ENDPOINTS * width, (part, end)
    text = (builds["dask-2"] / "report.md").read_text()
    assert "every row in the metrics and their intervals" in text
    assert "and in the paired deltas" in text


def test_the_client_receives_the_blocks_and_never_the_rows(cluster, tmp_path) -> None:
    """What comes back of both passes over the 2,500 holdout rows is a (blocks, k)
    matrix and a few counts: no per-row array, nor the histograms (2^20 bins),
    which the second pass reads on the workers."""
    from ci_ml.config import load_config
    from ci_ml.engine.dask import DaskEngine
    from ci_ml.records import Manifest, load
    from ci_ml.scoring.every_row import HoldoutSums, Scorer, Tally, Told
    from ci_ml.stats.metrics import DEFAULTS

    cfg = load_config(_dask_project(tmp_path))
    local = _local_project(tmp_path / "local")
    out = tmp_path / "local-out"
    ok(run_cli("run", "--config", str(local), "--out", str(out)))
    manifest = json.loads((out / "manifest.json").read_text())
    scorer = Scorer.of_build(out / "model.onnx", load(Manifest, manifest))
    blocks = 64
    names = tuple(DEFAULTS["classification"])
    passes = HoldoutSums("y", "classification", scorer.classes, (scorer,), names, blocks, 0)
    engine = DaskEngine(cfg, cluster.scheduler_address)
    try:
        told, total = engine.fold("test", passes)
    finally:
        engine.close()
    assert isinstance(told, Told) and isinstance(total, Tally)
    assert told.rows == TEST
    (units,) = total.arrays.values()
    assert units.shape[0] == blocks
    received = sum(a.size for a in total.arrays.values())
    received += 1 + len(told.class_rows or []) + sum(len(c) ** 2 for c in told.confusion if c)
    received += sum(4 * len(m) for m in told.auc)
    assert received == blocks * units.shape[1] + 1 + 2 + 4 + 4 < TEST
    ran = set(cluster.scheduler.task_prefixes)
    # on the workers: each partition prepared, both passes, the sums, the middle
    assert {"prepare", "first", "middle", "second", "add"} <= ran, sorted(ran)


@pytest.mark.parametrize("which", ["", "-2"])
def test_the_slices_are_over_every_row_and_equal_the_local_builds(builds, which) -> None:
    """The model tests' slices (with the baseline's deltas in the second builds)."""
    mine = json.loads((builds["dask" + which] / "model-tests.json").read_text())["slices"]
    theirs = json.loads((builds["local" + which] / "model-tests.json").read_text())["slices"]
    scope = mine["scope"]
    assert scope["rows"] == TEST and "slices" in scope["every_row"]
    assert "scope" not in theirs
    by_name = {r["name"]: r for r in theirs["slices"]}
    assert [r["name"] for r in mine["slices"]] == list(by_name)  # the same order: worst first
    assert len(by_name) == 3 + 2 + 6  # two bins of a and its outside, two classes, crossed
    bound = 2 * scope["auc_max_error"] + 1e-12
    for row in mine["slices"]:
        t = by_name[row["name"]]
        assert row["rows"] == t["rows"] and row["gated"] == t["gated"], row["name"]
        for metric, m in row["metrics"].items():
            allowed = bound if metric == "roc_auc" else TOLERANCE
            for key in ("candidate", "baseline", "delta"):
                a, b = m.get(key), t["metrics"][metric].get(key)
                if a is None or b is None or a != a or b != b:  # none, or NaN (one class)
                    assert (a is None or a != a) == (b is None or b != b), (row["name"], key)
                    continue
                assert abs(a - b) <= allowed, (row["name"], metric, key, a, b)
    text = (builds["dask" + which] / "report.md").read_text()
    assert "Every holdout row (2,500 rows) in the slices and their statistics" in text
