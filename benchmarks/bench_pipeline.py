"""Pipeline overhead at scale: ci-ml's wall time minus the estimator's fit,
against a bare hand-written script doing the same steps (read CSV, fit,
predict, metrics, ONNX export, onnxruntime check), measured in one run.

    python benchmarks/bench_pipeline.py [--rows 1000000]

Budget (see DESIGN.md): overhead a small fraction of the fit, and within 2x
of the bare script's overhead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

BARE = r"""
import sys, time, json
import numpy as np, pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score, log_loss, f1_score
from skl2onnx import to_onnx
import onnxruntime as ort
t0 = time.perf_counter()
d = sys.argv[1]
train, test = pd.read_csv(d + "/train.csv"), pd.read_csv(d + "/test.csv")
X, y = train.drop(columns="label"), train["label"]
Xt, yt = test.drop(columns="label"), test["label"]
m = HistGradientBoostingClassifier(max_iter=100, random_state=0)
f0 = time.perf_counter(); m.fit(X, y); fit = time.perf_counter() - f0
p = m.predict_proba(Xt); pred = m.classes_[p.argmax(1)]
metrics = dict(acc=accuracy_score(yt, pred), auc=roc_auc_score(yt, p[:, 1]), ll=log_loss(yt, p), f1=f1_score(yt, pred, average="macro"))
onx = to_onnx(m, X[:1].to_numpy(np.float32), options={id(m): {"zipmap": False}})
sess = ort.InferenceSession(onx.SerializeToString())
out = sess.run(None, {"X": Xt.to_numpy(np.float32)})
assert (out[0] == pred).mean() > 0.99
print(json.dumps({"wall": time.perf_counter() - t0, "fit": fit}))
"""

CONFIG = """
data: {train: train.csv, test: test.csv, target: label}
task: classification
model:
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 100}
schema: schema.yaml
"""


def make_data(d: Path, rows: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 10)).round(5)
    logit = X[:, 0] - 0.8 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(label=y)
    cut = int(rows * 0.8)
    df.iloc[:cut].to_csv(d / "train.csv", index=False)
    df.iloc[cut:].to_csv(d / "test.csv", index=False)
    (d / "ci-ml.yaml").write_text(CONFIG)
    with open(d / "schema.yaml", "w") as fh:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ci_ml",
                "schema",
                "infer",
                "--data",
                str(d / "test.csv"),
                "--target",
                "label",
            ],
            stdout=fh,
            check=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_data(d, args.rows)
        t = time.perf_counter()
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "ci_ml",
                "run",
                "--config",
                str(d / "ci-ml.yaml"),
                "--out",
                str(d / "out"),
            ],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"ci-ml run failed ({r.returncode}):\n{r.stderr}")
        timings = json.loads((d / "out/_build/timings.json").read_text())
        fit = json.loads((d / "out/_build/train.json").read_text())["fit_seconds"]
        t = time.perf_counter()
        bare = json.loads(
            subprocess.run(
                [sys.executable, "-c", BARE, str(d)], check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        bare_wall = time.perf_counter() - t  # includes interpreter start and imports, like ci-ml's
        ours_over, bare_over = wall - fit, bare_wall - bare["fit"]
        print(
            f"rows: {args.rows:,} (80% train, 20% holdout), HistGradientBoostingClassifier(max_iter=100)"
        )
        print("| | wall (s) | fit (s) | overhead (s) | overhead / fit |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(f"| ci-ml run | {wall:.1f} | {fit:.1f} | {ours_over:.1f} | {ours_over / fit:.2f} |")
        print(
            f"| bare script | {bare_wall:.1f} | {bare['fit']:.1f} | {bare_over:.1f} | {bare_over / bare['fit']:.2f} |"
        )
        print(f"\noverhead ratio ci-ml / bare: {ours_over / bare_over:.2f}x")
        print("ci-ml stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


if __name__ == "__main__":
    main()
