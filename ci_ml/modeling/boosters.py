"""ONNX converters for XGBoost, LightGBM and CatBoost, registered with skl2onnx so
that a whole Pipeline (the automatic preprocessing, or a user's) becomes one
graph with the booster in it.

- XGBoost and LightGBM: onnxmltools' converters, with skl2onnx's shape
  calculators. XGBoost's classifier is trained on class indexes (ci-ml encodes
  the labels, ci_ml.modeling.libraries.LABELS keeps them): its converter is
  shown the real labels, so model.onnx predicts them.
- LightGBM compares double features with double split values; onnxmltools
  writes them as float attributes, which moves a split by up to a float's
  rounding. On a double input, the tree's thresholds, leaf weights and base
  values are written as double tensors instead (`*_as_tensor`, from ai.onnx.ml
  opset 3: why ci-ml exports with that opset).
- CatBoost: its own ONNX export (`catboost.utils.convert_to_onnx_object`),
  whose one tree-ensemble node is copied into skl2onnx's graph.

Each library is imported only when a model of it is converted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ci_ml.errors import ExportError
from ci_ml.modeling.libraries import LABELS, library_of

if TYPE_CHECKING:
    from ci_ml.modeling.libraries import Estimator

# skl2onnx's callbacks take (scope, operator, container), objects it defines.
Converter = Callable[[object, object, object], None]
_registered: set[str] = set()
# ai.onnx.ml attributes of a tree ensemble that have a double-tensor twin.
_AS_TENSOR = ("nodes_values", "target_weights", "class_weights", "base_values")


def _onnxmltools(lib: str) -> None:
    import importlib.util

    if importlib.util.find_spec("onnxmltools") is None:
        raise ExportError(
            f"exporting a {lib} model needs onnxmltools, which is not installed",
            hint=f"pip install 'ci-ml[{lib}]' (it installs {lib} with its ONNX converter)",
        )


def _labels(operator: object) -> object:
    """The real labels of a classifier ci-ml trained on class indexes (None: other)."""
    return getattr(operator.raw_operator, LABELS, None)  # type: ignore[attr-defined]


# skl2onnx counts the parameters of what it is given: one wrapper per signature.
def _relabelled_shapes(func: Callable[[object], None]) -> Callable[[object], None]:
    """A shape calculator whose label output has the real labels' type."""

    def run(operator: object) -> None:
        from skl2onnx.common.data_types import StringTensorType

        func(operator)
        labels = _labels(operator)
        if labels is not None and labels.dtype.kind in "OUS":  # type: ignore[attr-defined]
            label = operator.outputs[0]  # type: ignore[attr-defined]
            label.type = StringTensorType(shape=label.type.shape)

    return run


def _relabelled(func: Converter) -> Converter:
    """A converter whose TreeEnsembleClassifier predicts the real labels instead of
    the class indexes the model was trained on."""

    def run(scope: object, operator: object, container: object) -> None:
        import numpy as np
        from onnx import helper

        nodes = container.nodes  # type: ignore[attr-defined]
        first = len(nodes)
        func(scope, operator, container)
        labels = _labels(operator)
        if labels is None:
            return
        values = np.asarray(labels)
        if values.dtype.kind in "OUS":
            attr = helper.make_attribute(
                "classlabels_strings", [str(v).encode("utf-8") for v in values]
            )
        else:
            attr = helper.make_attribute("classlabels_int64s", [int(v) for v in values])
        for node in nodes[first:]:
            if node.op_type == "TreeEnsembleClassifier":
                kept = [a for a in node.attribute if not a.name.startswith("classlabels_")]
                del node.attribute[:]
                node.attribute.extend([*kept, attr])

    return run


def _unnamed_features(func: Converter) -> Converter:
    """onnxmltools reads XGBoost's splits by feature name and understands only
    `f0`, `f1`...: a model fitted on a DataFrame is converted with its booster's
    names set aside (its features are the input's columns, in order, either way)."""

    def run(scope: object, operator: object, container: object) -> None:
        booster = operator.raw_operator.get_booster()  # type: ignore[attr-defined]
        names = booster.feature_names
        booster.feature_names = None
        try:
            func(scope, operator, container)
        finally:
            booster.feature_names = names

    return run


