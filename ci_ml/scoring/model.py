"""A build's model.onnx as an object that predicts on DataFrames, through
onnxruntime: what ships is what the model tests test. Never unpickled."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.artifact import read_json
from ci_ml.errors import DataValidationError, UsageError
from ci_ml.records import Manifest, RecordError, load
from ci_ml.scoring.labels import encode_labels
from ci_ml.scoring.onnx import feeds, session_for

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.records import Manifest


class OnnxModel:
    """`predict` and `predict_proba` on DataFrames holding (at least) the model's
    input columns; other columns (the target, ids) are ignored. Missing strings
    reach the model as "" (ONNX strings have no null), as in training.

    `classes_` are the class labels, in the order of `predict_proba`'s columns."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = Path(path)
        self.session = session_for(self.path)
        self.task: str = manifest.task
        self.classes_: list[object] | None = list(manifest.classes) if manifest.classes else None
        inputs = self.session.get_inputs()
        self.precision = "double" if any(i.type == "tensor(double)" for i in inputs) else "float"
        features = [f.name for f in manifest.features]
        if len(inputs) == 1 and inputs[0].name == "input" and features:
            self.columns, self.spec = features, [("input", "numeric")]
        else:
            self.columns = [i.name for i in inputs]
            self.spec = [
                (i.name, "string" if i.type == "tensor(string)" else "numeric") for i in inputs
            ]
        recorded = manifest.export.probabilities if manifest.export else None
        outputs = len(self.session.get_outputs())
        self.has_proba = self.task == "classification" and outputs > 1 and recorded in (None, True)

    @classmethod
    def load(cls, directory: Path) -> OnnxModel:
        """The model of a build's artifact folder (its model.onnx and manifest.json)."""
        directory = Path(directory)
        model, manifest = directory / "model.onnx", directory / "manifest.json"
        if not model.is_file() or not manifest.is_file():
            raise UsageError(
                f"{directory} holds no built model (model.onnx and manifest.json)",
                hint="run `ci-ml run` first, or point at the --out folder of a build",
            )

        try:
            record = load(Manifest, read_json(manifest))
        except (ValueError, RecordError) as e:
            raise UsageError(f"{manifest} is not a ci-ml manifest: {e}") from None
        return cls(model, record)

    def feeds(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        missing = [c for c in self.columns if c not in X.columns]
        if missing:
            raise DataValidationError(
                f"the rows lack column(s) the model needs: {', '.join(map(str, missing))}",
                hint=f"the model reads: {', '.join(map(str, self.columns))}",
            )
        return feeds(X[self.columns], self.spec, self.precision)

    def run(self, X: pd.DataFrame) -> list[object]:
        """The raw ONNX outputs for the rows of X."""
        return self.session.run(None, self.feeds(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class labels (classification: the model's own classes, as `classes_` holds
        them, whatever the ONNX file encodes them as) or predicted values, one per row."""
        import numpy as np

        out = np.asarray(self.run(X)[0]).ravel()
        if self.task != "classification":
            return out.astype(np.float64)
        if not self.classes_:
            return out
        idx = encode_labels(out, self.classes_)
        labels = np.empty(len(self.classes_), dtype=object)
        labels[:] = self.classes_
        return np.where(idx >= 0, labels[np.maximum(idx, 0)], out.astype(object))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(rows, classes) probabilities, columns in the order of `classes_`."""
        import numpy as np

        if not self.has_proba:
            raise AttributeError(f"{self.path.name} gives no class probabilities")
        return np.asarray(self.run(X)[1], dtype=np.float64)

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, task={self.task!r})"
