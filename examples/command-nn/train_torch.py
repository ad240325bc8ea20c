"""The PyTorch version of train.py (README.md here): the same one-hidden-layer
network, trained with torch and exported with `torch.onnx.export`. ci-ml runs it
like train.py, from a workflow that installs torch first:

    model:
      command: "python train_torch.py --out {model_dir}"   # the python torch is installed in

torch.onnx.export writes the network (features in, probabilities out); the
class label ci-ml reads as the first output is added to the graph after, with
onnx.helper (ArgMax, then the class names), and the exported graph is checked
against the network on the training rows before the model is written.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import torch
from onnx import TensorProto, helper, numpy_helper

DEFAULTS = {"hidden": 16, "epochs": 400, "learning_rate": 0.1, "l2": 1e-4}


class Net(torch.nn.Module):
    """Standardise, tanh hidden layer, softmax: train.py's network."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, hidden: int, classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.hidden = torch.nn.Linear(len(mean), hidden)
        self.out = torch.nn.Linear(hidden, classes)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden((x - self.mean) / self.std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def train(net: Net, X: torch.Tensor, y: torch.Tensor, hp: dict) -> None:
    opt = torch.optim.SGD(
        net.parameters(), lr=float(hp["learning_rate"]), weight_decay=float(hp["l2"])
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(int(hp["epochs"])):
        opt.zero_grad()
        loss = loss_fn(net.logits(X), y)
        loss.backward()
        opt.step()
        if epoch % 100 == 0:
            print(f"epoch {epoch}: loss {loss.item():.4f}")


def export(net: Net, X: torch.Tensor, classes: list, path: Path) -> None:
    """torch.onnx.export, then the label output added with onnx.helper, then the
    graph checked against the network on the training rows."""
    raw = path.with_name("network.onnx")
    net.eval()
    torch.onnx.export(
        net,
        (X[:2],),
        str(raw),
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_axes={"input": {0: "rows"}, "probabilities": {0: "rows"}},
    )
    model = onnx.load(str(raw), load_external_data=True)
    raw.unlink()
    g = model.graph
    g.initializer.append(
        numpy_helper.from_array(np.array([str(c) for c in classes], dtype=object), "classes")
    )
    g.node.append(helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0))
    g.node.append(helper.make_node("Gather", ["classes", "index"], ["label"], axis=0))
    probabilities = list(g.output)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("label", TensorProto.STRING, ["rows"]))
    g.output.extend(probabilities)
    onnx.checker.check_model(model, full_check=True)
    # One file, weights inside: ci-ml refuses a model that reads external data.
    data = model.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": X.numpy()})[1]
    with torch.no_grad():
        want = net(X).numpy()
    gap = float(np.abs(got - want).max())
    if gap > 1e-4:
        raise SystemExit(f"the ONNX graph differs from the network by {gap:g} on the training rows")
    path.write_bytes(data)
    print(f"ONNX export matches the network on {len(X)} rows (max |diff| {gap:.2g})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    hp = {**DEFAULTS, **json.loads(os.environ.get("CI_ML_PARAMS") or "{}")}
    torch.manual_seed(int(os.environ["CI_ML_SEED"]))
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    features = json.loads(os.environ["CI_ML_FEATURES"])
    classes = json.loads(os.environ["CI_ML_CLASSES"])
    data = pd.read_parquet(os.environ["CI_ML_TRAIN_DATA"])
    X = data[features].to_numpy(dtype=np.float32)
    target = data[os.environ["CI_ML_TARGET"]].astype(str)
    y = pd.Index([str(c) for c in classes]).get_indexer(target)
    net = Net(X.mean(axis=0), X.std(axis=0) + 1e-9, int(hp["hidden"]), len(classes))
    Xt = torch.tensor(X)
    train(net, Xt, torch.tensor(y, dtype=torch.long), hp)
    args.out.mkdir(parents=True, exist_ok=True)
    export(net, Xt, classes, args.out / "model.onnx")
    (args.out / "params.json").write_text(json.dumps(hp, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
