"""XGBoost and LightGBM on the Dask engine train on every training row, not on
the client's sample (issue 27). The data hide a pattern in rows the client's
sample never holds (`flag` = 1: always class 1); a booster that saw every row
predicts class 1 for them, one fitted on the sample cannot. One 2-worker
LocalCluster (threads of this process) for the module; slow: a cluster and builds."""

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
pytest.importorskip("xgboost")
pytest.importorskip("lightgbm")
pytestmark = pytest.mark.slow

TRAIN_ROWS, FLAGGED, SAMPLE_ROWS, FILES = 3_000, 500, 1_000, 3
SCHEDULER = "CI_ML_TEST_SCHEDULER"


def sampled(df: pd.DataFrame) -> np.ndarray:
    """Which training rows the engine's sample holds (ci_ml.engine.in_sample, as
    DaskEngine.sample draws it with engine.seed 0)."""
    from ci_ml.engine import in_sample

    return in_sample(df, SAMPLE_ROWS / TRAIN_ROWS, 0)


def rows(rng: np.random.Generator, n: int, flag: int, text: bool) -> pd.DataFrame:
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": rng.normal(size=n), "flag": np.full(n, flag)})
    if text:
        df["city"] = rng.choice(["oslo", "lima", "pune"], size=n)
        df.loc[rng.random(n) < 0.05, "z"] = np.nan  # imputed: preprocess auto
    y = np.ones(n, dtype=int) if flag else (x + 0.5 * rng.normal(size=n) > 0).astype(int)
    # With text, the labels are text too: XGBoost trains on their indexes (ci-ml's).
    df["y"] = np.array(["no", "yes"], dtype=object)[y] if text else y
    return df


def flagged_outside_the_sample(rng: np.random.Generator, text: bool) -> pd.DataFrame:
    """FLAGGED rows with flag 1, x low (class 0 by x alone) and class 1 ("yes"), each one
    a row the client's sample leaves out (the sample is a function of each row)."""
    kept: list[pd.DataFrame] = []
    while sum(map(len, kept)) < FLAGGED:
        cand = rows(rng, FLAGGED, 1, text)
        cand["x"] = -2 - rng.random(FLAGGED)
        kept.append(cand[~sampled(cand)])
    return pd.concat(kept, ignore_index=True).iloc[:FLAGGED]


def project(root: Path, model: dict[str, object], text: bool) -> Path:
    rng = np.random.default_rng(7)
    train = pd.concat(
        [rows(rng, TRAIN_ROWS - FLAGGED, 0, text), flagged_outside_the_sample(rng, text)],
        ignore_index=True,
    )
    train = train.sample(frac=1, random_state=0).reset_index(drop=True)  # flags in every file
    test = rows(rng, 400, 0, text)
    root.mkdir()
    for role, df in (("train", train), ("test", test)):
        (root / role).mkdir()
        for i, part in enumerate(np.array_split(np.arange(len(df)), FILES)):
            df.iloc[part].to_parquet(root / role / f"part-{i}.parquet", index=False)
    # What the build's sample will hold, read back as the engine reads it.
    back = pd.concat(
        [pd.read_parquet(f) for f in sorted((root / "train").glob("*.parquet"))], ignore_index=True
    )
    assert not (sampled(back) & (back["flag"] == 1)).any()
    assert 800 < sampled(back).sum() < 1_200
    cfg = {
        "data": {"train": "train", "test": "test", "target": "y"},
        "task": "classification",
        "model": model,
        "engine": {"kind": "dask", "address_env": SCHEDULER, "sample_rows": SAMPLE_ROWS},
        # The flagged rows are a pattern the target follows, not leakage.
        "safeguards": {"leakage": {"severity": "off"}},
    }
    (root / "ci-ml.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root / "ci-ml.yaml"


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield {SCHEDULER: cluster.scheduler_address}


def flagged_probability(out: Path, text: bool) -> float:
    """model.onnx's probability of class 1 ("yes") for a flagged row whose x says
    class 0."""
    import onnxruntime as ort

    row = {"x": -2.5, "z": 0.0, "flag": 1}
    if text:
        row["city"] = "oslo"
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = sess.get_inputs()
    if [i.name for i in inputs] == ["input"]:  # numeric features only: one tensor
        features = json.loads((out / "manifest.json").read_text())["features"]
        feeds = {"input": np.array([[row[f["name"]] for f in features]], dtype=np.float64)}
    else:  # a tensor per column
        kinds = {"tensor(string)": object, "tensor(int64)": np.int64}
        feeds = {
            i.name: np.array([[row[i.name]]], dtype=kinds.get(i.type, np.float64)) for i in inputs
        }
    probabilities = sess.run(None, feeds)[1]
    return float(np.asarray(probabilities)[0, 1])


CASES = {
    # behind model.preprocess: auto (a text column one-hot encoded, z imputed)
    "xgboost": (
        {
            "estimator": "xgboost.XGBClassifier",
            "params": {"n_estimators": 20, "max_depth": 3},
        },
        True,
        "xgboost.dask.DaskXGBClassifier",
    ),
    # alone (numeric columns: nothing in front of it)
    "lightgbm": (
        {
            "estimator": "lightgbm.LGBMClassifier",
            "params": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
        },
        False,
        "lightgbm.DaskLGBMClassifier",
    ),
}


@pytest.mark.parametrize("lib", sorted(CASES))
def test_a_booster_on_dask_trains_on_every_row_and_exports_with_parity(
    scheduler, tmp_path, lib
) -> None:
    model, text, trainer = CASES[lib]
    config = project(tmp_path / "p", model, text)
    out = tmp_path / "out"
    ok(run_cli("run", "--config", str(config), "--out", str(out), env=scheduler))
    manifest = json.loads((out / "manifest.json").read_text())
    fitted = manifest["model"]["engine"]
    assert fitted["trainer"] == trainer
    assert fitted["rows"] == fitted["of"] == TRAIN_ROWS
    assert fitted["partitions"] == FILES and fitted["workers"] == 2
    client_rows = manifest["data"]["engine"]["sample"]["train"]["rows"]
    assert client_rows < TRAIN_ROWS
    assert fitted.get("preprocess_rows") == (client_rows if text else None)
    assert manifest["export"]["parity"]["passed"]
    assert manifest["classes"] == (["no", "yes"] if text else [0, 1])
    # The pattern only rows outside the sample show: learned.
    assert flagged_probability(out, text) > 0.9
    report = (out / "report.md").read_text()
    said = f"the booster trained on all 3,000 training rows on the cluster ({trainer})"
    assert said in report
    assert ("the steps before it fitted on" in report) == text
    if lib == "xgboost":  # the same cluster, data and partitions: the same bytes
        again = tmp_path / "again"
        ok(run_cli("run", "--config", str(config), "--out", str(again), env=scheduler))
        assert (again / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()
