"""The export stage (`ci-ml export`): the fitted model converted to ONNX
(ci_ml.modeling.convert), its predictions on every holdout row (what ships, and
what evaluate scores), and the parity check against scikit-learn on the same
rows. A model that predicts unlike scikit-learn stops the build (exit 4) after
model.onnx is written, for inspection."""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from ci_ml.artifact import BUILD_DIR, PREDICTIONS, plain
from ci_ml.errors import EXIT_GATE
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.errors import CiMlError
    from ci_ml.records import ExportResult, TrainResult
    from ci_ml.stage import StageRun

MODEL = "model.onnx"


def run(r: StageRun) -> ExportResult:
    from ci_ml.manifest import model_facts
    from ci_ml.modeling.estimator import fitted_model
    from ci_ml.modeling.export import export
    from ci_ml.scoring import holdout

    b = r.build
    decision = r.cache_decision()
    if decision.reuse:
        return reused(r)
    trained = b.require("train", "export")
    if trained.command is not None:
        return by_command(r, trained)
    est = fitted_model(b, "export")
    X, _ = b.dataset.xy("test")
    result, onnx_pred = export(
        est,
        X,
        b.task,
        b.out,
        b.cfg.export.target_opset,
        b.cfg.export.tolerance,
        metadata=model_facts(b),
    )
    holdout.save(b, onnx_pred)
    return result


def by_command(r: StageRun, trained: TrainResult) -> ExportResult:
    """The model.onnx `model.command` wrote (ci_ml.modeling.command), checked against
    the data and the task; no parity check (there is no scikit-learn model)."""
    from ci_ml.artifact import sha256_file
    from ci_ml.errors import ModelFileError, UsageError
    from ci_ml.manifest import model_facts
    from ci_ml.modeling import command
    from ci_ml.scoring import holdout

    b = r.build
    path = b.state_path(f"{command.WORK_DIR}/model/{command.MODEL_FILE}")
    recorded = trained.command.model_sha256 if trained.command else None
    if not path.is_file() or sha256_file(path) != recorded:
        raise UsageError(
            f"{path} is not the model the training command wrote (missing or changed since)",
            hint="run the whole build with `ci-ml run`",
        )
    X, _ = b.dataset.xy("test")
    try:
        result, pred = command.export(path, X, b.task, trained.classes, b.out, model_facts(b))
    except ModelFileError as e:
        tail = trained.command.output_tail if trained.command else ""
        raise command.with_output(e, tail) from None
    holdout.save(b, pred)
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
    scores = base.scores(b.dataset.holdout_rows, b.task)
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


def stop(r: StageRun, result: ExportResult) -> CiMlError | None:
    from ci_ml.modeling.parity import parity_error

    return parity_error(result, r.build.task, r.build.require("train", "export").estimator)


def summary(result: ExportResult) -> str:
    p = result.parity
    if result.reused_from:
        return f"model.onnx is {result.reused_from.get('label')}'s ({result.bytes:,} bytes)"
    if p.get("skipped"):
        return (
            f"checked {result.path} ({result.bytes:,} bytes, {result.precision}) against the "
            "data; parity not checked (trained by model.command)"
        )
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