def _double_trees(func: Converter) -> Converter:
    """`func` (a converter) with its tree ensembles' values written as double
    tensors when the operator's input is double."""

    def run(scope: object, operator: object, container: object) -> None:
        import numpy as np
        from onnx import numpy_helper
        from skl2onnx.common.data_types import DoubleTensorType

        inputs = operator.inputs  # type: ignore[attr-defined]
        if not all(isinstance(i.type, DoubleTensorType) for i in inputs):
            func(scope, operator, container)
            return
        add_node = container.add_node  # type: ignore[attr-defined]

        def add(op_type: str, *args: object, **attrs: object) -> object:
            if op_type.startswith("TreeEnsemble"):
                for name in _AS_TENSOR:
                    if name in attrs:
                        values = np.asarray(attrs.pop(name), dtype=np.float64)
                        attrs[f"{name}_as_tensor"] = numpy_helper.from_array(values)
            return add_node(op_type, *args, **attrs)

        container.add_node = add  # type: ignore[attr-defined]
        try:
            func(scope, operator, container)
        finally:
            del container.add_node  # type: ignore[attr-defined]

    return run


def _catboost(scope: object, operator: object, container: object) -> None:
    """CatBoost's own ONNX export of the model, its tree-ensemble node copied
    into this graph on this operator's input and outputs."""
    from catboost.utils import convert_to_onnx_object
    from onnx import helper

    model = operator.raw_operator  # type: ignore[attr-defined]
    graph = convert_to_onnx_object(model).graph
    trees = [n for n in graph.node if n.op_type.startswith("TreeEnsemble")]
    if len(trees) != 1 or graph.initializer:
        raise ExportError(
            f"cannot export {type(model).__name__}: CatBoost's ONNX export is not one tree ensemble",
            hint="CatBoost exports numeric features only: encode text columns with "
            "`model.preprocess: auto` and leave cat_features, text_features and "
            "embedding_features unset",
        )
    node = trees[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "TreeEnsembleClassifier":
        attrs.pop("classlabels_strings", None)
        attrs.pop("classlabels_int64s", None)
        labels = list(model.classes_)
        if all(isinstance(c, str) for c in labels):
            attrs["classlabels_strings"] = [c.encode("utf-8") for c in labels]
        else:
            attrs["classlabels_int64s"] = [int(c) for c in labels]
    container.add_node(  # type: ignore[attr-defined]
        node.op_type,
        [operator.inputs[0].full_name],  # type: ignore[attr-defined]
        operator.output_full_names,  # type: ignore[attr-defined]
        op_domain="ai.onnx.ml",
        op_version=1,
        name=scope.get_unique_operator_name("CatBoost"),  # type: ignore[attr-defined]
        **attrs,
    )


def _register_xgboost() -> None:
    _onnxmltools("xgboost")
    import xgboost
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        xgboost.XGBClassifier,
        "XGBoostXGBClassifier",
        _relabelled_shapes(calculate_linear_classifier_output_shapes),
        _relabelled(_unnamed_features(convert_xgboost)),
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        xgboost.XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        _unnamed_features(convert_xgboost),
    )


def _register_lightgbm() -> None:
    _onnxmltools("lightgbm")
    import lightgbm
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        lightgbm.LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        _double_trees(convert_lightgbm),
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        lightgbm.LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        _double_trees(convert_lightgbm),
        options={"split": None},
    )


def _parse_catboost_classifier(
    scope: object, model: object, inputs: list[object], custom_parsers: object = None
) -> list[object]:
    """A label and a probability output (skl2onnx's own parser takes CatBoost,
    which is no scikit-learn ClassifierMixin, for a one-output model). No ZipMap:
    ci-ml exports plain probability tensors."""
    from skl2onnx._supported_operators import _get_sklearn_operator_name
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType

    operator = scope.declare_local_operator(_get_sklearn_operator_name(type(model)), model)  # type: ignore[attr-defined]
    operator.inputs = inputs
    for name, kind in (("label", Int64TensorType), ("probabilities", FloatTensorType)):
        operator.outputs.append(scope.declare_local_variable(name, kind()))  # type: ignore[attr-defined]
    return list(operator.outputs)


def _register_catboost() -> None:
    import catboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        catboost.CatBoostClassifier,
        "CatBoostCatBoostClassifier",
        calculate_linear_classifier_output_shapes,
        _catboost,
        parser=_parse_catboost_classifier,
        options={"zipmap": [False], "nocl": [False]},
    )
    update_registered_converter(
        catboost.CatBoostRegressor,
        "CatBoostCatBoostRegressor",
        calculate_linear_regressor_output_shapes,
        _catboost,
    )


_REGISTER: dict[str, Callable[[], None]] = {
    "xgboost": _register_xgboost,
    "lightgbm": _register_lightgbm,
    "catboost": _register_catboost,
}


def register_for(parts: list[Estimator]) -> None:
    """Register the converters of every library these estimators come from (once
    per process)."""
    for part in parts:
        lib = library_of(part)
        if lib is not None and lib.module not in _registered:
            _REGISTER[lib.module]()
            _registered.add(lib.module)
