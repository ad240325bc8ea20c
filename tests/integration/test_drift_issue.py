"""`ci-ml drift-issue` against the fake GitHub API: a drift check's drift.json and
drift.md become one sticky issue, updated on the next drift, closed when the data
return to normal, reopened when they drift again; user text escaped, the token
masked, GitHub's errors exit 5, a missing or broken drift.json exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_ml import outdir
from ci_ml.errors import EXIT_GITHUB, EXIT_USAGE
from ci_ml.marker import DRIFT_PREFIX
from ci_ml.records import DriftCurrent, DriftFinding, DriftReference, DriftReport, dump
from tests.conftest import run_cli
from tests.fake_github import DEFAULT_TOKEN
from tests.integration.conftest import REPO
from tests.integration.test_registry_flow import env_for

CONFIG = str(Path(__file__).resolve().parents[2] / "examples" / "regression" / "ci-ml.yaml")
HOSTILE = "age<!-- x -->|**bold**"  # a column name from the data


def write_drift(d: Path, drifted: bool, reference: str = "model-v1") -> Path:
    """drift.json and drift.md as `ci-ml drift` writes them (its record, dumped),
    into a folder ci-ml made, as it does."""
    outdir.claim(d, "drift")
    findings = (
        [DriftFinding(severity="drift", column=HOSTILE, message=f"{HOSTILE}: mean shifted up")]
        if drifted
        else []
    )
    report = DriftReport(
        drifted=drifted,
        reference=DriftReference(source="release", label=reference, tag=reference),
        current=DriftCurrent(files=["data/fresh.csv"], rows=200),
        findings=[*findings, DriftFinding(severity="info", column=None, message="200 rows")],
    )
    (d / "drift.json").write_text(json.dumps(dump(report)))
    (d / "drift.md").write_text(
        "## Drift report\n\n| column | test |\n| --- | --- |\n| age | KS |\n"
    )
    return d


def drift_dir(tmp_path: Path, drifted: bool, name: str = "drift") -> Path:
    return write_drift(tmp_path / name, drifted)


def drift_issue(fake, tmp_path: Path, d: Path, *extra: str, env: dict | None = None):
    return run_cli(
        "drift-issue", "--config", CONFIG, "--drift", str(d), *extra,
        env=env if env is not None else env_for(fake, tmp_path),
    )  # fmt: skip


def ours(fake) -> list:
    return [i for i in fake.state.issues.values() if DRIFT_PREFIX in (i.body or "")]


def test_the_loop_opens_updates_closes_and_reopens(fake_github, tmp_path):
    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, True))
    assert r.returncode == 0, r.stderr
    (issue,) = ours(fake_github)
    assert f"drift issue #{issue.number} opened" in r.stdout
    assert issue.labels == ["ci-ml-drift"] and issue.state == "open"
    assert "drifted" in issue.title
    # The column name is escaped: no HTML comment opens, no table cell breaks.
    assert "<!-- x -->" not in issue.body and "&lt;\\!-- x --&gt;" in issue.body
    assert "\\|" in issue.body and "\\*\\*bold\\*\\*" in issue.body
    assert "https://github.example/octo/ml/actions/runs/99" in issue.body
    assert "## Drift report" in issue.body, "the whole drift report is in the issue"
    outputs = (tmp_path / "github_output").read_text()
    assert "issue-action" in outputs and str(issue.number) in outputs
    summary = (tmp_path / "summary.md").read_text()
    assert f"drift issue #{issue.number} opened: https://github.com/" in summary

    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, True))
    assert r.returncode == 0 and f"#{issue.number} updated" in r.stdout, r.stderr
    assert len(ours(fake_github)) == 1

    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, False))
    assert r.returncode == 0 and f"#{issue.number} closed" in r.stdout, r.stderr
    assert (issue.state, issue.state_reason) == ("closed", "completed")
    (note,) = [c.body for c in fake_github.state.comments.values() if c.issue == issue.number]
    assert "returned to normal" in note

    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, False))
    assert r.returncode == 0 and "nothing to do" in r.stdout

    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, True))
    assert r.returncode == 0 and f"#{issue.number} reopened" in r.stdout, r.stderr
    assert issue.state == "open" and len(ours(fake_github)) == 1


def test_the_candidate_is_linked(fake_github, tmp_path, example_build):
    fake_github.state.add_release(REPO, "model-v2", prerelease=True)
    retrained = example_build("regression")
    r = drift_issue(
        fake_github, tmp_path, drift_dir(tmp_path, True),
        "--retrained", str(retrained), "--candidate", "model-v2",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    (issue,) = ours(fake_github)
    assert "](https://github.com/octo/ml/releases/tag/model-v2)" in issue.body
    assert "ci-ml promote model-v2" in issue.body
    assert "Compared on the fresh holdout: **no-baseline**" in issue.body


def test_a_candidate_that_failed_its_gates_is_said_unpublished(
    fake_github, tmp_path, example_build
):
    retrained = example_build("regression")
    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, True), "--retrained", str(retrained))
    assert r.returncode == 0, r.stderr
    (issue,) = ours(fake_github)
    assert "Not published" in issue.body and "failed its gates" not in issue.body


def test_dry_run_needs_no_token_and_writes_the_body(tmp_path):
    d = drift_issue(None, tmp_path, drift_dir(tmp_path, True), "--dry-run", env={})
    assert d.returncode == 0, d.stderr
    assert "would open or update" in d.stdout
    body = (tmp_path / "drift" / "issue.md").read_text()
    assert body.startswith(f"<!-- {DRIFT_PREFIX} id=")
    r = drift_issue(None, tmp_path, drift_dir(tmp_path, False), "--dry-run", env={})
    assert r.returncode == 0 and "would close" in r.stdout


def test_it_writes_nothing_into_a_folder_ci_ml_did_not_make(tmp_path):
    """A drift.json in the user's own folder: read, but no issue.md is left there
    (the body is printed instead)."""
    mine = tmp_path / "mine"
    mine.mkdir()
    made = drift_dir(tmp_path, True)
    for name in ("drift.json", "drift.md"):
        (mine / name).write_bytes((made / name).read_bytes())
    r = drift_issue(None, tmp_path, mine, "--dry-run", env={})
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["drift.json", "drift.md"]
    assert f"<!-- {DRIFT_PREFIX} id=" in r.stdout


def test_without_a_token_it_says_what_is_missing(tmp_path):
    r = drift_issue(None, tmp_path, drift_dir(tmp_path, True), env={"GITHUB_REPOSITORY": REPO})
    assert r.returncode == EXIT_USAGE
    assert "GITHUB_TOKEN" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no drift.json"),
        ("{not json", "is not a ci-ml drift report"),
        ('{"drifted": "yes"}', "is not a ci-ml drift report"),
        ("[]", "is not a ci-ml drift report"),
    ],
)
def test_a_missing_or_broken_drift_json_is_a_usage_error(tmp_path, content, message):
    d = outdir.claim(tmp_path / "drift", "drift")
    if content is not None:
        (d / "drift.json").write_text(content)
    r = drift_issue(None, tmp_path, d, "--dry-run", env={})
    assert r.returncode == EXIT_USAGE and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_githubs_errors_exit_5_and_the_token_is_masked(fake_github, tmp_path):
    fake_github.add_fault(r"GET /repos/octo/ml/issues$", "status", times=20, status=500)
    env = env_for(fake_github, tmp_path)
    env["CI_ML_NETWORK_TIMEOUT"] = "5"
    env["GITHUB_ACTIONS"] = "true"
    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, True), env=env)
    assert r.returncode == EXIT_GITHUB, r.stdout + r.stderr
    assert f"::add-mask::{DEFAULT_TOKEN}" in r.stdout
    assert DEFAULT_TOKEN not in r.stderr


@pytest.mark.parametrize("mode", ["html", "wrong_shape", "hang"])
def test_garbage_or_a_hang_is_one_clear_paragraph_and_a_rerun_heals(fake_github, tmp_path, mode):
    """GitHub (or a proxy) answers the update with garbage, or never: exit 5, one
    paragraph naming the endpoint, within the deadline; a clean re-run updates."""
    d = drift_dir(tmp_path, True)
    assert drift_issue(fake_github, tmp_path, d).returncode == 0
    fake_github.add_fault(r"PATCH /repos/.*/issues/\d+$", mode, times=1000)
    env = {**env_for(fake_github, tmp_path), "CI_ML_NETWORK_TIMEOUT": "3"}
    r = drift_issue(fake_github, tmp_path, d, env=env)
    assert r.returncode == EXIT_GITHUB and "Traceback" not in r.stderr, r.stdout + r.stderr
    message, *hint = r.stderr.split("error: ", 1)[1].strip().splitlines()
    assert len(hint) == 1 and hint[0].startswith("  hint: ")
    assert f"/repos/{REPO}/issues/" in message
    fake_github.faults.clear()
    r = drift_issue(fake_github, tmp_path, d)
    assert r.returncode == 0 and "updated" in r.stdout, r.stderr
    assert len(ours(fake_github)) == 1


def test_an_issue_opened_without_its_label_is_said(fake_github, tmp_path):
    fake_github.state.refuse_new_labels = True
    r = drift_issue(fake_github, tmp_path, drift_dir(tmp_path, True))
    assert r.returncode == 0 and "opened" in r.stdout, r.stderr
    assert "would not create the label 'ci-ml-drift'" in r.stdout + r.stderr
    (issue,) = ours(fake_github)
    assert issue.labels == []


def test_a_huge_report_is_cut_to_githubs_limit_keeping_the_marker(tmp_path):
    d = drift_dir(tmp_path, True)
    rows = "".join(f"| column_{i} | KS 0.{i % 10} |\n" for i in range(6000))
    (d / "drift.md").write_text("## Drift report\n\n| column | test |\n| --- | --- |\n" + rows)
    r = drift_issue(None, tmp_path, d, "--dry-run", env={})
    assert r.returncode == 0, r.stderr
    body = (d / "issue.md").read_text()
    assert len(body) <= 65_536 and body.startswith(f"<!-- {DRIFT_PREFIX} id=")
    assert "Shortened to fit GitHub's 65,536-character" in body
    assert "mean shifted up" in body, "the findings come first and stay"
