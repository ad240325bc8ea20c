"""ci-ml: a build system for machine-learning pull requests.

Importing the package is cheap on purpose: heavy libraries (pandas,
scikit-learn, onnx, pandera) are imported inside the stages that need them,
so `ci-ml --help` starts fast.
"""

__version__ = "0.1.0"
