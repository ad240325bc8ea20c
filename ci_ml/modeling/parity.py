"""The parity check: the ONNX model must predict what scikit-learn predicts,
on every holdout row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.errors import ParityError
from ci_ml.modeling.libraries import classes_of, final_step, library_of
from ci_ml.scoring.labels import encode_labels
from ci_ml.scoring.onnx import Predictions

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.records import ExportResult


# Classifiers whose predict() is exactly the argmax of predict_proba(), so one
# call gives both. SVC is the counter-example: it predicts from its decision
# function, and Platt-scaled probabilities can disagree with it.
PREDICT_IS_ARGMAX = frozenset(
    {
        "LogisticRegression",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "KNeighborsClassifier",
        "MLPClassifier",
        "CalibratedClassifierCV",
    }
)


def predict_is_argmax(est: Any) -> bool:
    """Also every classifier of XGBoost, LightGBM and CatBoost: each predicts the
    most probable class (tests/unit/test_estimator_matrix.py checks it)."""
    final = final_step(est)
    if library_of(final) is not None:
        return hasattr(final, "predict_proba")
    cls = type(final)
    return cls.__module__.startswith("sklearn.") and cls.__name__ in PREDICT_IS_ARGMAX


def sklearn_predictions(est: Any, X: pd.DataFrame, task: str) -> Predictions:
    """scikit-learn's predictions on X, each method called once."""
    import numpy as np

    if task != "classification":
        return Predictions(np.asarray(est.predict(X), dtype=np.float64).ravel())
    classes = classes_of(est) or []
    if not hasattr(est, "predict_proba"):
        return Predictions(encode_labels(est.predict(X), classes))
    proba = np.asarray(est.predict_proba(X), dtype=np.float64)
    if predict_is_argmax(est):
        return Predictions(proba.argmax(axis=1).astype(np.int64), proba)
    return Predictions(encode_labels(est.predict(X), classes), proba)


def parity(
    reference: Predictions, onnx: Predictions, task: str, tolerance: float
) -> dict[str, Any]:
    """Compare scikit-learn and onnxruntime on every row: labels identical,
    probabilities / predictions within `tolerance` (absolute, or relative for
    large values)."""
    if task == "classification":
        return _classification_parity(reference, onnx, tolerance)
    import numpy as np

    sk, ox = reference.pred, onnx.pred
    diff = np.abs(ox - sk)
    scale = np.maximum(1.0, np.abs(sk))
    bad = int(np.sum(diff > tolerance * scale))
    return {
        "rows": int(sk.shape[0]),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "max_rel_diff": float((diff / scale).max()) if diff.size else 0.0,
        "rows_beyond_tolerance": bad,
        "tolerance": tolerance,
        "compared": "predictions",
        "passed": bad == 0,
    }


def _classification_parity(
    reference: Predictions, onnx: Predictions, tolerance: float
) -> dict[str, Any]:
    import numpy as np

    differ = reference.pred != onnx.pred
    sk_proba = reference.proba
    if sk_proba is not None and sk_proba.shape[1] > 1:
        # A row whose top two probabilities tie (within tolerance) has no single right
        # label: argmax tie-breaking differs between runtimes. Count those apart.
        top2 = np.partition(sk_proba, -2, axis=1)[:, -2:]
        tied = (top2[:, 1] - top2[:, 0]) <= tolerance
    else:
        tied = np.zeros(differ.shape[0], dtype=bool)
    mismatches = int(np.sum(differ & ~tied))
    if sk_proba is not None and onnx.proba is not None:
        diff = np.abs(onnx.proba - sk_proba)
    else:
        diff = np.zeros(0)
    max_abs = float(diff.max()) if diff.size else 0.0
    return {
        "rows": int(differ.shape[0]),
        "label_mismatches": mismatches,
        "tied_rows_differing": int(np.sum(differ & tied)),
        "max_abs_diff": max_abs,
        "tolerance": tolerance,
        "compared": "labels and probabilities" if diff.size else "labels",
        "passed": bool(mismatches == 0 and max_abs <= tolerance),
    }


def parity_error(result: ExportResult, task: str, estimator: str) -> ParityError | None:
    """The error a failed parity check stops the build with (None: it passed)."""
    p = result.parity
    if p.get("passed"):
        return None
    detail = (
        f"{p.get('label_mismatches', 0)} label(s) differ, max |Δ| {p['max_abs_diff']:.3g}"
        if task == "classification"
        else f"{p['rows_beyond_tolerance']} row(s) beyond tolerance, max |Δ| {p['max_abs_diff']:.3g}"
    )
    return ParityError(
        f"the ONNX export of {estimator} does not predict like scikit-learn on the holdout set: "
        f"{detail} (tolerance {p['tolerance']:g}); model.onnx was kept for inspection",
        hint="raise export.tolerance if the differences are float rounding, or see the docs (guide/build.md) on "
        "estimators that export imprecisely (e.g. a scaler before HistGradientBoosting)",
    )
