"""Running a project's model test suites in-process with pytest, on a built
artifact, and collecting each test's outcome.

The suite runs with the project's own pytest settings (conftest files,
`python_files`, markers) except `addopts`, which is cleared: options such as
`--cov` or `-n auto` belong to the project's unit-test run, not to a test of
the build. No `.pytest_cache` is written. A suite that collects nothing, fails
to collect a file, or stops before every collected test ran (an interrupt,
`pytest.exit`) fails, whatever pytest's own exit status says.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.errors import UsageError
from ci_ml.records import SuiteResult, TestCase

if TYPE_CHECKING:
    import pytest  # an optional dependency (ci-ml[pytest])

    from ci_ml.testing.view import Preloaded

PLUGIN = "ci_ml.testing.plugin"
MAX_MESSAGE = 500


def _message(report: pytest.CollectReport | pytest.TestReport) -> str | None:
    """One line or a few: the assertion or exception, or a skip's reason."""
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr).strip().splitlines()[-1]
    return text[:MAX_MESSAGE]


class Collector:
    """A pytest plugin object that records every test's outcome."""

    def __init__(self) -> None:
        self.cases: dict[str, TestCase] = {}
        self.collected = 0
        self.ran: set[str] = set()
        self.uncollected: list[str] = []  # files (or folders) pytest could not collect

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            name = report.nodeid or "collection"
            self.cases[name] = TestCase(name, "error", _message(report))
            self.uncollected.append(name)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = len(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case = self.cases.setdefault(report.nodeid, TestCase(report.nodeid, "passed"))
        case.duration += float(report.duration)
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.ran.add(report.nodeid)
        if report.passed:
            return
        if report.skipped:
            if case.outcome == "passed":
                xfail = getattr(report, "wasxfail", None)
                case.outcome = "skipped"
                case.message = f"xfail: {xfail}" if xfail is not None else _message(report)
            return
        case.outcome = "failed" if report.when == "call" else "error"
        case.message = case.message or _message(report)


def check_paths(paths: list[Path], shown: list[str]) -> None:
    """pytest is installed and every configured path exists."""
    import importlib.util

    if importlib.util.find_spec("pytest") is None:
        raise UsageError(
            "model_tests.pytest needs pytest, which is not installed with ci-ml by default",
            hint="pip install 'ci-ml[pytest]'",
        )
    missing = [s for p, s in zip(paths, shown, strict=True) if not p.exists()]
    if missing:
        raise UsageError(
            f"model_tests.pytest: {', '.join(missing)} not found",
            hint="test files or folders, relative to the config file",
        )


def run_suites(
    paths: list[Path],
    artifact: Path,
    config: Path,
    baseline: Path | None,
    rootdir: Path,
    shown: list[str] | None = None,
    preloaded: Preloaded | None = None,
) -> SuiteResult:
    """pytest on `paths` against the build in `artifact`, in this process; `shown`
    names the paths in the result (as the config wrote them); `preloaded`: a
    plugin object handing the suites what this process has loaded already
    (ci_ml.testing.view.Preloaded)."""
    shown = shown or [str(p) for p in paths]
    check_paths(paths, shown)
    import pytest

    args = [
        *map(str, paths),
        "--ci-ml-artifact", str(artifact),
        "--ci-ml-config", str(config),
        "--ci-ml-baseline", str(baseline) if baseline else "none",
        "-p", PLUGIN,
        "-p", "no:cacheprovider",
        "-o", "addopts=",
        "--rootdir", str(rootdir),
        "-q", "--no-header",
        # ci-ml and other installed plugins are imported before pytest could rewrite them.
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
    ]  # fmt: skip
    collector = Collector()
    code = int(pytest.main(args, plugins=[collector, *([preloaded] if preloaded else [])]))
    return summarise(collector, code, shown)


def summarise(collector: Collector, code: int, paths: list[str]) -> SuiteResult:
    """The suite's verdict from what the collector saw and pytest's exit status."""
    result = SuiteResult(paths, code, list(collector.cases.values()))
    errors = result.count("error") + result.count("failed")
    ran = len(collector.ran)
    if collector.uncollected:
        result.problem = (
            f"pytest could not collect {', '.join(collector.uncollected)}: "
            f"{collector.cases[collector.uncollected[0]].message}"
        )
    elif code == 5 or (not result.tests and code == 0):
        result.problem = (
            f"no tests ran from {', '.join(paths)}: pytest collects test_*.py files "
            "and the test_* functions in them"
        )
    elif code not in (0, 1):
        result.problem = f"pytest stopped with exit status {code} (interrupted, or a usage or internal error; see the log)"
    elif ran < collector.collected:
        result.problem = (
            f"the suite stopped after {ran} of {collector.collected} tests (pytest.exit, or an "
            "interrupt): the rest never ran"
        )
    result.passed = result.problem is None and errors == 0 and code == 0
    return result
