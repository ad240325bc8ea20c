"""The export stage: ONNX export, model check, and parity with scikit-learn on
the whole holdout set.

Inputs are derived from the training frame: one double tensor for an
all-numeric model, or one tensor per column (double or string) when the model
takes named columns (a ColumnTransformer) or any column holds strings.
Classifiers output plain probability tensors (no ZipMap), so consumers and the
baseline comparison read them as arrays.

Tree ensembles are exported with double thresholds (ai.onnx.ml opset 3), so
splits near a threshold go the same way as in scikit-learn, which computes in
double. onnxruntime's tree kernels emit float, while skl2onnx declares double
outputs for double inputs; `_cast_tree_outputs` inserts the Cast that makes
the graph consistent. If a converter has no double kernel in onnxruntime
(SVR), the export falls back to float inputs, and the parity check decides
whether that is good enough.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import load, optional
from ci_ml.errors import DataValidationError, ExportError, ParityError
from ci_ml.stages.converters import custom_converters
from ci_ml.stages.train import describe_estimator

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.build import Build

DEFAULT_ML_OPSET = 3
MODEL = "model.onnx"


@dataclass
class ExportResult:
    """export.json: the ONNX file, its inputs and outputs, and the parity check."""

    path: str
    bytes: int
    precision: str  # "double" or "float"
    inputs: list[dict[str, str]]
    outputs: list[str]
    opset: dict[str, int]
    parity: dict[str, Any] = field(default_factory=dict)
    latency_ms_per_1k_rows: float | None = None
    seconds: float = 0.0
    probabilities: bool = False  # whether the second output holds class probabilities
    # The build cache: model.onnx is the baseline's, byte for byte; its parity was
    # proved when it was built, on the same rows (same data and split).
    reused_from: dict[str, Any] | None = optional()


@dataclass
class Predictions:
    """One model's predictions on the holdout rows: class indexes (into the
    model's classes) and probabilities, or predicted values."""

    pred: np.ndarray
    proba: np.ndarray | None = None


# Classifiers whose predict() is exactly the argmax of predict_proba(), so one
# call gives both. SVC is the counter-example: it predicts from its decision
# function, and Platt-scaled probabilities can disagree with it.
PREDICT_IS_ARGMAX = frozenset(
    {
        "LogisticRegression",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "KNeighborsClassifier",
        "MLPClassifier",
        "CalibratedClassifierCV",
    }
)


def run(b: Build) -> ExportResult:
    """The stage: export, predict the holdout with the ONNX model (what ships, and
    what `evaluate` scores), record, then fail if it predicts unlike scikit-learn."""
    import numpy as np

    from ci_ml.stages.evaluate import PREDICTIONS
    from ci_ml.stages.train import load_model

    t0 = time.perf_counter()
    b.begin("export")
    est = load_model(b, "export")
    X, _ = b.dataset.xy("test")
    result, onnx_pred = export(
        est,
        X,
        b.task,
        b.out,
        b.cfg.export.target_opset,
        b.cfg.export.tolerance,
        metadata=b.model_facts(),
    )
    proba = onnx_pred.proba if onnx_pred.proba is not None else np.zeros((0, 0))
    np.savez(b.state_path(PREDICTIONS), pred=onnx_pred.pred, proba=proba)
    b.record("export", result, time.perf_counter() - t0)
    b.write_manifest()
    check_parity(result, est, b.task)
    b.seal("export")
    return result


def reuse(b: Build, baseline: Path) -> ExportResult:
    """The build cache's export stage: the baseline's model.onnx (verified against
    its SHA256SUMS when it was loaded) becomes this build's; its predictions of the
    holdout are made again, for the evaluate stage."""
    import shutil

    import numpy as np

    from ci_ml.stages.baseline import load_baseline
    from ci_ml.stages.evaluate import PREDICTIONS

    t0 = time.perf_counter()
    b.begin("export")
    base = load_baseline(baseline)
    record = dict(base.manifest.get("export") or {})
    record.pop("reused_from", None)
    result = load(ExportResult, record)
    shutil.copyfile(baseline / MODEL, b.out / MODEL)
    session = session_for(b.out / MODEL)
    X, _ = b.dataset.xy("test")
    spec = [(i["name"], i["kind"]) for i in result.inputs]
    classes = base.manifest.get("classes") if b.task == "classification" else None
    with _predicting("onnxruntime"):
        pred = onnx_predictions(
            session, feeds(X, spec, result.precision), b.task, classes, result.probabilities
        )
    proba = pred.proba if pred.proba is not None else np.zeros((0, 0))
    np.savez(b.state_path(PREDICTIONS), pred=pred.pred, proba=proba)
    result.reused_from = {"label": base.label, "commit": base.identity.get("commit")}
    result.seconds = time.perf_counter() - t0
    b.record("export", result, result.seconds)
    b.write_manifest()
    b.seal("export")
    return result


