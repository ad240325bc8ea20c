"""The XGBoost, LightGBM and CatBoost examples build end to end (validate, train,
export with parity, evaluate, compare, report) against a baseline: a build of
the same example with fewer trees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, run_cli

BOOSTER_EXAMPLES = [
    f"{lib}-{task}"
    for lib in ("xgboost", "lightgbm", "catboost")
    for task in ("binary", "regression")
]


@pytest.mark.slow  # two builds each
@pytest.mark.parametrize("name", BOOSTER_EXAMPLES)
def test_a_booster_example_builds_exports_and_compares_with_a_baseline(
    tmp_path: Path, name: str
) -> None:
    source = "binary-classification" if name.endswith("binary") else "regression"
    for folder in (name, source):  # the example reads its data from the other's folder
        shutil.copytree(
            EXAMPLES / folder, tmp_path / folder, ignore=shutil.ignore_patterns(".ci-ml")
        )
    config = tmp_path / name / "ci-ml.yaml"
    text = config.read_text()
    cfg = yaml.safe_load(text)
    cfg["model"]["params"]["n_estimators"] = 20
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    base = tmp_path / "base"
    r = run_cli("run", "--config", str(config), "--out", str(base))
    assert r.returncode == 0, r.stderr
    config.write_text(text)
    out = tmp_path / "candidate"
    r = run_cli("run", "--config", str(config), "--out", str(out), "--baseline", str(base))
    assert r.returncode == 0, r.stderr

    export = json.loads((out / "_build" / "export.json").read_text())
    assert export["parity"]["passed"] and export["precision"] == "double"
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["baseline_status"] == "scored", comparison["baseline_status"]
    assert comparison["params_diff"], "the baseline's n_estimators differs"
    model = json.loads((out / "manifest.json").read_text())["model"]
    assert model["estimator"] == cfg["model"]["estimator"].rpartition(".")[2]
    # Seeded, one thread (libraries.THREADS), quiet: set by ci-ml, recorded.
    assert any(k in model["seeded"] for k in ("n_jobs", "thread_count")), model["seeded"]
