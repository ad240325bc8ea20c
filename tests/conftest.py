"""Shared fixtures. Test layout: see tests/README.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


PER_MODULE_MINIMUM = 85.0


def module_coverage(cov) -> dict[str, float]:
    """Statement coverage per file of the combined coverage data."""
    out = {}
    for path in cov.get_data().measured_files():
        _, statements, _, missing, _ = cov.analysis2(path)
        if statements:
            out[str(Path(path).relative_to(ROOT))] = 100.0 * (1 - len(missing) / len(statements))
    return out


def _full_run(config: pytest.Config) -> bool:
    """Only the whole suite is held to the per-module minimum, not a selection."""
    opt = config.option
    default = [str(ROOT / p) for p in config.getini("testpaths")]
    chosen = [str(Path(a).resolve()) for a in config.args]
    return chosen in ([], default, [str(ROOT)]) and not opt.keyword and not opt.markexpr


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    """After pytest-cov has combined every process's data: fail a full run when
    any module of ci_ml is below the minimum, naming it."""
    result = yield
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


@pytest.fixture(autouse=True)
def _github_env_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a real GitHub by accident: runner variables are dropped."""
    for name in list(os.environ):
        if name.startswith("GITHUB_") or name == "ACTIONS_RUNTIME_TOKEN":
            monkeypatch.delenv(name, raising=False)


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`ci-ml ARGS` in a subprocess, as a user runs it."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ci_ml", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def example_copy(tmp_path: Path):
    """A function copying an example project into tmp_path (tests may edit it)."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".ci-ml"))
        return dest

    return copy
