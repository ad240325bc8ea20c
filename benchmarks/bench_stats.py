"""Statistics on a large holdout: every default metric, paired bootstrap, tests.

    python benchmarks/bench_stats.py [--rows 1000000] [--resamples 1000] [--repeat 3] [--json]

Prints the wall time of `paired_deltas` + the significance test for a binary
classifier pair and a regressor pair, best of --repeat (the machine is shared;
the minimum is the least noisy estimate), and the CPU time of that best run,
which other jobs on a shared machine disturb much less (it includes every BLAS
thread's time). Budget (DESIGN.md): under a second at 1M rows for
classification on 2 cores. `python -m benchmarks` runs it as its `stats`
contender (--json).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ci_ml.comparison import significance_tests
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


def timed(fn, repeat: int = 3) -> list[tuple[float, float]]:
    """(wall, cpu) seconds of each of `repeat` runs."""
    times = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    return times


def best_of(fn, repeat: int = 3) -> tuple[float, float]:
    """(wall, cpu) seconds of the fastest of `repeat` runs."""
    return min(timed(fn, repeat))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one JSON line: every time of every task")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    found = {}
    if not args.json:
        print(
            f"| task | rows | metrics | resamples | seconds (best of {args.repeat}) | CPU seconds |"
        )
        print("| --- | ---: | --- | ---: | ---: | ---: |")
    for task, pair in [("classification", classifier_pair), ("regression", regressor_pair)]:
        cand, base = pair(args.rows, rng)
        names = DEFAULTS[task]

        def work(cand: Scored = cand, base: Scored = base, names: list[str] = names) -> None:
            paired_deltas(cand, base, names, args.resamples, 0.95, 0)
            significance_tests(cand, base)

        times = timed(work, args.repeat)
        found[task] = {
            "metrics": len(names),
            "seconds": [w for w, _ in times],
            "cpu_seconds": [c for _, c in times],
        }
        if not args.json:
            wall, cpu = min(times)
            print(
                f"| {task} | {args.rows:,} | {len(names)} | {args.resamples} | {wall:.2f} | {cpu:.2f} |"
            )
    if args.json:
        print(json.dumps({"rows": args.rows, "resamples": args.resamples, "tasks": found}))


if __name__ == "__main__":
    main()