@contextlib.contextmanager
def _predicting(runtime: str) -> Iterator[None]:
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


def _final_step(est: Any) -> Any:
    while hasattr(est, "steps"):
        est = est.steps[-1][1]
    return est


def predict_is_argmax(est: Any) -> bool:
    final = _final_step(est)
    cls = type(final)
    return cls.__module__.startswith("sklearn.") and cls.__name__ in PREDICT_IS_ARGMAX


def sklearn_predictions(est: Any, X: pd.DataFrame, task: str) -> Predictions:
    """scikit-learn's predictions on X, each method called once."""
    import numpy as np

    from ci_ml.stages.evaluate import encode_labels

    if task != "classification":
        return Predictions(np.asarray(est.predict(X), dtype=np.float64).ravel())
    if not hasattr(est, "predict_proba"):
        return Predictions(encode_labels(est.predict(X), list(est.classes_)))
    proba = np.asarray(est.predict_proba(X), dtype=np.float64)
    if predict_is_argmax(est):
        return Predictions(proba.argmax(axis=1).astype(np.int64), proba)
    return Predictions(encode_labels(est.predict(X), list(est.classes_)), proba)


def onnx_predictions(
    session: Any, inputs: dict[str, Any], task: str, classes: list[Any] | None, probabilities: bool
) -> Predictions:
    """The ONNX model's predictions, in the same encoding as `sklearn_predictions`."""
    import numpy as np

    from ci_ml.stages.evaluate import encode_labels

    outs = session.run(None, inputs)
    if task != "classification":
        return Predictions(np.asarray(outs[0], dtype=np.float64).ravel())
    pred = encode_labels(np.asarray(outs[0]).ravel(), classes or [])
    proba = np.asarray(outs[1], dtype=np.float64) if probabilities and len(outs) > 1 else None
    return Predictions(pred, proba)


