"""The workflow templates and action.yml, run end to end by act against the fake GitHub.

One temporary repository (`octo/ml`) and one fake GitHub server serve the
whole module. Each act run is a module-scoped fixture that first brings about
what it needs (a PR run needs the release a push to main publishes), so any
test, or any order of tests, works, and tests that look at different things
of one run share it: main publishes a release, a PR compares with it and
comments, a second run updates that comment, a PR that breaks a gate fails, a
PR that breaks a model test fails, a PR with broken data fails, a PR that trains
a neural network by `model.command` comments like any other, a fork PR defers its comment, and the workflow_run
job posts it (and refuses a forged PR number). Each scenario lives on its own
branch and PR number. See act_harness for how act runs offline.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from act_harness import REPO_SLUG, make_repo, run_act
from e2e_support import ROOT, TEMPLATES
from scenarios import MARKER, READ_ONLY_TOKEN, Fake, Repo, Scenario, train_by_command

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("act")]  # its runs on one worker

PR = 7
FORK_PR = 8
GATE_PR = 9
DATA_PR = 10
MODEL_TEST_PR = 11
COMMAND_PR = 12
EXAMPLE = ROOT / "examples" / "binary-classification"
RELEASE_ASSETS = {
    "model.onnx",
    "metrics.json",
    "manifest.json",
    "report.md",
    "model-card.md",
    "SHA256SUMS",
}


# --- a trivial composite action: proves act's host mode works here at all ----------------


def test_act_runs_a_composite_action_in_host_mode(tmp_path):
    action = tmp_path / "hello-action"
    action.mkdir()
    (action / "action.yml").write_text(
        yaml.safe_dump(
            {
                "name": "hello",
                "description": "e2e smoke",
                "inputs": {"who": {"description": "who", "default": "world"}},
                "outputs": {
                    "greeting": {"description": "g", "value": "${{ steps.s.outputs.greeting }}"}
                },
                "runs": {
                    "using": "composite",
                    "steps": [
                        {
                            "id": "s",
                            "shell": "bash",
                            "env": {"WHO": "${{ inputs.who }}"},
                            "run": 'set -eEuo pipefail\necho "greeting=hello $WHO" >> "$GITHUB_OUTPUT"\n'
                            'echo "## hi $WHO from $GITHUB_REPOSITORY" >> "$GITHUB_STEP_SUMMARY"\n'
                            'test "$GITHUB_API_URL" = http://127.0.0.1:9\n',
                        }
                    ],
                },
            }
        )
    )
    workflow = tmp_path / "hello.yml"
    workflow.write_text(
        yaml.safe_dump(
            {
                "name": "hello",
                "on": "push",
                "permissions": {},
                "jobs": {
                    "j": {
                        "runs-on": "ubuntu-latest",
                        "steps": [
                            {"uses": "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"},
                            {"id": "a", "uses": "e2e/hello@v1", "with": {"who": "act"}},
                        ],
                    }
                },
            }
        )
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("x\n")
    repo = make_repo(tmp_path / "repo", project, [workflow])
    run = run_act(
        repo,
        "push",
        repo / ".github/workflows/hello.yml",
        cache_dir=tmp_path / "act",
        local_repositories={"e2e/hello@v1": action},
        env={"GITHUB_API_URL": "http://127.0.0.1:9"},
        secrets={"GITHUB_TOKEN": "ghs_e2e_smoke_token"},
    )
    assert run.succeeded, run.explain()
    assert run.outputs("a") == {"greeting": "hello act"}
    assert f"## hi act from {REPO_SLUG}" in run.summary()


# --- the repository the scenarios live in --------------------------------------------------


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fake):
    work = tmp_path_factory.mktemp("e2e")
    root = make_repo(work / "repo", EXAMPLE, TEMPLATES)
    return Repo(root, work, fake)


def _comment_bodies(fake: Fake, issue: int) -> list[str]:
    return [c["body"] for c in fake.comments(issue) if MARKER in c["body"]]


# --- the runs: each brings about what it needs ------------------------------------------------


@pytest.fixture(scope="module")
def released(repo) -> Scenario:
    return repo.push_to_main()


@pytest.fixture(scope="module")
def pr_run(repo, released) -> Scenario:
    return repo.pr(PR, "a PR with no model change")


@pytest.fixture(scope="module")
def pr_rerun(repo, pr_run) -> Scenario:
    before = [c["id"] for c in repo.fake.comments(PR) if MARKER in c["body"]]
    scenario = repo.pr(PR, "another push to the PR", base=f"pr-{PR}", name="pr-rerun")
    scenario.comment_ids_before = before  # type: ignore[attr-defined]
    return scenario


def _impossible_gate(root: Path) -> None:
    config_path = root / "ci-ml.yaml"
    config = yaml.safe_load(config_path.read_text())
    primary = (config.get("metrics") or {}).get("primary", "roc_auc")
    # No model can reach this: the gate must fail, whatever the data.
    config.setdefault("gates", []).append({"metric": primary, "min": 1.5})
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def _impossible_slice_gate(root: Path) -> None:
    config_path = root / "ci-ml.yaml"
    config = yaml.safe_load(config_path.read_text())
    # Every slice must be more than perfect: the slice gate fails, the overall gates pass.
    slices = config.setdefault("model_tests", {}).setdefault("slices", {})
    slices.setdefault("columns", {"mean_radius": [0, 15, float("inf")]})
    slices["gates"] = [{"metric": "accuracy", "min": 1.5}]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def _broken_row(root: Path) -> None:
    train = root / "data" / "train.csv"
    lines = train.read_text().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    row[header.index("mean_radius")] = "-5"  # the schema says >= 0
    lines[1] = ",".join(row)
    train.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def command_run(repo, released) -> Scenario:
    return repo.pr(COMMAND_PR, "a PR that trains a network by command", train_by_command)


@pytest.fixture(scope="module")
def gate_failure(repo, released) -> Scenario:
    return repo.pr(GATE_PR, "a PR that breaks a gate", _impossible_gate)


@pytest.fixture(scope="module")
def model_test_failure(repo, released) -> Scenario:
    return repo.pr(MODEL_TEST_PR, "a PR that breaks a model test", _impossible_slice_gate)


@pytest.fixture(scope="module")
def broken_data(repo, released) -> Scenario:
    return repo.pr(DATA_PR, "a PR with a broken data row", _broken_row)


@pytest.fixture(scope="module")
def fork_run(repo, released) -> Scenario:
    return repo.pr(FORK_PR, "a PR from a fork", fork=True, token=READ_ONLY_TOKEN)


@pytest.fixture(scope="module")
def fork_comment(repo, fork_run) -> Scenario:
    return repo.workflow_run("fork-comment", fork_run, FORK_PR)


@pytest.fixture(scope="module")
def forged_comment(repo, fork_run) -> tuple[Scenario, int]:
    forged = repo.work / "artifacts-forged"
    shutil.copytree(fork_run.artifacts, forged)
    (forged / "ci-ml-comment" / "meta.json").write_text(
        json.dumps({"pr": "7; echo pwned", "comment_id": None})
    )
    before = len(repo.fake.comments(PR))
    return repo.workflow_run("forged", fork_run, FORK_PR, artifacts=forged), before


# --- what each run must show ----------------------------------------------------------------


def test_push_to_main_publishes_a_release(released, fake):
    run = released.run
    assert run.succeeded, run.explain()
    releases = fake.releases()
    assert len(releases) == 1, releases
    release = releases[0]
    assert not release["draft"]
    assert release["tag_name"].startswith("model-v")
    assert release["target_commitish"] == released.head
    names = {a["name"] for a in release["assets"]}
    assert names >= RELEASE_ASSETS, names
    assert all(a["state"] == "uploaded" for a in release["assets"])
    assert run.outputs("ci-ml").get("release-url"), run.outputs("ci-ml")
    assert fake.failures() == []


def test_the_build_runs_in_one_process(released):
    results = released.run.step_results()
    assert results.get("ci-ml/build") == "success", results
    assert not any(k.split("/")[-1] in ("train", "evaluate", "export") for k in results), results
    for stage in ("validate", "train", "export", "evaluate", "compare", "report"):
        assert f"ci-ml {stage}" in released.run.log, stage  # a log group each


def test_pr_comments_against_the_release(pr_run, fake):
    run = pr_run.run
    assert run.succeeded, run.explain()
    bodies = _comment_bodies(fake, PR)
    assert len(bodies) >= 1, bodies
    tag = fake.releases()[0]["tag_name"]
    assert tag in bodies[0], "the comment should name the baseline release"
    outputs = run.outputs("ci-ml")
    assert outputs.get("verdict") == "pass", outputs
    assert outputs.get("comment-url"), outputs
    assert (pr_run.artifacts / "ci-ml-comment" / "body.md").is_file()
    assert run.summary().strip(), "the report belongs in the job summary"
    assert fake.failures() == []


def test_second_pr_run_updates_the_same_comment(pr_rerun, fake):
    assert pr_rerun.run.succeeded, pr_rerun.run.explain()
    after = [c for c in fake.comments(PR) if MARKER in c["body"]]
    assert len(after) == 1, after
    assert [after[0]["id"]] == pr_rerun.comment_ids_before
    assert any(r["method"] == "PATCH" and "/issues/comments/" in r["path"] for r in fake.requests())
    assert fake.failures() == []


def test_pr_that_breaks_a_gate_fails_and_says_why(gate_failure, fake):
    run = gate_failure.run
    assert not run.succeeded, run.explain()
    assert "quality gate failed" in run.log, run.explain()
    assert "1.5" in run.log, "the log should name the failed rule"
    results = run.step_results()
    assert results.get("ci-ml/build") == "success", results
    assert results.get("ci-ml/comment") == "success", results
    bodies = _comment_bodies(fake, GATE_PR)
    assert len(bodies) == 1
    assert "1.5" in bodies[0], "the comment should show the failed gate"
    assert (gate_failure.artifacts / "ci-ml-comment" / "body.md").is_file()


def test_pr_that_breaks_a_model_test_comments_it_and_fails(model_test_failure, fake):
    run = model_test_failure.run
    assert not run.succeeded, run.explain()
    assert "a model test failed" in run.log, run.explain()
    results = run.step_results()
    assert results.get("ci-ml/build") == "success", results
    assert results.get("ci-ml/comment") == "success", results
    bodies = _comment_bodies(fake, MODEL_TEST_PR)
    assert len(bodies) == 1
    assert "fails its model tests" in bodies[0] and "min 1.5" in bodies[0]


def test_pr_that_trains_by_command_comments_like_an_estimator(command_run, fake):
    run = command_run.run
    assert run.succeeded, run.explain()
    assert "parity not checked (trained by model.command)" in run.log, run.explain()
    outputs = run.outputs("ci-ml")
    assert outputs.get("verdict") == "pass" and outputs.get("model-tests") == "passed", outputs
    bodies = _comment_bodies(fake, COMMAND_PR)
    assert len(bodies) == 1
    body = bodies[0]
    assert fake.releases()[0]["tag_name"] in body, "compared with the released forest"
    assert "Trained by command: exit 0" in body and "parity not checked" in body
    assert "command: python train.py" in body  # the parameters changed, estimator included
    assert fake.failures() == []


def test_pr_with_broken_data_comments_the_failures_and_fails(broken_data, fake):
    run = broken_data.run
    assert not run.succeeded, run.explain()
    assert "data broke its schema" in run.log, run.explain()
    results = run.step_results()
    assert results.get("ci-ml/comment") == "success", results
    assert "ci-ml train" not in run.log, "nothing is trained on broken data"
    bodies = _comment_bodies(fake, DATA_PR)
    assert len(bodies) == 1
    assert "Schema failures" in bodies[0] and "mean\\_radius" in bodies[0]


def test_fork_pr_with_read_only_token_does_not_fail(fork_run, fake):
    run = fork_run.run
    assert run.succeeded, run.explain()
    assert _comment_bodies(fake, FORK_PR) == []
    assert run.summary().strip(), "the report belongs in the job summary"
    saved = fork_run.artifacts / "ci-ml-comment"
    assert (saved / "body.md").is_file()
    assert json.loads((saved / "meta.json").read_text())["pr"] == FORK_PR


def test_fork_comment_workflow_posts_the_saved_comment(fork_comment, fake):
    assert fork_comment.run.succeeded, fork_comment.run.explain()
    bodies = _comment_bodies(fake, FORK_PR)
    assert len(bodies) == 1, bodies
    assert fake.failures() == []


def test_fork_comment_refuses_a_forged_pr_number(forged_comment, fake):
    scenario, before = forged_comment
    assert not scenario.run.succeeded
    assert "'pr' must be a positive integer" in scenario.run.log, scenario.run.explain()
    assert "pwned" not in "".join(c["body"] for c in fake.comments(PR))
    assert len(fake.comments(PR)) == before
