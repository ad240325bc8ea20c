"""Model tests end to end, through the CLI as a user runs it: a model broken in
one slice fails the slice gate while the overall gate passes, a non-monotonic
model fails its directional check, and a project's own pytest suite runs both
inside the build and under plain pytest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import run_cli

RANDOM_FOREST_FACTORY = '''
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from model import CATEGORICAL, NUMERIC


def build_model():
    """A forest can learn one plan's own rules; trees need no scaler (and a scaler's
    rounding would move rows across split thresholds in the ONNX export)."""
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(missing_values="", strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    features = ColumnTransformer(
        [("categorical", categorical, CATEGORICAL), ("numeric", SimpleImputer(), NUMERIC)]
    )
    forest = RandomForestClassifier(n_estimators=200, min_samples_leaf=10)
    return Pipeline([("features", features), ("model", forest)])
'''


def edit_config(project: Path, change) -> None:
    path = project / "ci-ml.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def build(
    project: Path, out: Path, *args: str, process: bool = False
) -> subprocess.CompletedProcess:
    return run_cli(
        "run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), *args, process=process
    )


def forest_project(example_copy) -> Path:
    """mixed-tabular with separate train and holdout files and a random forest."""
    project = example_copy("mixed-tabular")
    data = pd.read_csv(project / "data" / "customers.csv")
    train = data[data.customer_id % 10 < 7]
    train.to_csv(project / "data" / "train.csv", index=False)
    data[data.customer_id % 10 >= 7].to_csv(project / "data" / "test.csv", index=False)
    (project / "forest.py").write_text(RANDOM_FOREST_FACTORY)

    def change(cfg: dict) -> None:
        cfg["data"] = {
            "train": "data/train.csv",
            "test": "data/test.csv",
            "target": "churned",
            "drop": ["customer_id"],
        }
        cfg["model"] = {"factory": "forest.py:build_model", "seed": 7}
        cfg["gates"] = [{"metric": "roc_auc", "max_regression": 0.05}]
        cfg["model_tests"] = {
            "slices": {
                "columns": {"plan": "values"},
                "gates": [
                    {"metric": "roc_auc", "max_regression": 0.05, "only_if_significant": True}
                ],
            }
        }

    edit_config(project, change)
    return project


@pytest.mark.slow  # two builds of a forest
def test_a_feature_shuffled_within_a_slice_fails_the_slice_gate_not_the_overall_one(
    example_copy, tmp_path: Path
) -> None:
    project = forest_project(example_copy)
    base, out = tmp_path / "base", tmp_path / "out"
    r = build(project, base)
    assert r.returncode == 0, r.stderr
    # The training rows of one plan lose their tenure signal; the holdout is untouched.
    train = pd.read_csv(project / "data" / "train.csv")
    basic = train.plan == "basic"
    shuffled = np.random.default_rng(0).permutation(train.loc[basic, "tenure_months"].to_numpy())
    train.loc[basic, "tenure_months"] = shuffled
    train.to_csv(project / "data" / "train.csv", index=False)
    r = build(project, out, "--baseline", str(base))
    assert r.returncode == 7, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "plan=basic: roc_auc regressed" in r.stderr
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["verdict"] == "pass"  # the overall number hides it
    tests = json.loads((out / "model-tests.json").read_text())
    assert not tests["passed"] and tests["baseline"] == "compared"
    assert [(f["kind"], f["name"]) for f in tests["failures"]] == [("slice", "plan=basic")]
    worst = tests["slices"]["slices"][0]
    assert worst["name"] == tests["slices"]["worst"] == "plan=basic"
    assert worst["metrics"]["roc_auc"]["verdict"] == "regressed"
    others = tests["slices"]["slices"][1:]
    assert all(s["metrics"]["roc_auc"]["verdict"] == "within noise" for s in others)
    report = (out / "report.md").read_text()
    assert "fails its model tests" in report
    assert "**Slice** (failing a slice gate): plan=basic" in report  # the first screen
    r = run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out))
    assert r.returncode == 2 and "failed its model tests" in r.stderr


def test_a_non_monotonic_model_fails_its_directional_check(example_copy, tmp_path: Path) -> None:
    project = example_copy("regression")

    def deep(cfg: dict) -> None:
        cfg["model"]["params"]["max_depth"] = 6  # deep interactions: bmi no longer monotone
        cfg["gates"] = []
        cfg["model_tests"]["invariance"] = []  # (it is noisier too; this test is about direction)

    edit_config(project, deep)
    out = tmp_path / "out"
    r = build(project, out)
    assert r.returncode == 7, r.stdout + r.stderr
    tests = json.loads((out / "model-tests.json").read_text())
    assert [f["kind"] for f in tests["failures"]] == ["directional"]
    (check,) = tests["directional"]
    assert check["column"] == "bmi" and check["rate"] > 0.05 and check["examples"]
    assert "violation rate" in tests["failures"][0]["message"]
    assert "❌ | directional" in (out / "report.md").read_text()


FAILING_TEST = """
def test_nobody_on_the_pro_plan_churns(candidate, holdout):
    rows = holdout[holdout.plan == "pro"]
    assert (candidate.predict(rows) == "no").all(), "a pro customer is predicted to churn"
