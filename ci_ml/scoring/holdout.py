"""The candidate's predictions on the holdout rows: export makes them with the
ONNX model (what ships), evaluate, compare and the model tests read them. A
later stage of the same process takes them from memory; one run alone loads
them from `_build/predictions.npz`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.artifact import PREDICTIONS
from ci_ml.scoring.labels import scored
from ci_ml.scoring.onnx import Predictions

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.stats.metrics import Scored

_KEY = "export:predictions"  # in Build.results: the export stage's, cleared with it


def save(b: Build, predictions: Predictions) -> None:
    import numpy as np

    proba = predictions.proba if predictions.proba is not None else np.zeros((0, 0))
    b.save_arrays(PREDICTIONS, pred=predictions.pred, proba=proba)
    b.results[_KEY] = predictions


def load(b: Build) -> Predictions:
    import numpy as np

    if _KEY not in b.results:
        with np.load(b.path(PREDICTIONS)) as z:
            proba = z["proba"] if z["proba"].size else None
            b.results[_KEY] = Predictions(z["pred"], proba)
    return b.results[_KEY]


def candidate(b: Build, needed_by: str) -> Scored:
    """The candidate's holdout predictions with the truth, as the statistics read them."""
    train = b.require("train", needed_by)
    b.require("export", needed_by)
    _, y = b.dataset.xy("test")
    p = load(b)
    return scored(y, p.pred, p.proba, b.task, train.classes)
