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
