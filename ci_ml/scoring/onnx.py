"""Running an ONNX model with onnxruntime: sessions, the inputs a DataFrame
becomes, and the predictions in the encoding the statistics read (class indexes
and probabilities, or values). Never unpickled: an ONNX file cannot run code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import DataValidationError, ModelFileError
from ci_ml.scoring.labels import encode_labels

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class Predictions:
    """One model's predictions on the holdout rows: class indexes (into the
    model's classes) and probabilities, or predicted values."""

    pred: np.ndarray
    proba: np.ndarray | None = None


@contextlib.contextmanager
def predicting(runtime: str) -> Iterator[None]:
    """A model that cannot predict the holdout is the data's or the model's problem
    to fix (a category seen only there, say): say so, with no traceback."""
    try:
        yield
    except Exception as e:  # scikit-learn raises ValueError; onnxruntime its own kinds
        raise DataValidationError(
            f"the model cannot predict the holdout rows with {runtime}: "
            f"{str(e).strip().splitlines()[0][:300]}",
            hint="a category seen only in the holdout needs OneHotEncoder(handle_unknown="
            "'ignore'); values the training data never had need a check in the schema",
        ) from None


def onnx_predictions(
    session: Any, inputs: dict[str, Any], task: str, classes: list[Any] | None, probabilities: bool
) -> Predictions:
    """The ONNX model's predictions, in the same encoding as `sklearn_predictions`."""
    import numpy as np

    outs = session.run(None, inputs)
    if task != "classification":
        return Predictions(np.asarray(outs[0], dtype=np.float64).ravel())
    pred = encode_labels(np.asarray(outs[0]).ravel(), classes or [])
    proba = np.asarray(outs[1], dtype=np.float64) if probabilities and len(outs) > 1 else None
    return Predictions(pred, proba)


def feeds(X: pd.DataFrame, spec: list[tuple[str, str]], precision: str) -> dict[str, np.ndarray]:
    """The onnxruntime inputs for a frame. Missing strings become '' (ONNX has no null
    string); the same frame reaches scikit-learn with NaN, which the parity check compares."""
    import numpy as np

    dtype = np.float64 if precision == "double" else np.float32
    if spec == [("input", "numeric")]:
        return {"input": X.to_numpy(dtype=dtype)}
    out = {}
    for (name, kind), col in zip(spec, X.columns, strict=True):
        s = X[col]
        if kind == "numeric":
            out[name] = s.to_numpy(dtype=dtype).reshape(-1, 1)
        else:
            out[name] = np.array(
                ["" if v is None or v != v else str(v) for v in s], dtype=object
            ).reshape(-1, 1)
    return out


def model_metadata(path_or_bytes: Path | bytes) -> dict[str, str]:
    """The metadata_props of an ONNX file, without loading its weights into a runtime."""
    import onnx

    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    model = onnx.load_from_string(data)
    return {p.key: p.value for p in model.metadata_props}


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor of a graph: initializers (sparse ones too) and attribute values,
    subgraphs (If, Loop, Scan) included."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


def model_file_problem(data: bytes) -> str | None:
    """Why ci-ml will not load these bytes as a model (None: it will): they are no
    ONNX model, or a tensor of it keeps its values in an external file (the path
    is the file's to choose: `../../../../etc/passwd` as well as weights)."""
    import onnx

    try:
        model = onnx.load_from_string(data)
    except Exception as e:  # protobuf raises DecodeError and other kinds
        return f"it is not an ONNX model ({type(e).__name__}: {str(e)[:120]})"
    if not model.graph.node:
        return "it is not an ONNX model (its graph has no node)"
    external = [
        t.name for t in _tensors(model.graph) if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    if external:
        return f"it keeps tensor(s) {', '.join(external[:3])} in external files"
    return None


def session_for(path_or_bytes: Path | bytes, threads: int | None = None) -> Any:
    """An onnxruntime session for a model file or its bytes, after
    `model_file_problem`: every model ci-ml loads goes through here, and the
    session is made from the bytes, so no path inside the model is ever opened.
    `threads`: at most this many (a Dask worker's task: the worker's threads are
    the parallelism)."""
    import onnxruntime as ort

    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    problem = model_file_problem(data)
    if problem is not None:
        where = f"{path_or_bytes}" if isinstance(path_or_bytes, Path) else "the model"
        raise ModelFileError(
            f"{where} cannot be loaded: {problem}",
            hint="a ci-ml model.onnx holds all its weights; rebuild or fetch it again",
        )

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    # Threads that wait for work sleep instead of spinning: a CI runner's cores are
    # shared with the rest of the job (and, here, with other builds), where spinning
    # pools slow everything else down for a few milliseconds of latency saved.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads is not None:
        opts.intra_op_num_threads = opts.inter_op_num_threads = threads
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def timed(session: Any, f: dict[str, Any]) -> float:
    t = time.perf_counter()
    session.run(None, f)
    return time.perf_counter() - t
