"""Lineage: what went into a build, so anyone can tell how a model was made."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = [
    "ci-ml",
    "scikit-learn",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "pandas",
    "numpy",
    "pandera",
    "scipy",
    "pyarrow",
    "protobuf",
]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        r = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_info(cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any] | None:
    """Commit, branch and dirtiness of the repository holding `cwd`, or None outside git.
    In Actions the checkout of a pull request is a merge commit; GITHUB_SHA names it."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    return {
        "commit": commit,
        "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd),
        "dirty": bool(status),
        "github_sha": (env or {}).get("GITHUB_SHA"),
    }


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
