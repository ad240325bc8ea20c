"""Reproducible builds: two builds of each example are byte-identical; `ci-ml
reproduce` rebuilds a release from its record (the fake GitHub API serves it) and
reports a match, and a data file changed since is named, exit 8; `ci-ml diff`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ci_ml.errors import EXIT_NOT_REPRODUCED, EXIT_USAGE
from tests.conftest import run_cli
from tests.integration.test_registry_flow import env_for, ok

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def git(repo: Path, *args: str) -> str:
    r = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout.strip()


def committed(project: Path, untracked_data: bool = True) -> str:
    """Make the project a git repository of its own; the data files stay untracked
    (as data pulled by another tool would), so reproduce reads them from the clone."""
    ignore = ".ci-ml*/\n" + ("data/\n" if untracked_data else "")
    (project / ".gitignore").write_text(ignore)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "model")
    return git(project, "rev-parse", "HEAD")


@pytest.mark.slow  # two builds
@pytest.mark.parametrize("example", ["binary-classification", "mixed-tabular"])
def test_two_builds_of_an_example_are_byte_identical(example_copy, tmp_path, example) -> None:
    project = example_copy(example)
    outs = []
    for seed in ("1", "2"):  # fresh processes, different string hash seeds
        out = tmp_path / f"out{seed}"
        env = {"PYTHONHASHSEED": seed}
        ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env))
        outs.append(out)
    for name in ("model.onnx", "metrics.json"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_reproduce_a_release_then_a_changed_data_file(fake_github, example_copy, tmp_path):
    project = example_copy("regression")
    sha = committed(project)
    config = str(project / "ci-ml.yaml")
    env = env_for(fake_github, tmp_path, sha=sha)
    ok(run_cli("run", "--config", config, "--out", str(tmp_path / "built"), env=env))
    ok(run_cli("publish", "--config", config, "--out", str(tmp_path / "built"), env=env))

    args = ["reproduce", "model-v1", "--config", config, "--repo", str(project)]
    r = run_cli(*args, "--out", str(tmp_path / "r1"), env={**env, "PYTHONHASHSEED": "7"})
    ok(r)
    assert "matches" in r.stdout and "model.onnx** sha256: identical" in r.stdout
    result = json.loads((tmp_path / "r1" / "reproduce.json").read_text())
    assert result["matched"] and result["model"]["equal"] and result["metrics"] == []
    assert result["commit"] == sha

    data = project / "data" / "diabetes.csv"
    data.write_text(data.read_text() + data.read_text().splitlines()[-1] + "\n")  # a row twice
    r = run_cli(*args, "--out", str(tmp_path / "r2"), env=env)
    assert r.returncode == EXIT_NOT_REPRODUCED, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "data file data/diabetes.csv (data) has sha256" in r.stderr
    assert "does not match" in (tmp_path / "r2" / "reproduce.md").read_text()


def test_reproduce_refuses_a_commit_the_clone_does_not_have(example_copy, tmp_path) -> None:
    project = example_copy("regression")
    committed(project)
    out = tmp_path / "built"
    ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out)))
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("x")
    committed(other)
    r = run_cli("reproduce", str(out), "--repo", str(other), "--out", str(tmp_path / "r"))
    assert r.returncode == EXIT_USAGE and "Traceback" not in r.stderr
    assert "is not in the clone" in r.stderr and "fetch-depth: 0" in r.stderr


def test_diff_names_what_changed(example_copy, tmp_path) -> None:
    project = example_copy("regression")
    config = project / "ci-ml.yaml"
    ok(run_cli("run", "--config", str(config), "--out", str(tmp_path / "a")))
    config.write_text(config.read_text().replace("max_depth: 2", "max_depth: 3"))
    ok(run_cli("run", "--config", str(config), "--out", str(tmp_path / "b")))
    r = run_cli("diff", str(tmp_path / "a"), str(tmp_path / "b"))
    ok(r)
    assert "**model.onnx**: different" in r.stdout and "| max_depth | 2 | 3 |" in r.stdout
    assert "what changed**: config" in r.stdout
    d = json.loads(run_cli("diff", str(tmp_path / "a"), str(tmp_path / "b"), "--json").stdout)
    assert d["params"] == [{"key": "max_depth", "a": 2, "b": 3}]
    assert d["data"] == [] and d["packages"] == [] and not d["model"]["same"]
    assert {r["metric"] for r in d["metrics"]} >= {"rmse", "r2"}
