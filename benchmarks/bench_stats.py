"""Statistics on a large holdout: every default metric, paired bootstrap, tests.

    python benchmarks/bench_stats.py [--rows 1000000] [--resamples 1000]

Prints the wall time of `paired_deltas` + the significance test for a binary
classifier pair and a regressor pair, best of 3 (the machine is shared; the
minimum is the least noisy estimate), and the CPU time of that best run, which
other jobs on a shared machine disturb much less (it includes every BLAS
thread's time). Budget: under 1 s at 1M rows for classification on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ci_ml.stages.compare import significance_tests
from ci_ml.stats.bootstrap import paired_deltas
from ci_ml.stats.metrics import DEFAULTS, Scored


def classifier_pair(n: int, rng: np.random.Generator) -> tuple[Scored, Scored]:
    y = rng.integers(0, 2, n)

    def model(shift: float) -> Scored:
        s = rng.normal(size=n) + y * (1.5 + shift)
        p = 1 / (1 + np.exp(-(s - 0.75)))
        return Scored(
            "classification", y, (p > 0.5).astype(np.int64), np.stack([1 - p, p], axis=1), [0, 1]
        )

    return model(0.05), model(0.0)


def regressor_pair(n: int, rng: np.random.Generator) -> tuple[Scored, Scored]:
    y = rng.normal(100, 20, n)
    return (
        Scored("regression", y, y + rng.normal(0, 5, n)),
        Scored("regression", y, y + rng.normal(0, 5.1, n)),
    )


def best_of(fn, repeat: int = 3) -> tuple[float, float]:
    """(wall, cpu) seconds of the fastest of `repeat` runs."""
    times = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| task | rows | metrics | resamples | seconds (best of 3) | CPU seconds |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for task, pair in [("classification", classifier_pair), ("regression", regressor_pair)]:
        cand, base = pair(args.rows, rng)
        names = DEFAULTS[task]

        def work(cand: Scored = cand, base: Scored = base, names: list[str] = names) -> None:
            paired_deltas(cand, base, names, args.resamples, 0.95, 0)
            significance_tests(cand, base)

        wall, cpu = best_of(work)
        print(
            f"| {task} | {args.rows:,} | {len(names)} | {args.resamples} | {wall:.2f} | {cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
