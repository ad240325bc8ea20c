"""The fork-comment job's light install: only the part of the lock `ci-ml comment`
needs (ci_ml/install.py COMMENT_PACKAGES), in a fresh venv, then ci-ml itself
without dependencies, exactly as action.yml does in `mode: comment`; that venv
plans and posts a comment on the fake GitHub."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci_ml import install
from tests.conftest import ROOT
from tests.fake_github import DEFAULT_TOKEN
from tests.integration.conftest import PR, REPO

pytestmark = pytest.mark.slow


def test_the_comment_lock_is_a_hashed_subset_of_the_lock() -> None:
    lock = (ROOT / install.LOCK).read_text()
    part = install.subset(lock, install.COMMENT_PACKAGES)
    pinned = install.pins(part)
    assert set(pinned) == {install.normalize(n) for n in install.COMMENT_PACKAGES}
    assert all(pinned[n] <= install.pins(lock)[n] for n in pinned)
    assert part.count("==") == sum(len(v) for v in pinned.values())
    assert part.count("--hash=sha256:") >= len(pinned)
    assert "numpy" not in part and "scikit-learn" not in part


def test_a_venv_of_the_comment_lock_alone_posts_the_comment(tmp_path: Path, fake_github) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    venv = tmp_path / "venv"
    lock = tmp_path / "comment.lock"
    r = subprocess.run(
        [sys.executable, str(ROOT / "ci_ml" / "install.py"), "comment-lock", str(ROOT)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lock.write_text(r.stdout)
    py = str(venv / "bin" / "python")
    for cmd in (
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", py, "--require-hashes", "-r", str(lock)],
        [uv, "pip", "install", "--quiet", "--python", py, "--no-deps", "--no-build-isolation",
         str(ROOT)],
    ):  # fmt: skip
        subprocess.run(
            cmd, check=True, capture_output=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        )
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file())
    assert size < 60e6, f"{size / 1e6:.0f} MB"  # the full install is 600-800 MB
    env = {
        "PATH": os.environ["PATH"],
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": DEFAULT_TOKEN,
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }
    entry = [py, str(venv / "bin" / "ci-ml")]
    body = ROOT / "tests" / "fixtures" / "baseline-0.1.0" / "report.md"
    r = subprocess.run([*entry, "plan", "--mode", "comment"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*entry, "comment", "--body-file", str(body), "--pr", str(PR)],
                       cwd=tmp_path, env=env, capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    (comment,) = fake_github.state.comments.values()
    assert comment.issue == PR and "ci-ml" in comment.body
    assert "comment-deferred=false" in (tmp_path / "output").read_text()
