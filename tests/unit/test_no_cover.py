"""`no_cover` in a full run: a test so marked starts its Python children without
coverage (tests/conftest.py), a test not marked starts them with it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import os
import pytest

@pytest.mark.no_cover
def test_untraced():
    assert "COVERAGE_PROCESS_CONFIG" not in os.environ

def test_traced():
    assert "COVERAGE_PROCESS_CONFIG" in os.environ
"""


def full_run(tmp_path: Path, tests: str, workers: int) -> subprocess.CompletedProcess[str]:
    """`tests` (a module's text) under `--full` with this suite's conftest."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(tests)
    # The probe's coverage keeps to its own data file. Left to the project's
    # (ROOT/.coverage), its start erased the parallel files the full run's
    # children had written so far and its end combined the rest away: the
    # modules only children reach (the pytest plugin) fell under the floor.
    env = {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_CONFIG"}
    env["COVERAGE_FILE"] = str(tmp_path / ".coverage")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "--full", "-n", str(workers),
         "-q", "-p", "no:cacheprovider", "--cov-report=", str(probe)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow  # a pytest with coverage in a process
def test_a_no_cover_test_starts_its_children_untraced(tmp_path: Path) -> None:
    r = full_run(tmp_path, PROBE, workers=0)
    assert "2 passed" in r.stdout, r.stdout + r.stderr
    assert (tmp_path / ".coverage").is_file(), "the probe's coverage data left its own folder"


WATCHDOG_PROBE = """
import time

import pytest

from ci_ml.github.waits import Timekeeper
from ci_ml.github.watchdog import WATCHDOG, Attempt


@pytest.mark.no_cover
def test_1_a_request_starts_the_watchdog_untraced():
    with Attempt(Timekeeper(), "GET", "http://127.0.0.1:9/repos/o/r", 1.0):
        pass


class Connecting:  # a connection still connecting: no socket yet
    sock = None
    owner = None


def test_2_a_later_deadline_is_cut_by_a_traced_watchdog():
    with Attempt(Timekeeper(), "GET", "http://127.0.0.1:9/repos/o/r", 1.0) as a:
        WATCHDOG.arm(a, Connecting(), 0.01, "try")
        for _ in range(100):
            if a.cut:
                break
            time.sleep(0.02)
    assert a.cut == "try"
"""


@pytest.mark.slow  # a pytest with coverage in a process
def test_the_watchdog_thread_is_traced_though_a_no_cover_test_starts_it(tmp_path: Path) -> None:
    """Coverage follows a thread only from its start and loses it when paused: the
    conftest starts the GitHub client's watchdog before a no_cover test pauses the
    tracer and replaces it after, so what the watchdog does later is measured. (In
    a worker: with no worker, `--full`'s controller traces nothing in its own process.)"""
    import coverage

    r = full_run(tmp_path, WATCHDOG_PROBE, workers=1)
    assert "2 passed" in r.stdout, r.stdout + r.stderr
    data = coverage.CoverageData(str(tmp_path / ".coverage"))
    data.read()
    source = ROOT / "ci_ml" / "github" / "watchdog.py"
    lines = source.read_text().splitlines()
    cut = lines.index("    def _cut(a: Attempt, now: float) -> None:") + 2  # its first line
    assert cut in (data.lines(str(source)) or []), "the watchdog's cut ran untraced"
