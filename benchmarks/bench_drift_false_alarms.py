"""Drift's false alarms and its power, by simulation (issue 26): how often does
`ci-ml drift` report drift (any column) when the current data is a fresh sample
of the very distribution the reference was profiled on, and how often does it
flag a column shifted on purpose? Many seeds per size, at the default `drift:`
settings, through the command's own functions (the profile a build writes,
the chunked counting, the comparison); no model, so predictions and metrics
are left out (they go through the same test on bins).

The table is the skew benchmark's (benchmarks/bench_skew_false_alarms.py):
normal, log-normal, Poisson and uniform-integer numbers, one with 20 % missing
values; categories with a rare level, with twelve levels of falling shares and
with 10 % missing; a yes/no label. The reference is profiled once per seed on
`--reference-rows` rows; the current data has 50 … 1,000,000 rows.

    python benchmarks/bench_drift_false_alarms.py [--seeds 400] [--large-seeds 40]
        [--sizes 50,200,1000,10000,100000,1000000] [--reference-rows 5000]
        [--write benchmarks/drift_false_alarms.md]

Sizes of 100,000 rows and more run `--large-seeds` seeds (a million rows a
seed is a few seconds), and above 100,000 only the false alarms are measured
(every planted shift is found every time by then). With --write the markdown goes to that file too; the
docs' drift page (docs/guide/drift.md) and the README quote it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_skew_false_alarms import TARGET, _move, _rate, table  # noqa: E402
from ci_ml.config import DriftConfig, PersonalDataCheck  # noqa: E402
from ci_ml.monitoring import detect, profiles  # noqa: E402
from ci_ml.records import Profile  # noqa: E402

SIZES = (50, 200, 1_000, 10_000, 100_000, 1_000_000)
LARGE = 100_000  # from this size on, --large-seeds seeds
POWER_MAX = 100_000  # above this size only the false alarms (every shift is found by then)
CHUNK = 100_000  # DriftConfig's default chunk_rows

Shift = tuple[str, Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]]
SHIFTS: dict[str, Shift] = {
    "normal +0.5 SD": ("normal", lambda t, rng: t.assign(normal=t["normal"] + 5)),
    "normal SD × 2": ("normal", lambda t, rng: t.assign(normal=50 + (t["normal"] - 50) * 2)),
    "skewed × 1.5": ("skewed", lambda t, rng: t.assign(skewed=t["skewed"] * 1.5)),
    "category a 50 → 30 %": ("category", lambda t, rng: _move(t, "category", "a", "d", 0.4, rng)),
    "new category 15 %": (
        "category",
        lambda t, rng: _move(t, "category", "b", "new", 0.5, rng),
    ),
    "missing 20 → 30 %": (
        "with_missing",
        lambda t, rng: t.assign(with_missing=t["with_missing"].mask(rng.random(len(t)) < 0.125)),
    ),
}


def profile_of(reference: pd.DataFrame) -> Profile:
    features = [c for c in reference.columns if c != TARGET]
    columns, label = profiles.data_profile(reference, features, TARGET, "classification")
    return Profile(
        task="classification",
        target=TARGET,
        rows=len(reference),
        bins=profiles.BINS,
        top_k=profiles.TOP_K,
        columns=columns,
        label=label,
    )


def drifted(profile: Profile, current: pd.DataFrame, cfg: DriftConfig) -> set[str]:
    """The columns `ci-ml drift` flags, the current rows counted in chunks."""
    s = detect.empty_stream(profile, cfg, scored=False)
    for start in range(0, len(current), CHUNK):
        detect.count(s, current.iloc[start : start + CHUNK], profile)
    compared = detect.compare(profile, s, cfg, PersonalDataCheck())
    return {d.column for d in compared.columns if d.drifted}


@dataclass
class Size:
    rows: int
    runs: int = 0
    false_alarms: int = 0  # runs with any drifted column, nothing shifted
    columns: dict[str, int] = field(default_factory=dict)  # which columns drifted then
    detected: dict[str, int] = field(default_factory=dict)  # runs where the shift was found
    seconds: float = 0.0


def simulate(
    sizes: tuple[int, ...],
    seeds: int,
    large_seeds: int,
    reference_rows: int,
    shifts: list[str] | None = None,
) -> list[Size]:
    cfg = DriftConfig()
    out = []
    for n in sizes:
        s, t0 = Size(n), time.perf_counter()
        for seed in range(seeds if n < LARGE else large_seeds):
            rng = np.random.default_rng([n, seed, 26])
            profile = profile_of(table(reference_rows, rng))
            current = table(n, rng)
            found = drifted(profile, current, cfg)
            s.runs += 1
            s.false_alarms += bool(found)
            for c in found:
                s.columns[c] = s.columns.get(c, 0) + 1
            planted = shifts if shifts is not None else list(SHIFTS) if n <= POWER_MAX else []
            for name in planted:
                column, move = SHIFTS[name]
                hit = column in drifted(profile, move(current, rng), cfg)
                s.detected[name] = s.detected.get(name, 0) + hit
        s.seconds = time.perf_counter() - t0
        out.append(s)
    return out


def markdown(results: list[Size]) -> str:
    names = list(results[0].detected)
    lines = [
        "| current rows | runs | any drift, nothing shifted (95 % CI) | "
        + " | ".join(f"found: {n}" for n in names)
        + " |",
        "| ---: | ---: | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for s in results:
        lines.append(
            f"| {s.rows:,} | {s.runs} | {_rate(s.false_alarms, s.runs, interval=True)} | "
            + " | ".join(_rate(s.detected[n], s.runs) if n in s.detected else "—" for n in names)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seeds", type=int, default=400)
    p.add_argument("--large-seeds", type=int, default=40)
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--reference-rows", type=int, default=5_000)
    p.add_argument("--write", type=Path, help="also write the markdown table to this file")
    args = p.parse_args()
    sizes = tuple(int(x) for x in args.sizes.split(","))
    results = simulate(sizes, args.seeds, args.large_seeds, args.reference_rows)
    text = markdown(results)
    print(text)
    for s in results:
        print(f"{s.rows:,} rows: {s.seconds:.0f} s; columns that drifted unshifted: {s.columns}")
    if args.write:
        from ci_ml import __version__

        args.write.write_text(
            "<!-- generated by python benchmarks/bench_drift_false_alarms.py; do not edit -->\n"
            f"`python benchmarks/bench_drift_false_alarms.py --seeds {args.seeds} --large-seeds "
            f"{args.large_seeds} --reference-rows {args.reference_rows}` (ci-ml {__version__}, "
            "default `drift:` settings): the share of runs reporting drift on any column when the "
            f"current data is a fresh sample of the distribution the reference ({args.reference_rows:,} "
            "rows) was profiled on (9 columns: normal, log-normal, Poisson, uniform integer, "
            "normal with 20 % missing, 4 categories, 12 categories of falling shares, 3 categories "
            "with 10 % missing, a yes/no label), and the share of runs in which a shift planted in "
            "the current rows was flagged on its column.\n\n" + text
        )


if __name__ == "__main__":
    main()
