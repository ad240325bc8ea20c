"""Making the model: the estimator from the config (import path or factory),
seeded and fitted; the automatic preprocessing in front of it; its conversion to
ONNX, and the parity check against scikit-learn."""
