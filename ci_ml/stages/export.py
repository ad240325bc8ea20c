"""The export stage (`ci-ml export`): the fitted model converted to ONNX
(ci_ml.modeling.convert), its predictions on every holdout row (what ships, and
what evaluate scores), and the parity check against scikit-learn on the same
rows. A model that predicts unlike scikit-learn stops the build (exit 4) after
model.onnx is written, for inspection."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import BUILD_DIR, PREDICTIONS, plain
from ci_ml.errors import EXIT_GATE
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.errors import CiMlError
    from ci_ml.records import ExportResult
    from ci_ml.scoring.onnx import Predictions
    from ci_ml.stage import StageRun

MODEL = "model.onnx"


def run(r: StageRun) -> ExportResult:
    from ci_ml import lineage
    from ci_ml.modeling.estimator import fitted_model
    from ci_ml.scoring import holdout

    b = r.build
    decision = r.cache_decision()
    if decision.reuse:
        return reused(r)
    est = fitted_model(b, "export")
    X, _ = b.dataset.xy("test")
    result, onnx_pred = export(
        b,
        est,
        X,
        b.cfg.export.target_opset,
        b.cfg.export.tolerance,
        metadata=lineage.model_facts(b),
    )
    holdout.save(b, onnx_pred)
    return result


def reused(r: StageRun) -> ExportResult:
    """The build cache: the baseline's model.onnx (verified against its SHA256SUMS
    when the baseline was loaded) becomes this build's; its predictions of the
    holdout are the baseline's scores, which compare reads too (scored once)."""
    from ci_ml.errors import BaselineError, DataValidationError
    from ci_ml.records import ExportResult, load
    from ci_ml.scoring import holdout
    from ci_ml.scoring.labels import encode_labels
    from ci_ml.scoring.onnx import Predictions

    t0 = time.perf_counter()
    b, base = r.build, r.baseline
    assert base is not None and base.manifest.export is not None
    record = plain(base.manifest.export)
    record.pop("reused_from", None)
    result = load(ExportResult, record)
    data = base.model_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != base.digests.get(MODEL):
        raise BaselineError(
            f"baseline {base.directory}: model.onnx changed since its SHA256SUMS were checked",
            hint="fetch the baseline again; never edit a published artifact",
        )
    b.write_bytes(MODEL, data)
    X, _ = b.dataset.xy("test")
    scores = base.scores(X, b.task)
    if scores.problem is not None:
        raise DataValidationError(f"the model cannot predict the holdout rows: {scores.problem}")
    if b.task == "classification":
        pred = Predictions(encode_labels(scores.pred, base.manifest.classes or []), scores.proba)
    else:
        pred = Predictions(scores.pred)
    holdout.save(b, pred)
    result.reused_from = {"label": base.label, "commit": base.identity.get("commit")}
    result.seconds = time.perf_counter() - t0
    return result


def export(
    b: Build,
    est: Any,
    X: pd.DataFrame,
    target_opset: int | None,
    tolerance: float,
    metadata: dict[str, str] | None = None,
) -> tuple[ExportResult, Predictions]:
    """Write model.onnx (with `metadata` in its metadata_props), predict X with it
    and with scikit-learn, compare. Returns the record and the ONNX model's predictions."""
    from ci_ml.modeling.convert import convert, describe
    from ci_ml.modeling.parity import parity, sklearn_predictions
    from ci_ml.records import ExportResult
    from ci_ml.scoring.onnx import feeds, onnx_predictions, predicting, session_for, timed

    t0 = time.perf_counter()
    task = b.task
    model, precision, spec = convert(est, X, target_opset)
    describe(model, metadata or {})
    data = model.SerializeToString()
    b.write_bytes(MODEL, data)
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
    classes = list(est.classes_) if task == "classification" else None
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


def stop(r: StageRun, result: ExportResult) -> CiMlError | None:
    from ci_ml.modeling.parity import parity_error

    return parity_error(result, r.build.task, r.build.require("train", "export").estimator)


def summary(result: ExportResult) -> str:
    p = result.parity
    if result.reused_from:
        return f"model.onnx is {result.reused_from.get('label')}'s ({result.bytes:,} bytes)"
    return (
        f"exported {result.path} ({result.bytes:,} bytes, {result.precision}); "
        f"parity on {p['rows']} rows: max |Δ| {p['max_abs_diff']:.3g}"
    )


STAGE = Stage(
    name="export",
    command="export",
    help="export to ONNX, predict the holdout set with it, check parity with scikit-learn",
    run=run,
    stop=stop,
    summary=summary,
    reads=("export",),
    writes=(MODEL, PREDICTIONS),
    record="ExportResult",
    record_file=f"{BUILD_DIR}/export.json",
    exit_code=EXIT_GATE,
    sections=(Section(order=90, template="build.md.j2"),),
)
