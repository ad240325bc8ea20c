"""Data safeguards on 1,000,000 rows × 20 columns (issue budget: under 3 s on
the project's 2-core machine): contamination, duplicates, conflicting labels,
leakage scores of every feature, train/test skew of every column and the
personal-data scan, as `ci-ml check-data` runs them after the data is read.

    python benchmarks/bench_safeguards.py [--rows N] [--repeats R]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from ci_ml.checks.data import check
from ci_ml.config import SafeguardsConfig


def make(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    numeric = {f"x{i}": rng.normal(size=rows) for i in range(14)}
    cats = {f"c{i}": rng.choice(["a", "b", "c", "d", "e"], size=rows) for i in range(4)}
    words = np.array(["fine", "slow delivery", "great", "broken on arrival", "ok"])
    text = {"comment": words[rng.integers(0, words.size, rows)]}
    y = np.where(numeric["x0"] + numeric["x1"] + rng.normal(0, 1, rows) > 0, "yes", "no")
    df = pd.DataFrame({**numeric, **cats, **text, "label": y})
    cut = int(rows * 0.8)
    return df.iloc[:cut].reset_index(drop=True), df.iloc[cut:].reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    train, test = make(args.rows)
    cfg = SafeguardsConfig()
    check(train.head(1000), test.head(1000), "label", "classification", cfg, {})  # warm imports
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        result = check(train, test, "label", "classification", cfg, {})
        times.append(time.perf_counter() - t)
    print(
        f"safeguards on {args.rows:,} rows x {train.shape[1]} columns: "
        f"best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s "
        f"({len(result.findings)} finding(s))"
    )


if __name__ == "__main__":
    main()
