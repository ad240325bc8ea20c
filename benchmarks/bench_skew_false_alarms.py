"""Skew's false alarms and its power, by simulation (issue 23): how often does the
skew safeguard warn (any column) when train and holdout are a random split of
one distribution, and how often does it flag a column whose holdout rows were
shifted on purpose? Many seeds per size, at the default settings, through the
safeguards' own entry point (ci_ml.checks.data.check, the other checks off).

The table: normal, skewed (log-normal), integer (Poisson) and wide-integer
(ages) numbers, one with 20 % missing values; categories with a rare level,
with twelve levels of falling shares (small counts: the Monte Carlo test) and
with 10 % missing; a yes/no label. Split 80 / 20 like ci-ml's default.

    python benchmarks/bench_skew_false_alarms.py [--seeds 400] [--sizes 50,200,1000,10000,100000]
        [--write benchmarks/skew_false_alarms.md]

With --write the markdown table goes to that file too; benchmarks/render.py
puts it in RESULTS.md (section "Skew: false alarms and power") and the docs'
data safeguards page (docs/guide/safeguards.md) quotes it.
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

from ci_ml.checks.data import check  # noqa: E402
from ci_ml.config import SafeguardsConfig  # noqa: E402

SIZES = (50, 200, 1_000, 10_000, 100_000)
TEST_SIZE = 0.2  # ci-ml's default split
TARGET = "label"
RARE = [f"r{i}" for i in range(12)]
RARE_P = np.array([1 / (i + 1) for i in range(12)]) / sum(1 / (i + 1) for i in range(12))


def table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """One distribution: every column a different kind of data."""
    with_missing = rng.normal(0, 1, n)
    with_missing[rng.random(n) < 0.2] = np.nan
    category_missing = rng.choice(np.array(["x", "y", "z"], dtype=object), n)
    category_missing[rng.random(n) < 0.1] = None
    return pd.DataFrame(
        {
            "normal": rng.normal(50, 10, n),
            "skewed": rng.lognormal(0, 1, n),
            "integer": rng.poisson(3, n),
            "age": rng.integers(18, 91, n),
            "with_missing": with_missing,
            "category": rng.choice(list("abcd"), n, p=[0.5, 0.3, 0.15, 0.05]),
            "many_levels": rng.choice(RARE, n, p=RARE_P),
            "category_missing": pd.Series(category_missing, dtype="str"),
            TARGET: rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        }
    )


def split(df: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = rng.permutation(len(df))
    n_test = max(1, round(TEST_SIZE * len(df)))
    test, train = df.iloc[order[:n_test]], df.iloc[order[n_test:]]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _move(test: pd.DataFrame, column: str, src: str, dst: str, share: float, rng) -> pd.DataFrame:
    """Relabel `share` of the holdout rows that have `src` as `dst`."""
    out = test.copy()
    rows = np.flatnonzero((out[column] == src).to_numpy())
    out.loc[rows[rng.random(rows.size) < share], column] = dst
    return out


# A planted shift: (the column it moves, what it does to the holdout rows).
Shift = tuple[str, Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]]
SHIFTS: dict[str, Shift] = {
    "normal +0.5 SD": ("normal", lambda t, rng: t.assign(normal=t["normal"] + 5)),
    "normal +0.2 SD": ("normal", lambda t, rng: t.assign(normal=t["normal"] + 2)),
    "skewed × 1.5": ("skewed", lambda t, rng: t.assign(skewed=t["skewed"] * 1.5)),
    "age +10 years": ("age", lambda t, rng: t.assign(age=t["age"] + 10)),
    "category a 50 → 30 %": ("category", lambda t, rng: _move(t, "category", "a", "d", 0.4, rng)),
    "label yes 30 → 45 %": (TARGET, lambda t, rng: _move(t, TARGET, "no", "yes", 0.215, rng)),
}


def config() -> SafeguardsConfig:
    """The defaults, every check but skew off."""
    off = {"severity": "off"}
    return SafeguardsConfig.model_validate(
        {
            k: off
            for k in (
                "contamination",
                "duplicates",
                "conflicting_labels",
                "leakage",
                "personal_data",
            )
        }  # fmt: skip
    )


def skewed_columns(train: pd.DataFrame, test: pd.DataFrame, cfg: SafeguardsConfig) -> set[str]:
    result = check(train, test, TARGET, "classification", cfg, {})
    return {str(f.column) for f in result.findings if f.check == "skew"}


@dataclass
class Size:
    rows: int
    builds: int = 0
    false_alarms: int = 0  # builds with any skew warning, nothing shifted
    columns: dict[str, int] = field(default_factory=dict)  # which columns warned then
    detected: dict[str, int] = field(default_factory=dict)  # builds where the shift was found
    seconds: float = 0.0


def simulate(sizes: tuple[int, ...], seeds: range, shifts: list[str] | None = None) -> list[Size]:
    cfg = config()
    out = []
    for n in sizes:
        s, t0 = Size(n), time.perf_counter()
        for seed in seeds:
            rng = np.random.default_rng([n, seed])
            train, test = split(table(n, rng), rng)
            warned = skewed_columns(train, test, cfg)
            s.builds += 1
            s.false_alarms += bool(warned)
            for c in warned:
                s.columns[c] = s.columns.get(c, 0) + 1
            for name in shifts if shifts is not None else list(SHIFTS):
                column, move = SHIFTS[name]
                found = column in skewed_columns(train, move(test, rng), cfg)
                s.detected[name] = s.detected.get(name, 0) + found
        s.seconds = time.perf_counter() - t0
        out.append(s)
    return out


def _rate(k: int, n: int, interval: bool = False) -> str:
    from scipy.stats import binomtest

    text = f"{100 * k / n:.1f} %"
    if interval:
        ci = binomtest(k, n).proportion_ci(method="wilson")
        text += f" [{100 * ci.low:.1f}, {100 * ci.high:.1f}]"
    return text


def markdown(results: list[Size]) -> str:
    names = list(results[0].detected)
    lines = [
        "| rows (train / holdout) | builds | any skew warning, nothing shifted (95 % CI) | "
        + " | ".join(f"found: {n}" for n in names)
        + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for s in results:
        n_test = max(1, round(TEST_SIZE * s.rows))
        lines.append(
            f"| {s.rows:,} ({s.rows - n_test:,} / {n_test:,}) | {s.builds} | "
            f"{_rate(s.false_alarms, s.builds, interval=True)} | "
            + " | ".join(_rate(s.detected[n], s.builds) for n in names)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=400)
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--write", type=Path, help="also write the markdown table to this file")
    args = p.parse_args()
    sizes = tuple(int(x) for x in args.sizes.split(","))
    results = simulate(sizes, range(args.seeds))
    text = markdown(results)
    print(text)
    for s in results:
        print(f"{s.rows:,} rows: {s.seconds:.0f} s; columns that warned unshifted: {s.columns}")
    if args.write:
        from ci_ml import __version__

        args.write.write_text(
            "<!-- generated by python benchmarks/bench_skew_false_alarms.py; do not edit -->\n"
            f"`python benchmarks/bench_skew_false_alarms.py --seeds {args.seeds}` (ci-ml "
            f"{__version__}, default `safeguards.skew` settings): the share of builds with any "
            "skew warning when train and holdout are a random 80 / 20 split of one distribution "
            "(9 columns: normal, log-normal, Poisson, uniform integer, normal with 20 % missing, "
            "4 categories, 12 categories of falling shares, 3 categories with 10 % missing, a "
            "yes/no label), and the share of builds in which a shift planted in the holdout rows "
            "was flagged on its column.\n\n" + text
        )


if __name__ == "__main__":
    main()
