"""Scoring models: ONNX sessions and their inputs, predictions as class indexes
and probabilities, the candidate paired with the baseline on the same rows."""
