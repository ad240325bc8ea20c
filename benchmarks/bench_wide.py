"""A wide table: `ci-ml run` on 500 rows × 10,000 numeric columns, with and without
a schema, each in a fresh process; wall, CPU, peak RSS and every stage's time
(from the manifest). Issue 22 measured 41 s without a schema and 64 s with one,
against 7 s and 18.6 s a round earlier.

    python benchmarks/bench_wide.py [--rows 500] [--columns 10000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import clean_env, default_cache  # noqa: E402
from benchmarks.measure import run_measured  # noqa: E402


def make(folder: Path, rows: int, columns: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(rows, columns)), columns=[f"f{i}" for i in range(columns)])
    X["y"] = np.where(X.f0 + X.f1 > 0, "yes", "no")
    folder.mkdir(parents=True, exist_ok=True)
    X.to_csv(folder / "data.csv", index=False)
    base = (
        "data: {path: data.csv, target: y, split: {test_size: 0.3, seed: 0}}\n"
        "task: classification\n"
        "model: {estimator: sklearn.linear_model.LogisticRegression, seed: 0}\n"
    )
    (folder / "plain.yaml").write_text(base)
    (folder / "schema.yaml").write_text(
        "schema_type: dataframe\napi: pandas\ncolumns:\n"
        + "".join(f"  f{i}:\n    dtype: float64\n" for i in range(columns))
        + "  y:\n    dtype: str\n    isin: ['yes', 'no']\n"
    )
    (folder / "with-schema.yaml").write_text(base + "schema: schema.yaml\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--columns", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    folder = default_cache() / "wide" / f"{args.rows}x{args.columns}"
    if not (folder / "data.csv").is_file():
        make(folder, args.rows, args.columns)
    print(
        f"| {args.rows} rows × {args.columns:,} columns | wall (s) | CPU (s) | peak RSS (MiB) | stages (s) |"
    )
    print("| --- | ---: | ---: | ---: | --- |")
    for i in range(args.repeats):
        for config in ("plain.yaml", "with-schema.yaml"):
            out = folder / "runs" / f"{config}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [sys.executable, "-m", "ci_ml", "run", "--config", str(folder / config),
                   "--out", str(out)]  # fmt: skip
            m = run_measured(cmd, env=clean_env(), cwd=folder, logs=out.with_suffix(".logs"),
                             timeout=3600)  # fmt: skip
            if m.returncode != 0:
                raise SystemExit(m.stderr[-2000:])
            stages = json.loads((out / "manifest.json").read_text())["timings_seconds"]
            shown = ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            name = "no schema" if config == "plain.yaml" else "with a schema"
            print(f"| {name} | {m.wall:.1f} | {m.cpu:.1f} | {m.peak_rss_mib:.0f} | {shown} |")


if __name__ == "__main__":
    main()
