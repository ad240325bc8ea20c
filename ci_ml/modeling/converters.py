"""skl2onnx converters that ci-ml replaces so a model exports in double precision.

skl2onnx turns a numeric `SimpleImputer` into the ai.onnx.ml `Imputer` op,
which onnxruntime implements for float only, and whose fill values are float
attributes: a pipeline with an imputer could only export in float, with its
medians rounded. Here a numeric imputer on a double input becomes
`Where(IsNaN(x), fill, x)` with the fill values as a double initializer, exactly
scikit-learn's statistics. Every other case goes to skl2onnx's own converter.
"""

from __future__ import annotations

import math
from typing import Any


def _nan_missing(op: Any) -> bool:
    v = op.missing_values
    return isinstance(v, float) and math.isnan(v)


def convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    import numpy as np
    from skl2onnx.common.data_types import DoubleTensorType
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
    from skl2onnx.proto import onnx_proto

    op = operator.raw_operator
    stats = np.asarray(getattr(op, "statistics_", []))
    exact = (
        len(operator.inputs) == 1
        and isinstance(operator.inputs[0].type, DoubleTensorType)
        and _nan_missing(op)
        and not getattr(op, "add_indicator", False)
        and stats.dtype.kind == "f"
        and not np.isnan(stats).any()  # an all-missing column: skl2onnx knows what to do
    )
    if not exact:
        convert_sklearn_imputer(scope, operator, container)
        return
    x = operator.inputs[0].full_name
    fill = scope.get_unique_variable_name("imputed_values")
    container.add_initializer(
        fill, onnx_proto.TensorProto.DOUBLE, [len(stats)], stats.astype(np.float64).tolist()
    )
    missing = scope.get_unique_variable_name("is_missing")
    container.add_node("IsNaN", [x], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [missing, fill, x],
        operator.output_full_names,
        name=scope.get_unique_operator_name("Impute"),
    )


def custom_converters(precision: str) -> dict[type, Any]:
    """The converters to hand skl2onnx for an export in this precision."""
    if precision != "double":
        return {}
    from sklearn.impute import SimpleImputer

    return {SimpleImputer: convert_imputer}
