"""The floor: a bare hand-written script doing the observable work a user wants
from a PR check, and nothing else: read the data, fit, predict the holdout,
compute the metrics, convert to ONNX with skl2onnx (its default float inputs: double thresholds
for HistGradientBoosting take graph surgery that ci-ml does and a user's
script would not) and check parity with onnxruntime on every holdout row.

    python benchmarks/bare.py TRAIN TEST PARAMS_JSON OUT_DIR

Prints one JSON line: the wall time from the first line of this file, the fit
time, and each step's time. Run as a file (not `-m`) so it imports nothing of
ci-ml or of the benchmark package.
"""

import time

T0 = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import pandas as pd  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn import metrics as M  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

steps = {"imports": time.perf_counter() - T0}


def lap(name: str, since: float) -> float:
    now = time.perf_counter()
    steps[name] = now - since
    return now


def read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


train_path, test_path, params, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
t = time.perf_counter()
train, test = read(train_path), read(test_path)
X, y = train.drop(columns="label"), train["label"].to_numpy()
Xt, yt = test.drop(columns="label"), test["label"].to_numpy()
t = lap("read", t)

model = HistGradientBoostingClassifier(**params, random_state=0)
model.fit(X, y)
t = lap("fit", t)

proba = model.predict_proba(Xt)
pred = model.classes_[proba.argmax(1)]
metrics = {
    "accuracy": M.accuracy_score(yt, pred),
    "balanced_accuracy": M.balanced_accuracy_score(yt, pred),
    "f1_macro": M.f1_score(yt, pred, average="macro"),
    "precision_macro": M.precision_score(yt, pred, average="macro"),
    "recall_macro": M.recall_score(yt, pred, average="macro"),
    "roc_auc": M.roc_auc_score(yt, proba[:, 1]),
    "log_loss": M.log_loss(yt, proba),
}
t = lap("predict_metrics", t)

onx = to_onnx(
    model,
    X[:1].to_numpy(np.float32),
    options={id(model): {"zipmap": False}},
)
blob = onx.SerializeToString()
with open(out + "/model.onnx", "wb") as fh:
    fh.write(blob)
t = lap("convert", t)

sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
labels, probs = sess.run(None, {sess.get_inputs()[0].name: Xt.to_numpy(np.float32)})
same = float((labels == pred).mean())
diff = float(np.abs(probs - proba).max())
# float32 inputs flip the rare row that sits on a threshold: labels only, as users check.
if same < 0.999:
    sys.exit(f"parity failed: {same:.4%} labels equal, max probability difference {diff:.3g}")
t = lap("parity", t)

print(json.dumps({
    "wall": time.perf_counter() - T0, "fit": steps["fit"], "steps": steps,
    "metrics": metrics, "parity": {"labels_equal": same, "max_abs_diff": diff},
}))  # fmt: skip
