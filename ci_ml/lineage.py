"""Lineage facts: the git commit and the Python and package versions a build
records (ci_ml.manifest assembles them with the stages' records)."""

from __future__ import annotations

import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from ci_ml import install

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


def environment(lock_file: Path | None = None) -> dict[str, Any]:

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": package_versions(),
        # locked: every installed package the lock pins has its pinned version.
        "install": install.report(lock_file),
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        r = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_info(
    cwd: Path, github_sha: str | None = None, config_name: str | None = None
) -> dict[str, Any] | None:
    """Commit, branch and dirtiness of the repository holding `cwd`, or None outside git;
    with the config's path from the repository's root (what `ci-ml reproduce` builds).
    In Actions the checkout of a pull request is a merge commit; GITHUB_SHA names it."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    prefix = _git(["rev-parse", "--show-prefix"], cwd)
    info = {
        "commit": commit,
        "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd),
        "dirty": bool(status),
        "github_sha": github_sha,
    }
    if config_name and prefix is not None:
        info["config_path"] = f"{prefix}{config_name}"
    return info


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
