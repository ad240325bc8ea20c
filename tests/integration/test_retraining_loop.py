"""The retraining half of the monitoring loop through the CLI, against the fake
GitHub API: the drift check's reference is the latest release even at its own
commit; a model retrained on fresh data at that commit becomes a prerelease of
its own (never overwriting the commit's release); the sticky issue links it;
`ci-ml promote` makes it latest, and the next pull request compares with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_ml.marker import DRIFT_PREFIX
from tests.conftest import run_cli
from tests.integration.conftest import HEAD_SHA, REPO
from tests.integration.test_drift_issue import write_drift
from tests.integration.test_registry_flow import env_for, ok, pr_event, release_assets

pytestmark = [pytest.mark.slow, pytest.mark.no_cover]  # two trainings of the regression example


def fresh_data(project: Path) -> None:
    """A new snapshot of the data: the blood pressure of every tenth row re-measured
    (one unit higher). Same rows, same split: a model that passes its gates."""
    path = project / "data" / "diabetes.csv"
    header, *rows = path.read_text().splitlines()
    bp = header.split(",").index("bp")
    for i in range(0, len(rows), 10):
        cells = rows[i].split(",")
        cells[bp] = str(float(cells[bp]) + 1)
        rows[i] = ",".join(cells)
    path.write_text("\n".join([header, *rows]) + "\n")


def test_retrained_candidate_is_a_prerelease_then_promoted_then_the_baseline(
    fake_github, example_copy, tmp_path
):
    project = example_copy("regression")
    cfg = str(project / "ci-ml.yaml")
    main_env = env_for(fake_github, tmp_path)  # a schedule run: GITHUB_SHA is main's head
    released = tmp_path / "release"
    ok(run_cli("run", "--config", cfg, "--out", str(released), env=main_env))
    ok(run_cli("publish", "--config", cfg, "--out", str(released), env=main_env))
    v1_assets = release_assets(fake_github)["model-v1"]
    v1_sums = (released / "SHA256SUMS").read_text()

    # The drift check's reference: the latest release, though built from this commit.
    ref = tmp_path / "reference"
    r = run_cli("baseline", "fetch", "--config", cfg, "--into", str(ref), env=main_env)
    assert r.returncode == 0 and "no baseline" in r.stdout, "a build skips its commit's release"
    r = run_cli(
        "baseline", "fetch", "--any-commit", "--config", cfg, "--into", str(ref), env=main_env
    )
    assert r.returncode == 0 and "baseline model-v1 verified" in r.stdout, r.stderr

    # Retrained on data that did not change: the build reuses the release's model,
    # which is no candidate.
    same = tmp_path / "same"
    r = run_cli("run", "--config", cfg, "--out", str(same), "--baseline", str(ref), env=main_env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_cli("publish", "--prerelease", "--config", cfg, "--out", str(same), env=main_env)
    assert r.returncode == 0 and "no candidate to publish" in r.stdout, r.stdout + r.stderr
    assert set(release_assets(fake_github)) == {"model-v1"}

    # Retrained on the fresh data, at the same commit, compared with that release.
    fresh_data(project)
    candidate = tmp_path / "candidate"
    snapshot_env = {**main_env, "CI_ML_DATA_SNAPSHOT": "exports/2026-12-02.csv"}
    r = run_cli(
        "run", "--config", cfg, "--out", str(candidate), "--baseline", str(ref), env=snapshot_env
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    manifest = json.loads((candidate / "manifest.json").read_text())
    assert manifest["provenance"]["data_snapshot"] == "exports/2026-12-02.csv"  # its lineage
    files = manifest["data"]["files"].values()
    assert files and all(f["sha256"] for f in files), "and the hash of what it read"
    comparison = json.loads((candidate / "comparison.json").read_text())
    assert comparison["verdict"] == "pass" and comparison["baseline_status"] == "scored"
    r = run_cli("publish", "--prerelease", "--config", cfg, "--out", str(candidate), env=main_env)
    assert r.returncode == 0 and "release model-v2 created" in r.stdout, r.stdout + r.stderr
    releases = {r.tag_name: r for r in fake_github.state.repo_releases(REPO)}
    assert releases["model-v2"].prerelease and not releases["model-v1"].prerelease
    assert fake_github.state.latest_release(REPO).tag_name == "model-v1"
    # The commit's own release keeps its model: a candidate gets a release of its own.
    assert release_assets(fake_github)["model-v1"] == v1_assets
    assert (released / "SHA256SUMS").read_text() == v1_sums

    drift = write_drift(tmp_path / "drift", drifted=True)
    r = run_cli(
        "drift-issue", "--config", cfg, "--drift", str(drift), "--retrained", str(candidate),
        "--candidate", "model-v2", env=main_env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (issue,) = [i for i in fake_github.state.issues.values() if DRIFT_PREFIX in i.body]
    assert "releases/tag/model-v2)" in issue.body and "**pass**" in issue.body
    assert "`exports/2026-12-02.csv`" in issue.body, "the issue names the candidate's data"

    # Promotion is deliberate: then it is latest, and the next PR compares with it.
    ok(run_cli("promote", "model-v2", "--config", cfg, env=main_env))
    assert fake_github.state.latest_release(REPO).tag_name == "model-v2"
    assert not fake_github.state.releases[releases["model-v2"].id].prerelease
    pr_env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    pr_out = tmp_path / "pr"
    r = run_cli("run", "--config", cfg, "--out", str(pr_out), "--baseline", "release", env=pr_env)
    assert r.returncode == 0, r.stdout + r.stderr
    comparison = json.loads((pr_out / "comparison.json").read_text())
    assert comparison["baseline"]["label"] == "model-v2"
