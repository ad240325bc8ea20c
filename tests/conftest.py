"""Shared fixtures. Test layout: see tests/README.md."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# Set before scikit-learn loads OpenMP (here, in the first conftest): waiting threads
# sleep instead of spinning, which on a shared 2-core machine slowed one fit 8x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Child interpreters (process=True, the act runs) write their bytecode once, outside
# any project the tests check for untouched files (the machine may forbid writing it).
PYCACHE = Path(tempfile.gettempdir()) / "ci-ml-tests-pycache"


def child_python_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child Python: bytecode cached under PYCACHE."""
    env = dict(env)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(PYCACHE))
    return env


PER_MODULE_MINIMUM = 85.0


def module_coverage(cov) -> dict[str, float]:
    """Statement coverage per file of the combined coverage data."""
    out = {}
    for path in cov.get_data().measured_files():
        _, statements, _, missing, _ = cov.analysis2(path)
        if statements:
            out[str(Path(path).relative_to(ROOT))] = 100.0 * (1 - len(missing) / len(statements))
    return out


# The tiers (tests/README.md): `python -m pytest` runs the fast tier, everything
# but these markers; `python -m pytest --full` runs every test, in parallel, with
# coverage and the per-module floor; naming tests (paths, -k, -m) runs what is named.
SLOW_TIERS = ("slow", "e2e", "browser")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        help="the full run (what CI runs): every tier, one worker per core, "
        "coverage with the per-module floor, the 25 slowest tests listed",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The tiers' options, set before pytest-xdist and pytest-cov read them: a whole
    tier on one worker per core; --full adds coverage, loadgroup and durations.
    (A conftest cannot add to addopts; an initial conftest does get this hook, in
    the controller and in every xdist worker, which parse the command line afresh.)"""
    opt = config.option
    worker = hasattr(config, "workerinput")
    if not worker and hasattr(opt, "numprocesses"):
        whole_tier = opt.full or not _named(config)
        if whole_tier and opt.numprocesses is None and not opt.collectonly and not opt.usepdb:
            opt.numprocesses = "auto"  # a tier runs on every core; one test runs alone
        if opt.full and opt.dist == "no":
            # Each act module and the browser renders keep to one worker
            # (xdist_group marks): their module fixtures are built once.
            opt.dist = "loadgroup"
    if not opt.full:
        return
    opt.durations = opt.durations or 25
    if not config.pluginmanager.has_plugin("_cov") and not opt.no_cov:
        from pytest_cov.plugin import CovPlugin

        opt.cov_source = ["ci_ml"]
        opt.cov_report = {"term": None}
        # A worker's coverage starts at its session start, sending its data home.
        plugin = CovPlugin(opt, config.pluginmanager, start=not worker)
        config.pluginmanager.register(plugin, "_cov")


def _named(config: pytest.Config) -> bool:
    """Tests chosen on the command line: paths other than the default, -k or -m."""
    opt = config.option
    default = [str(ROOT / p) for p in config.getini("testpaths")]
    chosen = [str(Path(a).resolve()) for a in config.args]
    return chosen not in ([], default, [str(ROOT)]) or bool(opt.keyword or opt.markexpr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fast tier leaves out the slow markers unless --full or a selection."""
    if config.option.full or _named(config):
        return
    slow = [i for i in items if any(i.get_closest_marker(m) for m in SLOW_TIERS)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        ids = set(map(id, slow))
        items[:] = [i for i in items if id(i) not in ids]


def _full_run(config: pytest.Config) -> bool:
    """Only the whole suite under --full is held to the per-module minimum."""
    return bool(config.option.full) and not _named(config)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    """After pytest-cov has combined every process's data: fail a full run when
    any module of ci_ml is below the minimum, naming it."""
    result = yield
    if hasattr(session.config, "workerinput"):
        return result  # a worker holds part of the data; the controller checks the whole
    plugin = session.config.pluginmanager.getplugin("_cov")
    cov = getattr(getattr(plugin, "cov_controller", None), "cov", None)
    if cov is None or not _full_run(session.config) or session.testsfailed:
        return result
    low = {f: v for f, v in module_coverage(cov).items() if v < PER_MODULE_MINIMUM}
    if low:
        writer = session.config.pluginmanager.getplugin("terminalreporter")
        lines = "\n".join(f"  {f}: {v:.1f}%" for f, v in sorted(low.items()))
        writer.write(
            f"\nERROR: modules below {PER_MODULE_MINIMUM:.0f}% coverage:\n{lines}\n", red=True
        )
        session.testsfailed += 1
    return result


# Tests marked `no_cover` run untraced in a full run (tests/README.md): tests that
# repeat code other tests already trace (simulations over many seeds, the estimator
# matrix, one race tried again and again, rendering documents built elsewhere) gain
# no coverage from the tracer and pay 70-80 % more CPU for it. pytest-cov pauses its
# tracer for their call; here also for their setup (the fixtures they alone build)
# and for the Python processes they start (coverage's subprocess patch passes its
# config to children in this variable). The per-module floor holds without them.
# Coverage follows a thread only from its start, and pausing it (stop, then start)
# loses every thread already running: the GitHub client's one long-lived thread,
# its watchdog, is started before a pause and replaced by a new one after it
# (once a no_cover test started it untraced and the watchdog fell to 76 %; with it
# only started first, a run's order left it at 84.5 %).
_CHILD_COVERAGE = "COVERAGE_PROCESS_CONFIG"


def _coverage(item: pytest.Item | pytest.Session):
    """pytest-cov's controller in a run that measures coverage, else None."""
    plugin = item.config.pluginmanager.getplugin("_cov")
    return getattr(plugin, "cov_controller", None)


@pytest.hookimpl(trylast=True)  # after pytest-cov started the worker's coverage
def pytest_sessionstart(session: pytest.Session) -> None:
    """A full run's worker imports every module of ci_ml while traced: their top
    lines (imports, definitions) run once per process, in whichever test imports
    the module first, and untraced when that test is a no_cover one."""
    if not hasattr(session.config, "workerinput") or _coverage(session) is None:
        return
    import importlib
    import pkgutil

    import ci_ml

    for module in pkgutil.walk_packages(ci_ml.__path__, "ci_ml."):
        if module.name != "ci_ml.__main__":  # that one runs the CLI
            importlib.import_module(module.name)


@contextlib.contextmanager
def _untraced(item: pytest.Item, pause_tracer: bool):
    controller = _coverage(item)
    if item.get_closest_marker("no_cover") is None or controller is None:
        yield
        return
    # In the call, pytest-cov's wrapper (registered later, so outermost) has
    # already paused the tracer: only the children's variable is ours to drop.
    pause = pause_tracer and controller.started
    if pause:
        # imported here: a module imported before coverage starts misses its top lines
        from ci_ml.github.watchdog import WATCHDOG

        WATCHDOG.start()
    child = os.environ.pop(_CHILD_COVERAGE, None)
    if pause:
        controller.pause()
    try:
        yield
    finally:
        if pause:
            controller.resume()
            WATCHDOG.restart()
        if child is not None:
            os.environ[_CHILD_COVERAGE] = child


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _untraced(item, pause_tracer=True):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _untraced(item, pause_tracer=False):  # pytest-cov pauses its tracer itself
        return (yield)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """After pytest-cov resumed its tracer (it paused it for a no_cover test's call)."""
    controller = _coverage(item)
    if controller is not None and controller.started and item.get_closest_marker("no_cover"):
        from ci_ml.github.watchdog import WATCHDOG

        WATCHDOG.restart()


@pytest.fixture(autouse=True)
def _github_env_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real GitHub by accident: runner variables are dropped."""
    for name in list(os.environ):
        if name.startswith("GITHUB_") or name == "ACTIONS_RUNTIME_TOKEN":
            monkeypatch.delenv(name, raising=False)


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a CLI run gets: the test's own minus GitHub's, plus `env`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update(env or {})
    return full_env


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    process: bool = False,
) -> subprocess.CompletedProcess:
    """`ci-ml ARGS` as a user runs it: in this process through the CLI's main
    function (tests/inprocess.py), or with `process=True` in a fresh interpreter,
    for what only a process shows (top-level exit, locks, hash seeds, signals);
    `timeout` bounds a process only."""
    if not process:
        from tests.inprocess import run_in_process

        return run_in_process(args, cli_env(env), cwd)
    return subprocess.run(
        [sys.executable, "-m", "ci_ml", *args],
        cwd=cwd,
        env=child_python_env(cli_env(env)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def example_build(tmp_path_factory: pytest.TempPathFactory):
    """A function: `example_build(name)` is the folder of `ci-ml run` on that shipped
    example, built once per session (per worker in a full run) and shared: read it,
    use it as a baseline; `example_build(name, dest)` copies it to `dest` for a test
    that writes to it (publishing, tampering)."""
    root = tmp_path_factory.mktemp("example-builds")

    def built(name: str, dest: Path | None = None) -> Path:
        out = root / name
        if not (out / "report.md").is_file():
            config = str(EXAMPLES / name / "ci-ml.yaml")
            r = run_cli("run", "--config", config, "--out", str(out))
            assert r.returncode == 0, f"{name}: {r.stderr}"
        if dest is None:
            return out
        shutil.copytree(out, dest)
        return dest

    return built


@pytest.fixture
def example_copy(tmp_path: Path):
    """A function copying an example project into tmp_path (tests may edit it)."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".ci-ml"))
        return dest

    return copy
