"""What a project's own model tests see: the shipped ONNX model as an object
that predicts on DataFrames (`OnnxModel`), and the pytest plugin that hands it
and the build's data to test functions (ci_ml.testing.plugin; pytest is the
optional extra `ci-ml[pytest]`)."""

from ci_ml.scoring.model import OnnxModel

__all__ = ["OnnxModel"]
