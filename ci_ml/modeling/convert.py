"""Converting a fitted scikit-learn model to ONNX.

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

from typing import TYPE_CHECKING, Any

from ci_ml.errors import ExportError
from ci_ml.modeling.boosters import register_for
from ci_ml.modeling.converters import custom_converters
from ci_ml.modeling.estimator import describe_estimator
from ci_ml.modeling.libraries import library_of

if TYPE_CHECKING:
    import pandas as pd


DEFAULT_ML_OPSET = 3


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
    """scikit-learn's classic trees compare float32(x) with their thresholds, and so
    do XGBoost and CatBoost; HistGradientBoosting and LightGBM compare float64 x.
    Mirror whichever the model does."""
    classic = ("DecisionTree", "ExtraTree", "RandomForest", "ExtraTrees", "GradientBoosting")
    for o in _nested(est):
        lib = library_of(o)
        if (lib is None and type(o).__name__.startswith(classic)) or (lib and lib.float32_inputs):
            return True
    return False


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
    register_for(_nested(est))
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
        except ExportError:  # ci-ml's own converters know what to say
            raise
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
        hint="see the supported estimators in the docs (guide/build.md); skl2onnx converts scikit-learn's built-in "
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


def _default_opset() -> dict[str, int]:
    from skl2onnx import get_latest_tested_opset_version

    return {"": int(get_latest_tested_opset_version())}
