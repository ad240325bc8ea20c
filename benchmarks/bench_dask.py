"""The Dask engine (issue 27) as the data grow: `ci-ml run` with `engine: {kind:
dask}` on 1M to 50M generated rows (partitioned Parquet, 1M rows a file, written
one file at a time), against a cluster this script starts (2 worker processes, 1
thread each) and names through `engine.address_env`, so the ci-ml process is the
client alone: its wall, CPU and peak RSS (os.wait4) are the client's. The workers'
peak RSS is read from each worker after the build (a fresh cluster per
build). Writes benchmarks/DASK.md.

    python benchmarks/bench_dask.py [--sizes 1M,5M,10M,20M,50M] [--repeats 1] [--model xgboost] [--out FILE]

`--model xgboost` builds an XGBClassifier instead of LogisticRegression: it trains on
every training row on the cluster (xgboost.dask); its table goes to DASK-xgboost.md
unless --out names another file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import clean_env, default_cache, parse_size  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402

CHUNK = 1_000_000
FEATURES = 8
ADDRESS = "DASK_SCHEDULER_ADDRESS"
OUT = Path(__file__).resolve().parent / "DASK.md"
MODELS = {
    "logistic": "{estimator: sklearn.linear_model.LogisticRegression, seed: 0}",
    "xgboost": "{estimator: xgboost.XGBClassifier, params: {n_estimators: 50, max_depth: 6}, seed: 0}",
}


def chunk(pool: Path, i: int) -> Path:
    """The i-th file of generated rows (made once, kept in the cache)."""
    import numpy as np
    import pandas as pd

    path = pool / f"part-{i:04d}.parquet"
    if not path.is_file():
        rng = np.random.default_rng(1_000 + i)
        X = rng.normal(size=(CHUNK, FEATURES))
        df = pd.DataFrame(X, columns=[f"f{j}" for j in range(FEATURES)])
        noise = rng.logistic(size=CHUNK)
        df["y"] = (X[:, 0] + 0.5 * X[:, 1] - 0.25 * X[:, 2] + noise > 0).astype("int64")
        pool.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(path)
    return path


def project(root: Path, rows: int, model: str = "logistic") -> Path:
    """A project whose data are the first rows / 1M files of the pool (links)."""
    folder = root / (f"rows-{rows}" if model == "logistic" else f"rows-{rows}-{model}")
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(rows // CHUNK):
        link = data / f"part-{i:04d}.parquet"
        if not link.exists():
            link.symlink_to(chunk(root / "pool", i))
    (folder / "ci-ml.yaml").write_text(
        "data: {path: data, target: y, split: {test_size: 0.2, seed: 0}}\n"
        "task: classification\n"
        f"model: {MODELS[model]}\n"
        f"engine: {{kind: dask, address_env: {ADDRESS}}}\n"
    )
    return folder


def worker_peaks(client: object) -> list[float]:
    def peak() -> float:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return sorted(client.run(peak).values())  # type: ignore[attr-defined]


def main() -> None:
    from distributed import Client, LocalCluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1M,5M,10M,20M,50M")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--model", choices=sorted(MODELS), default="logistic")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the table's file (default: DASK.md, or DASK-<model>.md)",
    )
    args = p.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    root = default_cache() / "dask"
    rows_out = []
    started = time.strftime("%Y-%m-%d %H:%M")
    for size in sizes:
        folder = project(root, size, args.model)
        for r in range(args.repeats):
            # A fresh cluster per build: the workers' peak memory is this build's.
            with (
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                             dashboard_address=None) as cluster,
                Client(cluster) as client,
            ):  # fmt: skip
                out = folder / "runs" / f"out-{r}"
                shutil.rmtree(out, ignore_errors=True)
                env = clean_env() | {ADDRESS: cluster.scheduler_address}
                cmd = [sys.executable, "-m", "ci_ml", "run", "--config", str(folder / "ci-ml.yaml"),
                       "--out", str(out)]  # fmt: skip
                m = run_measured(cmd, env=env, cwd=folder, logs=out.with_suffix(".logs"),
                                 timeout=7200)  # fmt: skip
                if m.returncode != 0:
                    raise SystemExit(m.stderr[-3000:])
                peaks = worker_peaks(client)
            manifest = json.loads((out / "manifest.json").read_text())
            record = json.loads((out / "metrics.json").read_text())
            metrics = record["metrics"]
            row = {
                "rows": size,
                "wall": m.wall,
                "client_cpu": m.cpu,
                "client_peak_mib": m.peak_rss_mib,
                "worker_peak_mib": peaks,
                "stages": manifest["timings_seconds"],
                "sample": manifest["data"]["engine"]["sample"],
                "trained_on": (manifest["model"].get("engine") or {}).get("rows"),
                "roc_auc": metrics["roc_auc"]["value"],
                # the rows the metrics are over (every holdout row, or the sample)
                "metric_rows": record["rows"],
                "auc_max_error": (record.get("scope") or {}).get("auc_max_error"),
                "load": (m.load_before + m.load_after) / 2,
            }
            rows_out.append(row)
            print(json.dumps(row), flush=True)
            write(rows_out, started, args.model, args.out)


def write(rows: list[dict], started: str, model: str = "logistic", out: Path | None = None) -> None:
    fitted = (
        "LogisticRegression fitted on the client's sample (`engine.sample_rows`, 1,000,000 "
        "by default)"
        if model == "logistic"
        else "XGBClassifier (50 trees, depth 6) trained on every training row on the "
        "cluster (xgboost.dask), the holdout's per-row stages on the client's sample "
        "(`engine.sample_rows`, 1,000,000 by default)"
    )
    lines = [
        "# The Dask engine as the data grow (`bench_dask.py`)",
        "",
        f"{started}, `python benchmarks/bench_dask.py`; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores shared with other jobs, Python {platform.python_version()}. "
        "A LocalCluster of 2 worker processes (1 thread each) on the same machine; the "
        "build connects to it through `engine.address_env`, so the ci-ml process is the "
        "client alone. Data: 8 float features and a binary target, 1M rows per Parquet "
        f"file; `data.path` split 80/20 by row key; {fitted}.",
        "",
        "| rows | wall (s) | client CPU (s) | client peak RSS (MiB) | worker peak RSS (MiB) | "
        "train / holdout rows on the client | model trained on | validate (s) | safeguards (s) "
        "| train (s) | evaluate (s) | metrics over (rows) | ROC AUC | load |",
        "| ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        s, st = r["sample"], r["stages"]
        lines.append(
            f"| {r['rows']:,} | {r['wall']:.0f} | {r['client_cpu']:.0f} | {r['client_peak_mib']:.0f} | "
            f"{' / '.join(f'{w:.0f}' for w in r['worker_peak_mib'])} | "
            f"{s['train']['rows']:,} / {s['test']['rows']:,} | "
            f"{r.get('trained_on') or s['train']['rows']:,} | {st.get('validate', 0):.0f} | "
            f"{st.get('safeguards', 0):.0f} | {st.get('train', 0):.0f} | "
            f"{st.get('evaluate', 0):.0f} | {r.get('metric_rows', 0):,} | {r['roc_auc']:.4f} | "
            f"{r['load']:.1f} |"
        )
    if out is None:
        out = OUT if model == "logistic" else OUT.with_name(f"DASK-{model}.md")
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
