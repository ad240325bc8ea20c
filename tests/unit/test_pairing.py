"""The baseline scored beside the candidate (ci_ml/scoring/pairing.py): what it says
when it cannot be scored, and a label only the baseline knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ci_ml.modeling.convert import convert
from ci_ml.records import Manifest, load
from ci_ml.scoring.pairing import BaselineScores, pair, score
from ci_ml.stats.metrics import Scored


def _classifier(tmp_path: Path) -> tuple[Path, dict, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    y = np.where(X["a"] > 0, "yes", "no")
    model, _, _ = convert(LogisticRegression().fit(X, y), X, None)
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    manifest = {
        "task": "classification",
        "features": [{"name": c, "dtype": "float64"} for c in X.columns],
        "classes": ["no", "yes"],
    }
    return path, manifest, X


def test_a_baseline_that_cannot_be_scored_says_why(tmp_path: Path) -> None:
    path, manifest, X = _classifier(tmp_path)
    ok = score(path, load(Manifest, manifest), X, "classification")
    assert ok.problem is None and ok.proba is not None and ok.classes == ["no", "yes"]
    gone = score(path, load(Manifest, manifest), X.drop(columns="b"), "classification")
    assert gone.problem == "the baseline needs column(s) the data no longer has: b"
    no_classes = score(path, load(Manifest, {**manifest, "classes": None}), X, "classification")
    assert "not a classifier" in (no_classes.problem or "")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    junk = score(tmp_path / "junk.onnx", load(Manifest, manifest), X, "classification")
    assert junk.problem and junk.problem.startswith("the baseline's") and junk.pred is None


def test_a_label_only_the_baseline_predicts_is_a_class_of_its_own() -> None:
    y = np.array([0, 1, 1, 0])
    candidate = Scored("classification", y, y.copy(), np.eye(2)[y], ["no", "yes"])
    scores = BaselineScores(
        pred=np.array(["no", "maybe", "yes", "no"], dtype=object),
        proba=np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]]),
        classes=["no", "maybe", "yes"],
    )
    cand, base, notes = pair(candidate, scores)
    assert notes == ["classes only the baseline knows: maybe"]
    assert base.classes == cand.classes == ["no", "yes", "<unknown to candidate>"]
    assert base.pred.tolist() == [0, 2, 1, 0]  # the unknown label is never right
    assert cand.proba is not None and cand.proba.shape == (4, 3)
    assert base.proba is not None and base.proba[:, 2].tolist() == [0, 0, 0, 0]
