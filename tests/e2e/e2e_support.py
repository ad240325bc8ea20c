"""Find the command-line tools the e2e and static tests drive (act, actionlint, ...)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
TEMPLATES = sorted((ROOT / "workflows").glob("*.yml"))
PROJECT_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ALL_WORKFLOWS = TEMPLATES + PROJECT_WORKFLOWS


def tool(name: str) -> str:
    """The tool's path: next to this interpreter first (a venv's bin/), then PATH.

    A missing tool fails the test: they come with `pip install -e .[test]`.
    """
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(
        f"{name} not found next to {sys.executable} nor on PATH; install the test "
        "extras: pip install -e '.[test]'"
    )
