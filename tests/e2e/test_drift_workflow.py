"""The drift workflow template (workflows/ml-drift.yml) under act, against the
fake GitHub: a repository with a released model, then three runs of the
workflow. Drifted data open one sticky issue; drifted data again, retraining on,
update that same issue and publish a candidate prerelease compared with the
release and linked from it; data back to normal close it. `ci-ml promote` then
makes the candidate the latest release (that the next pull request's build
compares with it is tests/integration/test_retraining_loop.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from act_harness import REPO_SLUG, git, make_repo
from e2e_support import ROOT, TEMPLATES
from scenarios import WRITE_TOKEN, Repo

from ci_ml.marker import DRIFT_PREFIX
from tests.conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("act-drift")]  # its runs on one worker

EXAMPLE = ROOT / "examples" / "binary-classification"
DATA = ("train.csv", "test.csv")  # the template's CURRENT_DATA: data/train.csv data/test.csv
# The user's data step, which the template runs: the fresh snapshot is in fresh/.
FRESH_SCRIPT = "set -eu\ncp fresh/train.csv data/train.csv\ncp fresh/test.csv data/test.csv\n"


def _shifted(text: str, column: str, by: float) -> str:
    """Every row's `column` moved by `by`: a mean shift the check must flag."""
    header, *rows = text.splitlines()
    i = header.split(",").index(column)
    out = [header]
    for row in rows:
        cells = row.split(",")
        cells[i] = f"{float(cells[i]) + by:g}"
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


def _fresh(root: Path, shift: float) -> None:
    """Commit this week's snapshot (fresh/), the project's data shifted or not."""
    for name in DATA:
        text = (EXAMPLE / "data" / name).read_text()
        (root / "fresh" / name).write_text(_shifted(text, "mean_texture", shift) if shift else text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"snapshot shifted by {shift}")


def _drift_issues(fake) -> list[dict]:
    return [i for i in fake.state()["issues"] if DRIFT_PREFIX in (i["body"] or "")]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fake) -> Repo:
    """The project on main, with its data step, and model-v1 released from it
    through the fake API (the CLI, as the release workflow runs it)."""
    work = tmp_path_factory.mktemp("drift")
    root = make_repo(work / "repo", EXAMPLE, TEMPLATES)
    (root / "scripts").mkdir()
    (root / "scripts" / "fresh-data.sh").write_text(FRESH_SCRIPT)
    (root / "fresh").mkdir()
    for name in DATA:
        shutil.copy2(root / "data" / name, root / "fresh" / name)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "the data step")
    env = {
        "GITHUB_API_URL": fake.url,
        "GITHUB_REPOSITORY": REPO_SLUG,
        "GITHUB_TOKEN": WRITE_TOKEN,
        "GITHUB_SHA": git(root, "rev-parse", "HEAD"),
    }
    out = work / "release"
    for command in ("run", "publish"):
        r = run_cli(command, "--config", str(root / "ci-ml.yaml"), "--out", str(out), env=env)
        assert r.returncode == 0, r.stdout + r.stderr
    return Repo(root, work, fake)


def test_the_drift_loop_opens_updates_closes_and_retrains(repo, fake):
    assert [r["tag_name"] for r in fake.releases()] == ["model-v1"]

    # 1. A scheduled run on drifted data: one issue, opened.
    _fresh(repo.root, 8.0)
    first = repo.act("drift-1", "schedule", "ml-drift.yml", payload={"schedule": "17 6 * * 1"})
    assert first.run.succeeded, first.run.explain()
    out = first.run.outputs("ci-ml")
    assert out.get("drifted") == "true" and out.get("issue-action") == "opened", out
    (issue,) = _drift_issues(fake)
    assert issue["state"] == "open" and [label["name"] for label in issue["labels"]] == [
        "ci-ml-drift"
    ]
    assert "mean\\_texture" in issue["body"] and "`model-v1`" in issue["body"]
    assert "Drift" in first.run.summary(), "the drift report is in the job summary"
    assert first.run.step_results().get("ci-ml/retrain") in (None, "skipped")

    # 2. By hand, retraining on: the same issue updated, a candidate prerelease
    # built on the fresh data, compared with model-v1, and linked.
    _fresh(repo.root, 8.5)
    payload = {"inputs": {"retrain": "true", "promote-on-pass": "false"}}
    second = repo.act("drift-2", "workflow_dispatch", "ml-drift.yml", payload=payload)
    assert second.run.succeeded, second.run.explain()
    out = second.run.outputs("ci-ml")
    assert out.get("issue-action") == "updated", out
    assert out.get("candidate-tag") == "model-v2", second.run.explain()
    assert out.get("candidate-verdict") == "pass", out
    (same,) = _drift_issues(fake)
    assert same["number"] == issue["number"], "never a second issue"
    assert "releases/tag/model-v2)" in same["body"] and "ci-ml promote model-v2" in same["body"]
    assert "`model-v1`" in same["body"], "compared with the latest release"
    candidate = next(r for r in fake.releases() if r["tag_name"] == "model-v2")
    assert candidate["prerelease"] and fake.state()["latest"][REPO_SLUG] == "model-v1"

    # 3. A scheduled run on data back to normal: the issue closed, with a comment.
    _fresh(repo.root, 0.0)
    third = repo.act("drift-3", "schedule", "ml-drift.yml", payload={"schedule": "17 6 * * 1"})
    assert third.run.succeeded, third.run.explain()
    assert third.run.outputs("ci-ml").get("issue-action") == "closed"
    (closed,) = _drift_issues(fake)
    assert (closed["number"], closed["state"], closed["state_reason"]) == (
        issue["number"],
        "closed",
        "completed",
    )
    assert any("returned to normal" in c["body"] for c in fake.comments(issue["number"]))

    # Promotion is deliberate: then the candidate is the latest release.
    env = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO_SLUG, "GITHUB_TOKEN": WRITE_TOKEN}
    r = run_cli("promote", "model-v2", "--config", str(repo.root / "ci-ml.yaml"), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert fake.state()["latest"][REPO_SLUG] == "model-v2"
    assert fake.failures() == []
