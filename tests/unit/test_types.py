"""The type checker passes over ci_ml/ with the settings of [tool.mypy] in pyproject.toml
(strict by default: every function typed, no `Any` written; the exceptions are listed
there with their reasons). Its cache lives in pytest's, so a second run takes seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mypy_cache(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)  # none under `-p no:cacheprovider`
    return cache.mkdir("mypy") if cache is not None else tmp_path_factory.mktemp("mypy")


def mypy(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_package_type_checks(mypy_cache: Path) -> None:
    r = mypy(cache=mypy_cache)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("Success: no issues found")


def test_a_new_module_may_not_write_any(mypy_cache: Path, tmp_path: Path) -> None:
    """What the strict defaults reject, in a module of no list: `Any` in a signature,
    and a function without annotations."""
    module = tmp_path / "ci_ml_new_module.py"
    module.write_text(
        "from typing import Any\n\n\ndef loose(x: Any) -> None: ...\n\n\ndef bare(x): ...\n"
    )
    r = mypy(str(module), cache=mypy_cache)
    assert r.returncode == 1
    assert 'Explicit "Any" is not allowed  [explicit-any]' in r.stdout
    assert "Function is missing a type annotation  [no-untyped-def]" in r.stdout


def test_the_package_ships_its_types() -> None:
    """py.typed tells a project's type checker to read ci_ml's annotations."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "py.typed" in package_data["package-data"]["ci_ml"]
    assert (ROOT / "ci_ml" / "py.typed").is_file()
