"""Exporting a fitted model: model.onnx written, its predictions on the holdout
rows, and the parity check against scikit-learn's on the same rows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.modeling.convert import convert, describe
from ci_ml.modeling.libraries import classes_of
from ci_ml.modeling.parity import parity, sklearn_predictions
from ci_ml.records import ExportResult
from ci_ml.scoring.onnx import feeds, onnx_predictions, predicting, session_for, timed

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.scoring.onnx import Predictions

MODEL = "model.onnx"


def export(
    est: Any,
    X: pd.DataFrame,
    task: str,
    out: Path,
    target_opset: int | None,
    tolerance: float,
    metadata: dict[str, str] | None = None,
) -> tuple[ExportResult, Predictions]:
    """Write model.onnx (with `metadata` in its metadata_props), predict X with it
    and with scikit-learn, compare. Returns the record and the ONNX model's predictions."""
    t0 = time.perf_counter()
    model, precision, spec = convert(est, X, target_opset)
    describe(model, metadata or {})
    data = model.SerializeToString()
    (out / MODEL).write_bytes(data)
    session = session_for(data)
    probabilities = task == "classification" and hasattr(est, "predict_proba")
    result = ExportResult(
        path=MODEL,
        bytes=len(data),
        precision=precision,
        inputs=[{"name": n, "kind": k} for n, k in spec],
        outputs=[o.name for o in session.get_outputs()],
        opset={(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        probabilities=probabilities,
    )
    classes = classes_of(est) if task == "classification" else None
    inputs = feeds(X, spec, precision)
    with predicting("scikit-learn"):
        reference = sklearn_predictions(est, X, task)
    with predicting("onnxruntime"):
        onnx_pred = onnx_predictions(session, inputs, task, classes, probabilities)
    result.parity = parity(reference, onnx_pred, task, tolerance)
    # Latency: one batch of (up to) 1,000 holdout rows, best of three.
    sample = {k: v[:1000] for k, v in inputs.items()}
    best = min(timed(session, sample) for _ in range(3))
    result.latency_ms_per_1k_rows = round(best * 1000 * 1000 / max(min(len(X), 1000), 1), 3)
    result.seconds = time.perf_counter() - t0
    return result, onnx_pred
