"""Labels as class indexes, and a model's holdout predictions with the truth as
the statistics read them (`Scored`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.errors import DataValidationError
from ci_ml.stats.metrics import Scored

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def encode_labels(values: Any, classes: list[Any]) -> np.ndarray:
    """Class indexes of `values` in `classes`, compared as text; -1 for a label
    that is not one of the classes."""
    import numpy as np
    import pandas as pd

    names = pd.Index([str(c) for c in classes])
    text = pd.Series(np.asarray(values).ravel()).astype(str)
    return names.get_indexer(text).astype(np.int64)


def scored(
    y: pd.Series, pred: np.ndarray, proba: np.ndarray | None, task: str, classes: Any
) -> Scored:
    """The model's predictions on the holdout with the truth, as the statistics read them."""
    import numpy as np

    if task != "classification":
        return Scored("regression", y.to_numpy(dtype=np.float64), pred.astype(np.float64))
    y_idx = encode_labels(y, classes)
    if (y_idx < 0).any():
        unseen = sorted(set(y.astype(str)[y_idx < 0]))
        raise DataValidationError(
            f"the holdout has class(es) the model never saw in training: {', '.join(unseen[:10])}",
            hint="make sure every class appears in the training data (stratified split)",
        )
    return Scored("classification", y_idx, pred, proba, classes)
