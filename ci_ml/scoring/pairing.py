"""The candidate and the baseline scored on the same holdout rows, on the same
class columns: what the paired statistics of compare and the model tests read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ModelFileError
from ci_ml.scoring.labels import encode_labels, label_keys
from ci_ml.scoring.model import OnnxModel
from ci_ml.stats.metrics import Scored

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.records import Manifest


@dataclass
class BaselineScores:
    """The baseline's predictions on the current holdout rows, or why there are none."""

    pred: np.ndarray | None = None
    proba: np.ndarray | None = None
    classes: list[Any] | None = None
    problem: str | None = None


def score(path: Path, manifest: Manifest, X: pd.DataFrame, task: str) -> BaselineScores:
    """A baseline's model (its model.onnx and manifest) on the holdout rows, through
    onnxruntime, with its own inputs; or why it cannot be."""
    import numpy as np

    try:
        model = OnnxModel(path, manifest)
    except ModelFileError as e:  # not a model, or one reading other files: never loaded
        return BaselineScores(
            problem=f"the baseline's {e.message.replace(str(path), 'model.onnx')}"
        )
    except Exception as e:  # onnxruntime's errors are not typed
        return BaselineScores(
            problem=f"the baseline's model.onnx cannot be loaded by onnxruntime: {e}"
        )
    missing = [c for c in model.columns if c not in X.columns]
    if missing:
        return BaselineScores(
            problem=f"the baseline needs column(s) the data no longer has: {', '.join(missing)}"
        )
    try:
        data = model.feeds(X)
    except (TypeError, ValueError) as e:
        return BaselineScores(
            problem=f"the baseline's inputs cannot be built from the current data: {e}"
        )
    try:
        outs = model.session.run(None, data)
    except Exception as e:
        return BaselineScores(
            problem=f"the baseline model failed on the current data: {str(e).splitlines()[0]}"
        )
    if task == "classification":
        classes = manifest.classes
        if not classes:
            return BaselineScores(
                problem="the baseline is not a classifier (its manifest lists no classes)"
            )
        recorded = manifest.export.probabilities if manifest.export else None
        has_proba = len(outs) > 1 if recorded is None else bool(recorded)
        return BaselineScores(
            pred=np.asarray(outs[0]).ravel(),
            proba=np.asarray(outs[1], dtype=np.float64) if has_proba and len(outs) > 1 else None,
            classes=list(classes),
        )
    return BaselineScores(pred=np.asarray(outs[0], dtype=np.float64).ravel())


def align_classes(
    candidate_classes: list[Any],
    baseline_classes: list[Any],
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Map the baseline's labels and probability columns onto the candidate's classes.
    Returns (pred index, proba, notes). A baseline label unknown to the candidate gets
    index -1 (always wrong); its probability mass is dropped."""
    import numpy as np

    cand_keys = [str(k) for k in label_keys(list(candidate_classes))] if candidate_classes else []
    base_keys = [str(k) for k in label_keys(list(baseline_classes))] if baseline_classes else []
    key = {k: i for i, k in enumerate(cand_keys)}
    idx = encode_labels(pred, candidate_classes)
    out = None
    if proba is not None:
        out = np.zeros((proba.shape[0], len(candidate_classes)))
        for j, k in enumerate(base_keys):
            if k in key:
                out[:, key[k]] = proba[:, j]
    notes = []
    only_base = [c for c, k in zip(baseline_classes, base_keys, strict=True) if k not in key]
    only_cand = [
        c for c, k in zip(candidate_classes, cand_keys, strict=True) if k not in set(base_keys)
    ]
    if only_base:
        notes.append(f"classes only the baseline knows: {', '.join(map(str, only_base))}")
    if only_cand:
        notes.append(f"classes only the candidate knows: {', '.join(map(str, only_cand))}")
    return idx, out, notes


def _scored_baseline(candidate: Scored, pred_idx: np.ndarray, proba: np.ndarray | None) -> Scored:
    import numpy as np

    # A label the candidate does not know can never be right: encode it as a class
    # index no row has (K), which the one-hot encoders treat as a column of its own.
    if candidate.task == "classification":
        k = len(candidate.classes or [])
        safe = np.where(pred_idx < 0, k, pred_idx)
        if (pred_idx < 0).any():
            classes = [*candidate.classes, "<unknown to candidate>"]
            cand_proba = (
                None if proba is None else np.hstack([proba, np.zeros((proba.shape[0], 1))])
            )
            return Scored("classification", candidate.y, safe, cand_proba, classes)
        return Scored("classification", candidate.y, safe, proba, candidate.classes)
    return Scored("regression", candidate.y, pred_idx)


def pair(candidate: Scored, scores: BaselineScores) -> tuple[Scored, Scored, list[str]]:
    """The candidate and the baseline as two Scored on the same class columns, and notes."""
    import numpy as np

    if candidate.task != "classification":
        return candidate, _scored_baseline(candidate, scores.pred, None), []
    idx, proba, notes = align_classes(
        candidate.classes or [], scores.classes or [], scores.pred, scores.proba
    )
    base = _scored_baseline(candidate, idx, proba)
    if base.classes == candidate.classes:
        return candidate, base, notes
    # The baseline predicted a label the candidate does not know: an extra class column.
    extra = None if candidate.proba is None else np.zeros((len(candidate.y), 1))
    widened = Scored(
        "classification",
        candidate.y,
        candidate.pred,
        None if extra is None else np.hstack([candidate.proba, extra]),
        base.classes,
    )
    return widened, base, notes
