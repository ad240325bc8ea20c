"""The skew computation of a wide table, one column at a time (as ci-ml did it
before: scipy's ks_2samp and a PSI on np.quantile's deciles per column) against
all columns at once (ci_ml.stats.twosample.numeric_shifts), in one process:
CPU seconds of each and the largest difference in what they compute. The table
is benchmarks/bench_wide.py's: 500 rows x 10,000 numeric columns, split 350 / 150.

    python benchmarks/bench_skew_wide.py [--rows 500] [--columns 10000] [--missing 0.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ci_ml.stats.twosample import PSI_BINS, numeric_shifts, psi  # noqa: E402


def one_at_a_time(a: np.ndarray, b: np.ndarray) -> list[tuple[float, float, float]]:
    """(statistic, p-value, PSI) per column, the way one column at a time gives them."""
    from scipy.stats import ks_2samp

    out = []
    for k in range(a.shape[1]):
        x, y = a[:, k][~np.isnan(a[:, k])], b[:, k][~np.isnan(b[:, k])]
        if x.size == 0 or y.size == 0:
            out.append((0.0, 1.0, 0.0))
            continue
        res = ks_2samp(x, y)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        sx = np.bincount(np.searchsorted(edges, x, side="right"), minlength=edges.size + 1)
        sy = np.bincount(np.searchsorted(edges, y, side="right"), minlength=edges.size + 1)
        out.append((float(res.statistic), float(res.pvalue), psi(sx / x.size, sy / y.size)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=500)
    p.add_argument("--columns", type=int, default=10_000)
    p.add_argument("--missing", type=float, default=0.0, help="share of values made NaN")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.columns))
    X[rng.random(X.shape) < args.missing] = np.nan
    cut = int(0.7 * args.rows)
    a, b = X[:cut], X[cut:]
    import scipy.stats  # noqa: F401  (its import is not the computation's cost)

    t0 = time.process_time()
    ref = one_at_a_time(a, b)
    t1 = time.process_time()
    got = numeric_shifts(a, b)
    t2 = time.process_time()
    worst = max(
        max(abs(g.statistic - r[0]), abs(g.p_value - r[1]), abs(g.psi - r[2]))
        for g, r in zip(got, ref, strict=True)
    )
    print(
        f"{args.rows} rows x {args.columns:,} columns, {args.missing:.0%} missing: one column at "
        f"a time {t1 - t0:.2f} s CPU, all at once {t2 - t1:.2f} s CPU "
        f"({(t1 - t0) / max(t2 - t1, 1e-9):.1f}x); largest difference {worst:.1e}"
    )


if __name__ == "__main__":
    main()
