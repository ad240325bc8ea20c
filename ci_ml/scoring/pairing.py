"""The candidate and the baseline scored on the same holdout rows, on the same
class columns: what the paired statistics of compare and the model tests read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.stats.metrics import Scored

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.baseline import BaselineScores


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

    from ci_ml.scoring.labels import encode_labels

    key = {str(c): i for i, c in enumerate(candidate_classes)}
    idx = encode_labels(pred, candidate_classes)
    out = None
    if proba is not None:
        out = np.zeros((proba.shape[0], len(candidate_classes)))
        for j, c in enumerate(baseline_classes):
            if str(c) in key:
                out[:, key[str(c)]] = proba[:, j]
    notes = []
    only_base = [c for c in baseline_classes if str(c) not in key]
    only_cand = [c for c in candidate_classes if str(c) not in {str(b) for b in baseline_classes}]
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