"""


@pytest.mark.slow  # two processes
def test_a_user_test_runs_in_the_build_and_under_plain_pytest(example_copy, tmp_path: Path) -> None:
    project = example_copy("mixed-tabular")
    (project / "tests_model" / "test_strict.py").write_text(FAILING_TEST)
    out = tmp_path / "out"
    r = build(project, out, process=True)  # the user's suite as a user's build runs it
    assert r.returncode == 7, r.stdout + r.stderr
    assert "test_nobody_on_the_pro_plan_churns" in r.stderr and "Traceback" not in r.stderr
    tests = json.loads((out / "model-tests.json").read_text())
    suite = tests["pytest"]
    outcomes = {t["nodeid"].split("::")[1]: t["outcome"] for t in suite["tests"]}
    assert outcomes == {
        "test_loyal_pro_customers_are_not_predicted_to_churn": "passed",
        "test_missing_values_still_give_probabilities": "passed",
        "test_partner_channel_ranks_no_worse_than_the_baseline": "skipped",
        "test_the_recorded_auc_is_the_models": "passed",
        "test_nobody_on_the_pro_plan_churns": "failed",
    }
    (failure,) = tests["failures"]
    assert (
        failure["kind"] == "pytest" and "a pro customer is predicted to churn" in failure["message"]
    )
    report = (out / "report.md").read_text()
    assert "test\\_nobody\\_on\\_the\\_pro\\_plan\\_churns" in report
    assert not (project / ".pytest_cache").exists()
    # The same suite under plain pytest, from the project folder, on the same build.
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests_model",
            "--ci-ml-artifact",
            str(out),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 failed, 3 passed, 1 skipped" in r.stdout
    assert "test_nobody_on_the_pro_plan_churns" in r.stdout
    # Without a build the plugin stays out of the way: the tests are skipped.
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "tests_model", "-p", "no:cacheprovider", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and "5 skipped" in r.stdout, r.stdout


def test_test_model_alone_uses_the_baseline_compare_used(example_copy, tmp_path: Path) -> None:
    project = example_copy("mixed-tabular")
    base, out = tmp_path / "base", tmp_path / "out"
    assert build(project, base).returncode == 0
    r = build(project, out, "--baseline", str(base))
    assert r.returncode == 0, r.stderr
    before = json.loads((out / "model-tests.json").read_text())
    assert before["passed"] and before["baseline"] == "compared"
    assert all(t["outcome"] == "passed" for t in before["pytest"]["tests"])  # the baseline test ran

    def stricter(cfg: dict) -> None:
        cfg["model_tests"]["invariance"][0]["max_flip_rate"] = 0.0

    edit_config(project, stricter)
    cfg = str(project / "ci-ml.yaml")
    r = run_cli("test-model", "--config", cfg, "--out", str(out))
    assert r.returncode == 7 and "region barely matters" in r.stderr, r.stderr
    after = json.loads((out / "model-tests.json").read_text())
    assert after["baseline"] == "compared" and after["slices"] == before["slices"]
    # Only the model tests (and the report) went stale; the report stage picks them up.
    r = run_cli("report", "--config", cfg, "--out", str(out))
    assert r.returncode == 0 and "fails its model tests" in (out / "report.md").read_text()
    r = run_cli("publish", "--config", cfg, "--out", str(out), "--force")
    assert (
        r.returncode != 0 and "not a complete" not in r.stderr
    )  # refused only by GitHub's absence


def test_slice_gates_fail_closed_when_the_baseline_cannot_be_scored(example_copy, tmp_path):
    """A slice has no recorded metrics to fall back on, so a relative slice gate is
    not passed when the baseline cannot be scored: it fails, saying why. Here the
    baseline's model reads s6, which the data files no longer have (renamed)."""
    project = example_copy("regression")
    first = tmp_path / "first"
    assert build(project, first).returncode == 0
    data = project / "data" / "diabetes.csv"
    data.write_text(data.read_text().replace(",s6,", ",s6_renamed,", 1))

    def rename_s6(cfg: dict) -> None:
        cfg["gates"] = [g for g in cfg["gates"] if "min" in g]  # the slice gate is the subject
        del cfg["model_tests"]["invariance"]  # it perturbs s6
        del cfg["model_tests"]["golden"]  # its file has s6

    edit_config(project, rename_s6)
    schema = yaml.safe_load((project / "schema.yaml").read_text())
    schema["columns"]["s6_renamed"] = schema["columns"].pop("s6")
    (project / "schema.yaml").write_text(yaml.safe_dump(schema))
    out = tmp_path / "second"
    r = build(project, out, "--baseline", str(first))
    assert r.returncode == 7, r.stderr
    assert "rmse cannot be compared: the baseline could not be scored" in r.stderr
    assert "s6" in r.stderr and "Traceback" not in r.stderr
    tests = json.loads((out / "model-tests.json").read_text())
    assert not tests["passed"]
