"""A small run of benchmarks/bench_drift_false_alarms.py with fixed seeds (issue
26: fresh samples of the reference's distribution rarely report drift, from 50
rows up, while shifted columns are found). Counts, not times."""

from __future__ import annotations

from benchmarks.bench_drift_false_alarms import simulate


def test_fresh_samples_of_one_distribution_rarely_drift() -> None:
    for s in simulate((50, 2_000), seeds=10, large_seeds=0, reference_rows=1_000, shifts=[]):
        assert s.runs == 10
        assert s.false_alarms / s.runs <= 0.05, (s.rows, s.columns)


def test_planted_shifts_are_found_on_their_column() -> None:
    shifts = ["normal +0.5 SD", "normal SD × 2", "category a 50 → 30 %", "missing 20 → 30 %"]
    (s,) = simulate((2_000,), seeds=6, large_seeds=0, reference_rows=1_000, shifts=shifts)
    for name in shifts:
        assert s.detected[name] / s.runs >= 0.9, (name, s.detected)


def test_the_docs_quote_the_benchmarks_tables() -> None:
    """The tables benchmarks/bench_drift_false_alarms.py and bench_drift_memory.py
    wrote (--write) are the ones the drift page shows, and the README quotes the
    false-alarm rate the simulation measured."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "guide" / "drift.md").read_text()
    for name, marker in (
        ("drift_false_alarms.md", "drift-simulation"),
        ("drift_memory.md", "drift-memory"),
    ):
        table = [
            x for x in (root / "benchmarks" / name).read_text().splitlines() if x.startswith("|")
        ]
        assert len(table) >= 5, name
        quoted = page.split(f"<!-- {marker}:start", 1)[1].split(f"<!-- {marker}:end", 1)[0]
        assert "\n".join(table) in quoted, name
