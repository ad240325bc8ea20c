"""`ci-ml init` as a user runs it: from a data file to a project whose first
`ci-ml run` passes with no edits; it never overwrites a file unless told to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli
from tests.fresh_data import write_churn

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

WRITTEN = [
    "ci-ml.yaml",
    "schema.yaml",
    ".github/workflows/ml-pull-request.yml",
    ".github/workflows/ml-release.yml",
    ".github/workflows/ml-fork-comment.yml",
    ".gitignore",
]


@pytest.mark.parametrize("split_files", [True, False], ids=["train-and-test", "one-file"])
def test_init_then_run_passes_with_no_edits(tmp_path: Path, split_files: bool) -> None:
    project = write_churn(tmp_path / "churn", split_files=split_files)
    args = (
        ["--data", "data/train.csv", "--test", "data/test.csv"]
        if split_files
        else [
            "--data",
            "data/customers.csv",
        ]
    )
    r = run_cli("init", *args, "--target", "churn", cwd=project)
    assert r.returncode == 0, r.stderr
    for name in WRITTEN:
        assert (project / name).is_file(), name
    assert "next:\n  ci-ml run " in r.stdout and "git add" in r.stdout
    data = args[1::2]
    git_add = next(line for line in r.stdout.splitlines() if "git add" in line)
    for path in data:  # a clean clone builds only from what was committed
        assert f" {path} " in git_add, git_add
    # Every stage by its command, in order (the tuple is the one list of them).
    from ci_ml.stages import STAGES

    assert ", ".join(s.command for s in STAGES) in r.stdout
    assert (project / ".gitignore").read_text().split() == [".ci-ml/", ".venv/"]
    r = run_cli("run", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr
    # Each stage's line says its time; the end, all of them.
    assert "times: validate " in r.stdout and "; total " in r.stdout
    manifest = json.loads((project / ".ci-ml" / "manifest.json").read_text())
    assert manifest["model"]["preprocess"]["one_hot"] == {
        "plan": {"categories": 4, "encoded_as_unknown": 0}  # basic, premium, standard, ""
    }
    assert manifest["metrics"]["primary"] == "roc_auc"
    assert manifest["export"]["parity"]["passed"]
    comparison = json.loads((project / ".ci-ml" / "comparison.json").read_text())
    assert comparison["verdict"] == "no-baseline"
    assert sorted(g["status"] for g in comparison["gates"]) == ["pass", "skipped"]


def test_init_on_a_regression_target(tmp_path: Path) -> None:
    project = tmp_path / "reg"
    (project / "data").mkdir(parents=True)
    (project / "data" / "diabetes.csv").write_bytes(
        (EXAMPLES / "regression" / "data" / "diabetes.csv").read_bytes()
    )
    r = run_cli("init", "--data", "data/diabetes.csv", "--target", "progression", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "regression of 'progression'" in r.stdout and "gates on rmse" in r.stdout
    r = run_cli("run", cwd=project)
    assert r.returncode == 0, r.stdout + r.stderr


def test_init_never_overwrites_unless_forced(tmp_path: Path) -> None:
    project = write_churn(tmp_path / "p")
    (project / "schema.yaml").write_text("# mine\n")
    args = ("init", "--data", "data/train.csv", "--target", "churn")
    r = run_cli(*args, cwd=project)
    assert r.returncode == 2
    assert "would overwrite schema.yaml; nothing was written" in r.stderr
    assert "--force" in r.stderr and "Traceback" not in r.stderr
    assert (project / "schema.yaml").read_text() == "# mine\n"
    assert not (project / "ci-ml.yaml").exists()
    r = run_cli(*args, "--force", cwd=project)
    assert r.returncode == 0, r.stderr
    assert (project / "schema.yaml").read_text().startswith("# pandera schema inferred")


def test_init_into_another_folder_says_how_to_run_there(tmp_path: Path) -> None:
    write_churn(tmp_path)
    r = run_cli(
        "init", "--data", "data/train.csv", "--target", "churn", "--dir", "repo", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    config = (tmp_path / "repo" / "ci-ml.yaml").read_text()
    assert "  path: ../data/train.csv" in config
    assert "ci-ml run --config repo/ci-ml.yaml" in r.stdout and "cd repo && git add" in r.stdout


def test_what_init_says_to_commit_is_enough_for_a_clean_clone_to_build(tmp_path: Path) -> None:
    """The first screen's promise: init, run the `git add && git commit` it prints, and a
    fresh clone of that commit builds (nothing the build needs was left out)."""
    import shlex
    import subprocess

    project = write_churn(tmp_path / "repo")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
    r = run_cli("init", "--data", "data/train.csv", "--test", "data/test.csv", "--target",
                "churn", cwd=project)  # fmt: skip
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "git add" in ln)
    add, commit = (shlex.split(part) for part in line.split("#")[0].split(" && ")[:2])
    assert add[:2] == ["git", "add"] and commit[:2] == ["git", "commit"]
    subprocess.run([*git, *add[1:]], cwd=project, check=True)
    subprocess.run([*git, *commit[1:], "-q"], cwd=project, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(project), str(clone)], check=True)
    r = run_cli("run", cwd=clone)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (clone / ".ci-ml" / "model.onnx").is_file()
