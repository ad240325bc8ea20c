"""A small neural network trained by `model.command` (examples/command-nn/README.md):
one hidden layer, trained with full-batch gradient descent in plain NumPy, seeded,
written to ONNX with onnx.helper. No deep-learning framework needed.

ci-ml runs it as `{python} train.py --out {model_dir}` with the training rows in
$CI_ML_TRAIN_DATA (Parquet: the features and the target), their facts in
CI_ML_FEATURES, CI_ML_TARGET, CI_ML_CLASSES and CI_ML_SEED, and model.params in
CI_ML_PARAMS (JSON). It writes model.onnx and params.json into --out.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper

DEFAULTS = {"hidden": 16, "epochs": 400, "learning_rate": 0.1, "l2": 1e-4}


def train(X: np.ndarray, y: np.ndarray, n_classes: int, hp: dict, seed: int):
    """Full-batch gradient descent on the softmax cross-entropy of a tanh MLP."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    h = int(hp["hidden"])
    W1 = rng.normal(0, 1 / np.sqrt(d), (d, h))
    b1 = np.zeros(h)
    W2 = rng.normal(0, 1 / np.sqrt(h), (h, n_classes))
    b2 = np.zeros(n_classes)
    onehot = np.eye(n_classes)[y]
    lr, l2 = float(hp["learning_rate"]), float(hp["l2"])
    for epoch in range(int(hp["epochs"])):
        a = np.tanh(X @ W1 + b1)
        logits = a @ W2 + b2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / n  # d loss / d logits
        gW2 = a.T @ g + l2 * W2
        ga = (g @ W2.T) * (1 - a**2)
        gW1 = X.T @ ga + l2 * W1
        W2 -= lr * gW2
        b2 -= lr * g.sum(axis=0)
        W1 -= lr * gW1
        b1 -= lr * ga.sum(axis=0)
        if epoch % 100 == 0:
            loss = -np.log(np.clip((p * onehot).sum(axis=1), 1e-12, None)).mean()
            print(f"epoch {epoch}: loss {loss:.4f}")
    return W1, b1, W2, b2


def to_onnx(mean, std, W1, b1, W2, b2, classes: list) -> onnx.ModelProto:
    """The network as an ONNX graph: standardise, hidden layer, softmax; outputs the
    label (as the data spells it) and the probabilities (columns in CI_ML_CLASSES' order)."""
    f32 = lambda a, name: numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)  # noqa: E731
    labels = numpy_helper.from_array(np.array([str(c) for c in classes], dtype=object), "classes")
    nodes = [
        helper.make_node("Sub", ["input", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "W1"], ["z1"]),
        helper.make_node("Add", ["z1", "b1"], ["z1b"]),
        helper.make_node("Tanh", ["z1b"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "W2"], ["z2"]),
        helper.make_node("Add", ["z2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0),
        helper.make_node("Gather", ["classes", "index"], ["label"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, len(mean)])],
        [
            helper.make_tensor_value_info("label", TensorProto.STRING, [None]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(classes)]),
        ],
        [
            f32(mean, "mean"),
            f32(std, "std"),
            f32(W1, "W1"),
            f32(b1, "b1"),
            f32(W2, "W2"),
            f32(b2, "b2"),
            labels,
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="command-nn"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    hp = {**DEFAULTS, **json.loads(os.environ.get("CI_ML_PARAMS") or "{}")}
    seed = int(os.environ["CI_ML_SEED"])
    features = json.loads(os.environ["CI_ML_FEATURES"])
    classes = json.loads(os.environ["CI_ML_CLASSES"])
    data = pd.read_parquet(os.environ["CI_ML_TRAIN_DATA"])
    X = data[features].to_numpy(dtype=np.float64)
    y = pd.Index([str(c) for c in classes]).get_indexer(
        data[os.environ["CI_ML_TARGET"]].astype(str)
    )
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-9
    weights = train((X - mean) / std, y, len(classes), hp, seed)
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(to_onnx(mean, std, *weights, classes), args.out / "model.onnx")
    (args.out / "params.json").write_text(json.dumps(hp, sort_keys=True) + "\n")
    print(f"wrote {args.out / 'model.onnx'}: {len(features)} features, hidden {hp['hidden']}")


if __name__ == "__main__":
    main()
