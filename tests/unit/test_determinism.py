"""model.onnx is a function of the fitted model alone: converting the same
estimator in fresh processes, whose string hash seeds differ, writes the same
bytes, for every estimator of the matrix.

Why fresh processes with their own PYTHONHASHSEED: skl2onnx collects opset
imports in a set, so their order follows the process's hash seed; one process
converting a model 150 times always agrees with itself and proves nothing.
(Without `canonical`, the seeds below give four different files for most
estimators.) End-to-end identity of whole builds is in
tests/integration/test_reproduce.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from ci_ml.modeling.convert import canonical, convert, describe
from ci_ml.modeling.estimator import fit_model
from ci_ml.scoring.onnx import model_metadata
from tests.unit.test_estimator_matrix import (
    BOOSTERS,
    CLASSIFIERS,
    REGRESSORS,
    booster,
    mixed_data,
    numeric_data,
)

ROOT = Path(__file__).resolve().parents[2]
HASH_SEEDS = ["0", "1", "2", "3"]
CONVERT = """
import hashlib, json, sys, joblib
from ci_ml.modeling.convert import convert, describe
out = {}
for name, (est, X) in sorted(joblib.load(sys.argv[1]).items()):
    model, _, _ = convert(est, X, None)
    describe(model, {"ci_ml.b": "2", "ci_ml.a": "1"})
    out[name] = hashlib.sha256(model.SerializeToString()).hexdigest()
print(json.dumps(out))
"""


def fitted_matrix() -> dict:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    models = {}
    for task, table in (("classification", CLASSIFIERS), ("regression", REGRESSORS)):
        Xtr, ytr, Xte, _ = numeric_data(task)
        for name, make in table.items():
            models[name] = (make().fit(Xtr, ytr), Xte)
        # XGBoost, LightGBM, CatBoost: their converters (onnxmltools', CatBoost's own)
        # write the same bytes too.
        for name in BOOSTERS:
            if name.endswith("Classifier") == (task == "classification"):
                est = booster(name)
                fit_model(est, Xtr, ytr, task)
                models[name] = (est, Xte)
    Xtr, ytr, Xte, _ = numeric_data("classification", classes=3)
    models["LogisticRegression-3-classes"] = (
        CLASSIFIERS["LogisticRegression"]().fit(Xtr, ytr),
        Xte,
    )
    Xtr, ytr, Xte, _ = mixed_data()
    columns = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
            ("num", SimpleImputer(), ["size", "weight"]),
        ]
    )
    models["ColumnTransformer"] = (make_pipeline(columns, LogisticRegression()).fit(Xtr, ytr), Xte)
    return models


@pytest.mark.slow  # a process per hash seed per estimator
def test_every_estimator_exports_the_same_bytes_in_fresh_processes(tmp_path: Path) -> None:
    models = fitted_matrix()
    joblib.dump(models, tmp_path / "models.joblib")
    procs = []
    for seed in HASH_SEEDS:
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", CONVERT, str(tmp_path / "models.joblib")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert set(results[0]) == set(models)
    for name in models:
        digests = {r[name] for r in results}
        assert len(digests) == 1, f"{name}: {len(digests)} different model.onnx files"


def test_canonical_sorts_opsets_and_drops_noise() -> None:
    Xtr, ytr, Xte, _ = numeric_data("classification")
    model, _, _ = convert(CLASSIFIERS["LogisticRegression"]().fit(Xtr, ytr), Xte, None)
    model.opset_import.add(domain="ai.onnx.ml", version=1)  # a domain listed twice
    model.graph.name = "a1b2c3"
    model.doc_string = "converted at 12:00"
    canonical(model)
    domains = [o.domain for o in model.opset_import]
    assert domains == sorted(set(domains))
    assert model.graph.name == "ci_ml_model" and model.doc_string == ""


def test_metadata_is_sorted_and_readable_back() -> None:
    Xtr, ytr, Xte, _ = numeric_data("regression")
    model, _, _ = convert(REGRESSORS["Lasso"]().fit(Xtr, ytr), Xte, None)
    describe(model, {"ci_ml.task": "regression", "ci_ml.commit": "abc"})
    describe(model, {"ci_ml.task": "regression", "ci_ml.commit": "abc"})  # replaces, no dupes
    assert [p.key for p in model.metadata_props] == ["ci_ml.commit", "ci_ml.task"]
    assert model_metadata(model.SerializeToString()) == {
        "ci_ml.commit": "abc",
        "ci_ml.task": "regression",
    }