def _takes_named_columns(est: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    while isinstance(est, Pipeline):
        est = est.steps[0][1]
    return isinstance(est, ColumnTransformer)


def _is_numeric(s: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def input_spec(X: pd.DataFrame, est: Any) -> list[tuple[str, str]]:
    """[(input name, 'numeric'|'string')]; a single ('input', 'numeric') for a plain matrix."""
    numeric = {c: _is_numeric(X[c]) for c in X.columns}
    if not _takes_named_columns(est) and all(numeric.values()):
        return [("input", "numeric")]
    return [(str(c), "numeric" if numeric[c] else "string") for c in X.columns]


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


def _initial_types(
    spec: list[tuple[str, str]], n_features: int, precision: str
) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    num = DoubleTensorType if precision == "double" else FloatTensorType
    if spec == [("input", "numeric")]:
        return [("input", num([None, n_features]))]
    return [
        (name, num([None, 1]) if kind == "numeric" else StringTensorType([None, 1]))
        for name, kind in spec
    ]


def _nested(est: Any) -> list[Any]:
    """`est` and every estimator inside it, once each: pipeline steps, column
    transformers' parts, estimator-valued params, (name, estimator) lists."""
    seen: dict[int, Any] = {}

    def walk(obj: Any) -> None:
        if not hasattr(obj, "get_params") or id(obj) in seen:
            return
        seen[id(obj)] = obj
        children: list[Any] = [s[1] for s in getattr(obj, "steps", None) or []]
        children += [t[1] for t in getattr(obj, "transformers_", None) or []]
        for v in obj.get_params(deep=False).values():
            if isinstance(v, list):  # VotingClassifier(estimators=[(name, est), ...])
                children += [i[1] for i in v if isinstance(i, tuple) and len(i) == 2]
            else:
                children.append(v)
        for child in children:
            walk(child)

    walk(est)
    return list(seen.values())


def _classifier_options(est: Any) -> dict[int, dict[str, Any]]:
    """zipmap off for every probabilistic classifier inside the estimator (pipelines
    nest them); converters of classifiers without probabilities reject the option."""
    from sklearn.base import is_classifier

    return {
        id(o): {"zipmap": False}
        for o in _nested(est)
        if is_classifier(o) and not hasattr(o, "steps") and hasattr(o, "predict_proba")
    }


def _uses_float32_trees(est: Any) -> bool:
    """scikit-learn's classic trees compare float32(x) with their thresholds;
    HistGradientBoosting compares float64 x. Mirror whichever the model does."""
    classic = ("DecisionTree", "ExtraTree", "RandomForest", "ExtraTrees", "GradientBoosting")
    return any(type(o).__name__.startswith(classic) for o in _nested(est))


def _find(est: Any, prefix: str) -> list[Any]:
    """Every estimator inside `est` whose class name starts with prefix."""
    return [o for o in _nested(est) if type(o).__name__.startswith(prefix)]


def _exact_hgb_thresholds(model: Any, est: Any) -> bool:
    """Give a HistGradientBoosting tree node its thresholds in double precision.

    skl2onnx writes them as float32 (`nodes_values`), but HistGradientBoosting
    compares float64 inputs with float64 thresholds that are often data values
    themselves, so x == threshold rows flip once the threshold is rounded.
    ai.onnx.ml opset 3 takes double thresholds (`nodes_values_as_tensor`).
    The mapping from ONNX (tree, node) to the model's predictors is checked
    value by value; on any doubt nothing is changed and parity decides."""
    import numpy as np
    from onnx import helper, numpy_helper

    hgbs = _find(est, "HistGradientBoosting")
    trees = [
        n
        for n in model.graph.node
        if n.domain == "ai.onnx.ml" and n.op_type.startswith("TreeEnsemble")
    ]
    if len(hgbs) != 1 or len(trees) != 1:
        return False
    node = trees[0]
    attrs = {a.name: a for a in node.attribute}
    if "nodes_values" not in attrs:
        return False
    predictors = [p for iteration in hgbs[0]._predictors for p in iteration]
    tree_ids, node_ids = list(attrs["nodes_treeids"].ints), list(attrs["nodes_nodeids"].ints)
    modes = list(attrs["nodes_modes"].strings)
    old = np.array(attrs["nodes_values"].floats, dtype=np.float32)
    exact = np.zeros(len(old), dtype=np.float64)
    for j, (t, n, mode) in enumerate(zip(tree_ids, node_ids, modes, strict=True)):
        if mode == b"LEAF":
            continue
        if t >= len(predictors) or n >= len(predictors[t].nodes):
            return False
        th = float(predictors[t].nodes[n]["num_threshold"])
        if np.float32(th) != old[j]:
            return False
        exact[j] = th
    kept = [a for a in node.attribute if a.name != "nodes_values"]
    del node.attribute[:]
    node.attribute.extend(kept)
    node.attribute.append(
        helper.make_attribute("nodes_values_as_tensor", numpy_helper.from_array(exact))
    )
    # The tensor attribute exists from ai.onnx.ml opset 3 on; skl2onnx declares the
    # lowest version its own attributes need (1), under which the checker rejects it.
    for imp in model.opset_import:
        if imp.domain == "ai.onnx.ml" and imp.version < DEFAULT_ML_OPSET:
            imp.version = DEFAULT_ML_OPSET
    return True


def _cast_tree_outputs(model: Any, round_inputs: bool) -> Any:
    from onnx import TensorProto, helper

    g = model.graph
    declared = {v.name: v.type.tensor_type.elem_type for v in [*g.output, *g.value_info]}
    nodes = []
    for node in g.node:
        is_tree = node.domain == "ai.onnx.ml" and node.op_type in (
            "TreeEnsembleRegressor",
            "TreeEnsembleClassifier",
        )
        if is_tree and round_inputs:
            # double -> float -> double: x rounded exactly as scikit-learn's trees round it.
            src = node.input[0]
            nodes.append(
                helper.make_node(
                    "Cast",
                    [src],
                    [f"{node.name}_x32"],
                    to=TensorProto.FLOAT,
                    name=f"{node.name}_x_to_float",
                )
            )
            nodes.append(
                helper.make_node(
                    "Cast",
                    [f"{node.name}_x32"],
                    [f"{node.name}_x64"],
                    to=TensorProto.DOUBLE,
                    name=f"{node.name}_x_to_double",
                )
            )
            node.input[0] = f"{node.name}_x64"
        nodes.append(node)
        i = 0 if node.op_type == "TreeEnsembleRegressor" else 1
        # Some converters already declare a float output (RandomForestClassifier's
        # probabilities); only a double-declared one needs the Cast.
        if is_tree and declared.get(node.output[i], TensorProto.DOUBLE) == TensorProto.DOUBLE:
            original = node.output[i]
            node.output[i] = f"{original}_f32"
            nodes.append(
                helper.make_node(
                    "Cast",
                    [f"{original}_f32"],
                    [original],
                    to=TensorProto.DOUBLE,
                    name=f"{node.name}_to_double",
                )
            )
    del g.node[:]
    g.node.extend(nodes)
    return model


def convert(
    est: Any, X: pd.DataFrame, target_opset: int | None
) -> tuple[Any, str, list[tuple[str, str]]]:
    """(onnx model, precision, input spec); raises ExportError naming the estimator."""
    import warnings

    import onnx
    import onnxruntime as ort
    from skl2onnx import convert_sklearn

    spec = input_spec(X, est)
    opset: dict[str, int] = {"ai.onnx.ml": DEFAULT_ML_OPSET}
    if target_opset:
        opset[""] = target_opset
    last_error: Exception | None = None
    for precision in ("double", "float"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = convert_sklearn(
                    est,
                    initial_types=_initial_types(spec, X.shape[1], precision),
                    options=_classifier_options(est) or None,
                    custom_conversion_functions=custom_converters(precision),
                    target_opset=opset
                    if "" in opset
                    else {"ai.onnx.ml": opset["ai.onnx.ml"], **_default_opset()},
                )
        except Exception as e:  # skl2onnx raises RuntimeError, NameError, MissingShapeCalculator...
            last_error = e
            if (
                "Unable to find a shape calculator" in str(e)
                or "MissingShapeCalculator" in type(e).__name__
            ):
                break
            continue
        if precision == "double":
            model = _cast_tree_outputs(model, _uses_float32_trees(est))
            _exact_hgb_thresholds(model, est)
        canonical(model)
        try:
            onnx.checker.check_model(model)
            ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT has no double kernel for this op: try float
            last_error = e
            continue
        return model, precision, spec
    name = describe_estimator(est)
    raise ExportError(
        f"cannot export {name} to ONNX: {str(last_error).strip().splitlines()[0] if last_error else 'unknown error'}",
        hint="see the README's list of supported estimators; skl2onnx converts scikit-learn's built-in "
        "estimators and transformers, not custom classes or FunctionTransformer",
    )


def canonical(model: Any) -> None:
    """Remove what makes two exports of one model differ byte for byte: skl2onnx
    names the graph with a random uuid and lists opset imports in set order, which
    follows the process's string hash seed (sometimes one domain twice): one entry
    per domain, sorted. Doc strings (free text some converters fill) are dropped."""
    model.graph.name = "ci_ml_model"
    model.doc_string = ""
    model.graph.doc_string = ""
    for node in model.graph.node:
        node.doc_string = ""
    versions: dict[str, int] = {}
    for o in model.opset_import:  # skl2onnx can list a domain twice
        versions[o.domain] = max(versions.get(o.domain, 0), o.version)
    del model.opset_import[:]
    for domain in sorted(versions):
        model.opset_import.add(domain=domain, version=versions[domain])


def describe(model: Any, facts: dict[str, str]) -> None:
    """Write `facts` into the model's metadata_props, sorted by key, replacing any
    there: a downloaded model.onnx says what it is and what made it."""
    del model.metadata_props[:]
    for key in sorted(facts):
        model.metadata_props.add(key=key, value=str(facts[key]))


def model_metadata(path_or_bytes: Path | bytes) -> dict[str, str]:
    """The metadata_props of an ONNX file, without loading its weights into a runtime."""
    import onnx

    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    model = onnx.load_from_string(data)
    return {p.key: p.value for p in model.metadata_props}


def _default_opset() -> dict[str, int]:
    from skl2onnx import get_latest_tested_opset_version

    return {"": int(get_latest_tested_opset_version())}


def parity(
    reference: Predictions, onnx: Predictions, task: str, tolerance: float
) -> dict[str, Any]:
    """Compare scikit-learn and onnxruntime on every row: labels identical,
    probabilities / predictions within `tolerance` (absolute, or relative for
    large values)."""
    if task == "classification":
        return _classification_parity(reference, onnx, tolerance)
    import numpy as np

    sk, ox = reference.pred, onnx.pred
    diff = np.abs(ox - sk)
    scale = np.maximum(1.0, np.abs(sk))
    bad = int(np.sum(diff > tolerance * scale))
    return {
        "rows": int(sk.shape[0]),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "max_rel_diff": float((diff / scale).max()) if diff.size else 0.0,
        "rows_beyond_tolerance": bad,
        "tolerance": tolerance,
        "compared": "predictions",
        "passed": bad == 0,
    }


def _classification_parity(
    reference: Predictions, onnx: Predictions, tolerance: float
) -> dict[str, Any]:
    import numpy as np

    differ = reference.pred != onnx.pred
    sk_proba = reference.proba
    if sk_proba is not None and sk_proba.shape[1] > 1:
        # A row whose top two probabilities tie (within tolerance) has no single right
        # label: argmax tie-breaking differs between runtimes. Count those apart.
        top2 = np.partition(sk_proba, -2, axis=1)[:, -2:]
        tied = (top2[:, 1] - top2[:, 0]) <= tolerance
    else:
        tied = np.zeros(differ.shape[0], dtype=bool)
    mismatches = int(np.sum(differ & ~tied))
    if sk_proba is not None and onnx.proba is not None:
        diff = np.abs(onnx.proba - sk_proba)
    else:
        diff = np.zeros(0)
    max_abs = float(diff.max()) if diff.size else 0.0
    return {
        "rows": int(differ.shape[0]),
        "label_mismatches": mismatches,
        "tied_rows_differing": int(np.sum(differ & tied)),
        "max_abs_diff": max_abs,
        "tolerance": tolerance,
        "compared": "labels and probabilities" if diff.size else "labels",
        "passed": bool(mismatches == 0 and max_abs <= tolerance),
    }


def session_for(path_or_bytes: Path | bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    src = str(path_or_bytes) if isinstance(path_or_bytes, Path) else path_or_bytes
    return ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])


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
    path = out / MODEL
    data = model.SerializeToString()
    path.write_bytes(data)
    session = session_for(data)
    probabilities = task == "classification" and hasattr(est, "predict_proba")
    result = ExportResult(
        path=path.name,
        bytes=len(data),
        precision=precision,
        inputs=[{"name": n, "kind": k} for n, k in spec],
        outputs=[o.name for o in session.get_outputs()],
        opset={(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        probabilities=probabilities,
    )
    classes = list(est.classes_) if task == "classification" else None
    inputs = feeds(X, spec, precision)
    with _predicting("scikit-learn"):
        reference = sklearn_predictions(est, X, task)
    with _predicting("onnxruntime"):
        onnx_pred = onnx_predictions(session, inputs, task, classes, probabilities)
    result.parity = parity(reference, onnx_pred, task, tolerance)
    # Latency: one batch of (up to) 1,000 holdout rows, best of three.
    sample = {k: v[:1000] for k, v in inputs.items()}
    best = min(_timed(session, sample) for _ in range(3))
    result.latency_ms_per_1k_rows = round(best * 1000 * 1000 / max(min(len(X), 1000), 1), 3)
    result.seconds = time.perf_counter() - t0
    return result, onnx_pred


def check_parity(result: ExportResult, est: Any, task: str) -> None:
    """Raise ParityError when the parity check failed (call after writing the results)."""
    p = result.parity
    if p.get("passed"):
        return
    detail = (
        f"{p.get('label_mismatches', 0)} label(s) differ, max |Δ| {p['max_abs_diff']:.3g}"
        if task == "classification"
        else f"{p['rows_beyond_tolerance']} row(s) beyond tolerance, max |Δ| {p['max_abs_diff']:.3g}"
    )
    raise ParityError(
        f"the ONNX export of {describe_estimator(est)} does not predict like scikit-learn on the holdout set: "
        f"{detail} (tolerance {p['tolerance']:g}); model.onnx was kept for inspection",
        hint="raise export.tolerance if the differences are float rounding, or see the README on "
        "estimators that export imprecisely (e.g. a scaler before HistGradientBoosting)",
    )


def _timed(session: Any, f: dict[str, Any]) -> float:
    t = time.perf_counter()
    session.run(None, f)
    return time.perf_counter() - t
