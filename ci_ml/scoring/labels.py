"""Labels as class indexes, and a model's holdout predictions with the truth as
the statistics read them (`Scored`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.errors import DataValidationError
from ci_ml.stats.metrics import Scored

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def _key(v: Any) -> str:
    import numpy as np

    if isinstance(v, (bool, np.bool_, int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    return str(v)


def label_keys(values: Any) -> np.ndarray:
    """Each label as the text it is compared by, whatever its type: a class is
    the same class as a bool (True), the integer the ONNX export turns it into
    (1) and a float with that value (1.0), which all become "1"; text stays as it
    is (spaces and unicode included)."""
    import numpy as np
    import pandas as pd

    arr = np.asarray(values).ravel()
    if arr.dtype == bool:
        return arr.astype(np.int64).astype(str)
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype.kind in ("U", "S"):
        return arr.astype(str)
    if (
        np.issubdtype(arr.dtype, np.floating)
        and np.isfinite(arr).all()
        and (arr == np.round(arr)).all()
    ):
        return arr.astype(np.int64).astype(str)
    if pd.api.types.infer_dtype(arr, skipna=False) == "string":
        return arr.astype(str)
    return np.array([_key(v) for v in arr], dtype=object).astype(str)


def encode_labels(values: Any, classes: list[Any]) -> np.ndarray:
    """Class indexes of `values` in `classes`, compared by `label_keys`; -1 for a
    label that is not one of the classes."""
    import numpy as np
    import pandas as pd

    names = pd.Index(label_keys(list(classes)) if len(classes) else [])
    return names.get_indexer(label_keys(values)).astype(np.int64)


def class_index(texts: Any, classes: list[Any]) -> np.ndarray:
    """Index in `classes` of labels written as text (a golden file's `expected`
    column, a config's class name): by the class's own text ("True", "yes") or its
    key ("1" for True, 1 and 1.0); -1 for a label that is none of them."""
    import numpy as np
    import pandas as pd

    by_text = pd.Index([str(c) for c in classes])
    first = by_text.get_indexer(np.asarray(texts, dtype=object).astype(str))
    second = encode_labels(texts, classes)
    return np.where(first >= 0, first, second).astype(np.int64)


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
