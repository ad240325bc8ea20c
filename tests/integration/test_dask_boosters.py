"""XGBoost and LightGBM on the Dask engine train on every training row, not on
the client's sample (issue 27). The data hide a pattern in rows the client's
sample never holds (`flag` = 1: always class 1); a booster that saw every row
predicts class 1 for them, one fitted on the sample cannot. One 2-worker
LocalCluster (threads of this process) for the module; slow: a cluster and builds."""

from __future__ import annotations

import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Case:
    model: dict[str, object]
    trainer: str
    text: bool = False  # a text column (one-hot) and missing numbers (imputed) in front
    task: str = "classification"
    factory: str | None = None  # model.py, for `model.factory`


CASES = {
    # behind model.preprocess: auto, with text labels (XGBoost trains on ci-ml's indexes)
    "xgboost": Case(
        {"estimator": "xgboost.XGBClassifier", "params": {"n_estimators": 20, "max_depth": 3}},
        "xgboost.dask.DaskXGBClassifier",
        text=True,
    ),
    # alone: numeric columns, nothing in front of it
    "lightgbm": Case(
        {
            "estimator": "lightgbm.LGBMClassifier",
            "params": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
        },
        "lightgbm.DaskLGBMClassifier",
    ),
    # at the end of a factory's Pipeline, a regressor
    "lightgbm-pipeline": Case(
        {
            "factory": "model.py:build_model",
            "params": {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 5},
        },
        "lightgbm.DaskLGBMRegressor",
        task="regression",
        factory=(
            "from lightgbm import LGBMRegressor\n"
            "from sklearn.pipeline import Pipeline\n"
            "from sklearn.preprocessing import StandardScaler\n\n\n"
            "def build_model(**params):\n"
            '    return Pipeline([("scale", StandardScaler()), ("model", LGBMRegressor(**params))])\n'
        ),
    ),
}


def rows(rng: np.random.Generator, n: int, flag: int, case: Case) -> pd.DataFrame:
    """Rows whose target follows x, or (flag 1) is high whatever x says."""
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "z": rng.normal(size=n), "flag": np.full(n, flag)})
    if case.text:
        df["city"] = rng.choice(["oslo", "lima", "pune"], size=n)
        df.loc[rng.random(n) < 0.05, "z"] = np.nan  # imputed: preprocess auto
    if case.task == "regression":
        df["y"] = np.full(n, 5.0) if flag else x + 0.5 * rng.normal(size=n)
        return df
    y = np.ones(n, dtype=int) if flag else (x + 0.5 * rng.normal(size=n) > 0).astype(int)
    df["y"] = np.array(["no", "yes"], dtype=object)[y] if case.text else y
    return df


def flagged_outside_the_sample(rng: np.random.Generator, case: Case) -> pd.DataFrame:
    """FLAGGED rows with flag 1, x low (low target by x alone) and a high target
    (class 1, "yes", or 5.0), each one a row the client's sample leaves out (the
    sample is a function of each row)."""
    kept: list[pd.DataFrame] = []
    while sum(map(len, kept)) < FLAGGED:
        cand = rows(rng, FLAGGED, 1, case)
        cand["x"] = -2 - rng.random(FLAGGED)
        kept.append(cand[~sampled(cand)])
    return pd.concat(kept, ignore_index=True).iloc[:FLAGGED]


def project(root: Path, case: Case) -> Path:
    rng = np.random.default_rng(7)
    train = pd.concat(
        [rows(rng, TRAIN_ROWS - FLAGGED, 0, case), flagged_outside_the_sample(rng, case)],
        ignore_index=True,
    )
    train = train.sample(frac=1, random_state=0).reset_index(drop=True)  # flags in every file
    test = rows(rng, 400, 0, case)
    root.mkdir()
    if case.factory:
        (root / "model.py").write_text(case.factory)
    for role, df in (("train", train), ("test", test)):
        (root / role).mkdir()
        for i, part in enumerate(np.array_split(np.arange(len(df)), FILES)):
            df.iloc[part].to_parquet(root / role / f"part-{i}.parquet", index=False)
    # What the build's sample will hold, read back as the engine reads it.
    back = pd.concat(
        [pd.read_parquet(f) for f in sorted((root / "train").glob("*.parquet"))], ignore_index=True
    )
    assert not (sampled(back) & (back["flag"] == 1)).any()
    assert 600 < sampled(back).sum() < 1_100  # about a third of the unflagged rows
    cfg = {
        "data": {"train": "train", "test": "test", "target": "y"},
        "task": case.task,
        "model": case.model,
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


def flagged_prediction(out: Path, case: Case) -> float:
    """model.onnx's prediction for a flagged row whose x says a low target: the
    probability of class 1 ("yes"), or the value."""
    row = {"x": -2.5, "z": 0.0, "flag": 1}
    if case.text:
        row["city"] = "oslo"
    return prediction(out, row, case.task)


def holdout_rows(project: Path, n: int = 50) -> list[dict[str, object]]:
    """The first n holdout rows of a project, without the target."""
    df = pd.read_parquet(sorted((project / "test").glob("*.parquet"))[0]).drop(columns="y")
    return df.head(n).to_dict("records")


def prediction(out: Path, row: dict[str, object], task: str = "classification") -> float:
    """model.onnx's prediction for one row: the probability of class 1, or the value."""
    import onnxruntime as ort

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
    outputs = sess.run(None, feeds)
    if task == "regression":
        return float(np.asarray(outputs[0]).ravel()[0])
    return float(np.asarray(outputs[1])[0, 1])


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_booster_on_dask_trains_on_every_row_and_exports_with_parity(
    scheduler, tmp_path, name
) -> None:
    case = CASES[name]
    config = project(tmp_path / "p", case)
    out = tmp_path / "out"
    ok(run_cli("run", "--config", str(config), "--out", str(out), env=scheduler))
    manifest = json.loads((out / "manifest.json").read_text())
    fitted = manifest["model"]["engine"]
    assert fitted["trainer"] == case.trainer
    assert fitted["rows"] == fitted["of"] == TRAIN_ROWS
    assert fitted["partitions"] == FILES and fitted["workers"] == 2
    client_rows = manifest["data"]["engine"]["sample"]["train"]["rows"]
    assert client_rows < TRAIN_ROWS
    in_front = case.text or case.factory is not None
    assert fitted.get("preprocess_rows") == (client_rows if in_front else None)
    assert manifest["export"]["parity"]["passed"]
    if case.task == "classification":
        assert manifest["classes"] == (["no", "yes"] if case.text else [0, 1])
        # The pattern only rows outside the sample show: learned.
        assert flagged_prediction(out, case) > 0.9
    else:
        assert flagged_prediction(out, case) > 3  # 5.0 in those rows; x says about -2.5
    report = (out / "report.md").read_text()
    said = f"the booster trained on all 3,000 training rows on the cluster ({case.trainer})"
    assert said in report
    assert ("the steps before it fitted on" in report) == in_front
    if name == "xgboost":  # the same cluster, data and partitions: the same model
        again = tmp_path / "again"
        ok(run_cli("run", "--config", str(config), "--out", str(again), env=scheduler))
        # Most rebuilds give the same bytes; where the scheduler put a partition on
        # the other worker, XGBoost's sums across workers are added in another order
        # and a leaf differs in its last bits (5 rebuilds of 40 in a loop here, within 1.2e-7): the
        # predictions agree to float rounding, which is what the scale guide promises.
        for row in holdout_rows(tmp_path / "p"):
            assert prediction(again, row) == pytest.approx(prediction(out, row), abs=1e-5)
