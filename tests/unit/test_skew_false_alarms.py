"""A small run of benchmarks/bench_skew_false_alarms.py with fixed seeds (issue
23: at most 5 % of builds warn about skew when nothing moved, from 50 rows up,
while shifted columns are still found). Counts, not times."""

from __future__ import annotations

from benchmarks.bench_skew_false_alarms import simulate

SEEDS = range(25)


def test_splits_of_one_distribution_rarely_warn() -> None:
    for s in simulate((50, 200, 1_000), SEEDS, shifts=[]):
        assert s.builds == len(SEEDS)
        assert s.false_alarms / s.builds <= 0.05, (s.rows, s.columns)


def test_planted_shifts_are_found() -> None:
    (s,) = simulate((1_000,), SEEDS, ["normal +0.5 SD", "category a 50 → 30 %"])  # 800 / 200
    assert s.detected["normal +0.5 SD"] / s.builds >= 0.9
    assert s.detected["category a 50 → 30 %"] / s.builds >= 0.9
