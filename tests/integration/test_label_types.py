"""Labels of every type (issue 22, 2): a target of bools, integers, integer-like
strings, floats with few values, a pandas categorical, or text with spaces and
unicode builds, passes parity, is scored, compared with a baseline, tested (golden
rows, slices, a project's pytest suite through the plugin's `candidate`) and
reported, for a binary and a multiclass task.

ONNX turns bool and float classes into integers; before, every holdout label
"differed" in the parity check (True against 1) and the build failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.test_stage_protocol import run_here

pytestmark = pytest.mark.slow

SUITE = """
import numpy as np


def test_candidate_predicts_the_classes_as_the_data_writes_them(candidate, holdout):
    got = candidate.predict(holdout)
    truth = holdout["label"].to_numpy()
    # the values the target column holds (True, 3, "1", 2.0, "über ja"), not what
    # ONNX encodes them as (1, 0): equal to the truth where the model is right
    assert np.mean([g == t for g, t in zip(got, truth)]) > 0.7
"""


def _labels(kind: str, classes: int, score: np.ndarray) -> pd.Series:
    cut = np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1])
    group = np.searchsorted(cut, score)
    values = {
        "bool": [False, True],
        "int": [3, 7, 11],
        "int-like text": ["1", "2", "3"],
        "float": [0.0, 1.0, 2.0],
        "categorical": ["low", "mid", "high"],
        "text": ["über ja", "нет ", "peut être"],
    }[kind][:classes]
    out = pd.Series(np.asarray(values, dtype=object)[group])
    if kind == "bool":
        return out.astype(bool)
    if kind == "int":
        return out.astype(np.int64)
    if kind == "float":
        return out.astype(np.float64)
    if kind == "categorical":
        return out.astype("category")
    return out.astype(str)


def _project(root: Path, kind: str, classes: int) -> Path:
    rng = np.random.default_rng(5)
    n = 600
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    score = X.a + 0.5 * X.b + rng.normal(scale=0.3, size=n)
    frame = X.assign(label=_labels(kind, classes, score.to_numpy()))
    root.mkdir()
    # Parquet keeps what CSV cannot: text that looks like numbers, a categorical.
    parquet = kind in ("int-like text", "categorical")
    data = root / ("data.parquet" if parquet else "data.csv")
    frame.to_parquet(data) if parquet else frame.to_csv(data, index=False)
    golden = frame.head(20).copy()
    golden["expected"] = golden.pop("label").astype(str)
    golden.to_csv(root / "golden.csv", index=False)
    (root / "tests_model").mkdir()
    (root / "tests_model" / "test_labels.py").write_text(SUITE)
    config = {
        "name": f"labels-{kind}",
        "data": {"path": data.name, "target": "label", "split": {"test_size": 0.3, "seed": 1}},
        "task": "classification",
        "model": {"estimator": "sklearn.linear_model.LogisticRegression", "seed": 0},
        "metrics": {"primary": "accuracy"},
        "gates": [{"metric": "accuracy", "min": 0.6}],
        "model_tests": {
            "slices": {"columns": {"a": [-10, 0, 10]}, "metrics": ["accuracy"]},
            "golden": {"path": "golden.csv", "max_failures": 6},
            "pytest": ["tests_model"],
        },
    }
    (root / "ci-ml.yaml").write_text(yaml.safe_dump(config))
    return root


CASES = [
    (kind, classes)
    for kind in ["bool", "int", "int-like text", "float", "categorical", "text"]
    for classes in (2, 3)
    if not (kind == "bool" and classes == 3)
]


@pytest.mark.parametrize(("kind", "classes"), CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_a_target_of_any_label_type_builds_compares_and_is_tested(
    kind: str, classes: int, tmp_path: Path
) -> None:
    project = _project(tmp_path / "project", kind, classes)
    code, stdout, stderr = run_here(["run", "--out", str(tmp_path / "base")], project)
    assert code == 0, stdout + stderr
    # a second build, compared with the first: the baseline is scored on the same rows
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text().replace("seed: 0", "seed: 1"))
    out = tmp_path / "cand"
    code, stdout, stderr = run_here(
        ["run", "--out", str(out), "--baseline", str(tmp_path / "base"), "--no-cache"], project
    )
    assert code == 0, stdout + stderr
    export = json.loads((out / "_build" / "export.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    comparison = json.loads((out / "comparison.json").read_text())
    tests = json.loads((out / "model-tests.json").read_text())
    assert export["parity"]["passed"] and export["parity"]["label_mismatches"] == 0
    assert metrics["metrics"]["accuracy"]["value"] > 0.7
    assert len(metrics["classes"]) == classes
    assert comparison["baseline_status"] == "scored" and not comparison["notes"]
    assert tests["passed"], tests["failures"]
    assert tests["golden"]["rows"] == 20 and tests["pytest"]["tests"][0]["outcome"] == "passed"
    report = (out / "report.md").read_text()
    for label in metrics["classes"]:
        shown = str(label).replace("_", "\\_")
        assert shown.strip() in report


def test_init_on_a_table_with_a_boolean_target_gives_a_project_that_builds(tmp_path: Path) -> None:
    """The issue's own case: `ci-ml init` then `ci-ml run` with no edits."""
    rng = np.random.default_rng(0)
    n = 600
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    flag = (x1 + 0.5 * x2 + rng.normal(scale=0.5, size=n)) > 0
    tmp_path.joinpath("data.csv").write_text(
        pd.DataFrame({"x1": x1, "x2": x2, "flag": flag}).to_csv(index=False)
    )
    code, stdout, stderr = run_here(["init", "--data", "data.csv", "--target", "flag"], tmp_path)
    assert code == 0, stdout + stderr
    code, stdout, stderr = run_here(["run"], tmp_path)
    assert code == 0, stdout + stderr
    metrics = json.loads((tmp_path / ".ci-ml" / "metrics.json").read_text())
    assert metrics["classes"] == [False, True]
