"""`model.preprocess: auto` through the CLI: a plain `estimator:` trains on text
columns and missing values, and a category only the holdout has is no crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, run_cli

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

HOSTILE = Path(__file__).resolve().parents[1] / "hostile" / "cases"


def _project(tmp_path: Path, model: dict) -> Path:
    """examples/mixed-tabular (text columns, missing values) with `model` instead of its factory."""
    project = tmp_path / "churn"
    shutil.copytree(EXAMPLES / "mixed-tabular", project, ignore=shutil.ignore_patterns(".ci-ml"))
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["model"] = model
    # The example's model tests (directional checks) are written for its own model.
    cfg.pop("model_tests", None)
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return project


def test_the_readme_estimator_trains_on_text_columns(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "estimator": "sklearn.ensemble.GradientBoostingClassifier",
            "params": {"n_estimators": 50},
        },
    )
    r = run_cli("run", cwd=project)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((project / ".ci-ml" / "manifest.json").read_text())
    model = manifest["model"]
    assert model["estimator"] == "Pipeline(ColumnTransformer → GradientBoostingClassifier)"
    assert model["params"]["n_estimators"] == 50  # the estimator's own, not the pipeline's
    assert set(model["preprocess"]["one_hot"]) == {"plan", "region", "channel"}
    assert model["preprocess"]["nullable_from"] == "schema"
    assert manifest["export"]["parity"]["passed"]
    assert manifest["export"]["precision"] == "double"


def test_preprocess_none_fails_on_text_with_a_hint_naming_auto(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {"estimator": "sklearn.ensemble.GradientBoostingClassifier", "preprocess": "none"},
    )
    r = run_cli("run", cwd=project)
    assert r.returncode == 2, r.stderr
    assert "could not convert string to float" in r.stderr
    assert "model.preprocess: auto" in r.stderr and "Traceback" not in r.stderr


def test_a_category_only_in_the_holdout_is_encoded_as_unknown(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(HOSTILE / "category-only-in-holdout" / "data", project / "data")
    (project / "ci-ml.yaml").write_text(
        "data: {train: data/train.csv, test: data/test.csv, target: churned}\n"
        "model: {estimator: sklearn.linear_model.LogisticRegression}\n"
        # The corpus's tiny holdout repeats training rows; the encoding is the subject here.
        "safeguards: {contamination: {severity: warn}}\n"
    )
    r = run_cli("run", cwd=project)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((project / ".ci-ml" / "manifest.json").read_text())
    assert manifest["export"]["parity"]["passed"]
    assert manifest["model"]["preprocess"]["nullable_from"] == "data"
