"""A new user's first pull request, under a real runner (act), from scratch.

A repository is made from nothing but fresh data (six numeric columns, a text
column, an id, a yes/no target, missing values; tests/fresh_data.py, not
examples/): `ci-ml init` writes the config, the schema and the workflows;
`ci-ml run` passes with no edits; the pull-request workflow, unmodified, then
installs ci-ml from its lock, builds, comments on the PR and saves the
install with actions/cache (a local stand-in that really copies the folder).
A second push to the PR restores that install instead of installing.
"""

from __future__ import annotations

import json

import pytest
from act_harness import make_repo
from scenarios import MARKER, Repo, Scenario

from tests.conftest import run_cli
from tests.fresh_data import write_churn

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.no_cover,
    pytest.mark.xdist_group("act-first-run"),
]  # its runs on one worker

PR = 21


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fake) -> Repo:
    work = tmp_path_factory.mktemp("first-run")
    project = write_churn(work / "project")
    r = run_cli(
        "init",
        "--data",
        "data/train.csv",
        "--test",
        "data/test.csv",
        "--target",
        "churn",
        cwd=project,
    )
    assert r.returncode == 0, r.stderr
    r = run_cli("run", cwd=project)  # what the user runs next, with no edits
    assert r.returncode == 0, r.stdout + r.stderr
    root = make_repo(work / "repo", project, [])  # the workflows are the ones init wrote
    workflows = sorted((root / ".github" / "workflows").glob("*.yml"))
    assert [w.name for w in workflows] == [
        "ml-fork-comment.yml",
        "ml-pull-request.yml",
        "ml-release.yml",
    ]
    return Repo(root, work, fake, workflows)


@pytest.fixture(scope="module")
def first(repo) -> Scenario:
    return repo.pr(PR, "first PR: ci-ml init's files")


@pytest.fixture(scope="module")
def second(repo, first) -> Scenario:
    return repo.pr(PR, "second push to the PR", base=f"pr-{PR}", name="second")


def _manifest(s: Scenario) -> dict:
    return json.loads((s.artifacts / "ci-ml-build" / "manifest.json").read_text())


def test_the_first_pr_builds_and_comments(first, fake):
    run = first.run
    assert run.succeeded, run.explain()
    bodies = [c["body"] for c in fake.comments(PR) if MARKER in c["body"]]
    assert len(bodies) == 1, bodies
    assert "roc\\_auc" in bodies[0] or "roc_auc" in bodies[0]
    assert run.outputs("ci-ml").get("verdict") == "no-baseline"
    manifest = _manifest(first)
    assert manifest["model"]["preprocess"]["one_hot"]["plan"]["categories"] == 4
    assert manifest["export"]["parity"]["passed"]
    assert fake.failures() == []


def test_the_first_pr_installs_from_the_lock_and_saves_the_install(first, repo):
    run = first.run
    outputs = run.outputs("ci-ml")
    assert outputs["install-restored"] == "false", outputs
    key = outputs["install-key"]
    assert key.startswith("ci-ml-install-") and "-lock-" in key
    assert "installing ci-ml from its lock" in run.log, run.explain()
    install = _manifest(first)["environment"]["install"]
    assert install["locked"] is True and install["differs"] == {}, install
    assert run.step_results().get("Save ci-ml's install") != "skipped", run.step_results()
    assert (repo.cache / key / "ci-ml-install-key").read_text().strip() == key


def test_a_second_run_restores_the_install(second, first, repo):
    run = second.run
    assert run.succeeded, run.explain()
    outputs = run.outputs("ci-ml")
    assert outputs["install-restored"] == "true", run.explain()
    assert outputs["install-key"] == first.run.outputs("ci-ml")["install-key"]
    assert "ci-ml's install restored from the cache" in run.log
    assert "installing ci-ml from its lock" not in run.log
    assert _manifest(second)["environment"]["install"]["locked"] is True
    assert len([c for c in repo.fake.comments(PR) if MARKER in c["body"]]) == 1


def test_install_times_are_logged(first, second):
    """Not a timed assertion: the benchmark reads these lines (benchmarks/bench_install.py)."""
    for s, how in ((first, "installed"), (second, "restored")):
        assert f" s ({how})" in s.run.log, s.run.explain()
