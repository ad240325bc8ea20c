"""The action's branching: one row per (event, inputs) case."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from ci_ml.cli import Runtime
from ci_ml.cli.github import cmd_plan
from ci_ml.errors import UsageError
from ci_ml.github.context import GitHubContext
from ci_ml.github.plan import Plan, plan

MAIN = "refs/heads/main"
FEATURE = "refs/heads/feature"
PR_REF = "refs/pull/7/merge"

BUILD = ("build",)

# event, ref, mode, publish, comment, baseline -> mode, steps that run (besides none)
CASES = [
    # auto mode: the event decides
    (
        "pull_request",
        PR_REF,
        "auto",
        "auto",
        "true",
        "release",
        "pr",
        {*BUILD, "comment"},
    ),
    ("pull_request", PR_REF, "auto", "auto", "false", "release", "pr", {*BUILD}),
    (
        "pull_request",
        PR_REF,
        "auto",
        "true",
        "true",
        "release",  # never publish from a PR
        "pr",
        {*BUILD, "comment"},
    ),
    ("pull_request", PR_REF, "auto", "auto", "true", "none", "pr", {*BUILD, "comment"}),
    ("pull_request", PR_REF, "auto", "auto", "true", "models/v1", "pr", {*BUILD, "comment"}),
    (
        "push",
        MAIN,
        "auto",
        "auto",
        "true",
        "release",
        "release",
        {*BUILD, "publish"},
    ),
    ("push", MAIN, "auto", "false", "true", "release", "release", {*BUILD}),
    ("push", MAIN, "auto", "auto", "true", "none", "release", {*BUILD, "publish"}),
    ("push", FEATURE, "auto", "auto", "true", "release", "build", {*BUILD}),
    (
        "push",
        FEATURE,
        "auto",
        "true",
        "true",
        "release",  # publish=true still needs the default branch
        "build",
        {*BUILD},
    ),
    (
        "push",
        "refs/tags/v1.0",
        "auto",
        "auto",
        "true",
        "release",
        "build",
        {*BUILD},
    ),
    (
        "workflow_dispatch",
        MAIN,
        "auto",
        "auto",
        "true",
        "release",
        "build",
        {*BUILD},
    ),
    (
        "workflow_dispatch",
        MAIN,
        "auto",
        "true",
        "true",
        "release",
        "build",
        {*BUILD, "publish"},
    ),
    (
        "workflow_dispatch",
        FEATURE,
        "auto",
        "true",
        "true",
        "release",
        "build",
        {*BUILD},
    ),
    ("schedule", MAIN, "auto", "auto", "true", "release", "build", {*BUILD}),
    ("schedule", MAIN, "auto", "true", "true", "none", "build", {*BUILD, "publish"}),
    (
        "release",
        "refs/tags/v1.0",
        "auto",
        "true",
        "true",
        "release",
        "build",
        {*BUILD},
    ),
    (
        "merge_group",
        "refs/heads/gh-readonly-queue/main/pr-1",
        "auto",
        "auto",
        "true",
        "release",
        "build",
        {*BUILD},
    ),
    # explicit modes
    (
        "push",
        FEATURE,
        "pr",
        "auto",
        "true",
        "release",  # no PR to comment on
        "pr",
        {*BUILD},
    ),
    ("push", MAIN, "pr", "true", "true", "release", "pr", {*BUILD}),
    (
        "workflow_dispatch",
        MAIN,
        "release",
        "auto",
        "true",
        "release",
        "release",
        {*BUILD, "publish"},
    ),
    (
        "workflow_dispatch",
        FEATURE,
        "release",
        "auto",
        "true",
        "release",
        "release",
        {*BUILD},
    ),
    (
        "pull_request",
        PR_REF,
        "release",
        "true",
        "true",
        "release",
        "release",
        {*BUILD},
    ),
    ("pull_request", PR_REF, "validate", "auto", "true", "release", "validate", {"validate"}),
    ("push", MAIN, "validate", "true", "true", "release", "validate", {"validate"}),
    ("workflow_run", MAIN, "comment", "true", "true", "release", "comment", {"comment"}),
    ("workflow_run", MAIN, "comment", "true", "false", "release", "comment", {"comment"}),
    # case and whitespace in inputs
    (
        "push",
        MAIN,
        " AUTO ",
        "Auto",
        "TRUE",
        " release ",
        "release",
        {*BUILD, "publish"},
    ),
]

STEPS = ("validate", "build", "comment", "publish")


@pytest.mark.parametrize(
    "event, ref, mode, publish, comment, baseline, want_mode, want_steps",
    CASES,
    ids=[
        f"{c[0]}-{c[1].rsplit('/', 1)[-1]}-{c[2].strip()}-pub={c[3]}-comment={c[4]}-base={c[5].strip()}"
        for c in CASES
    ],
)
def test_plan_table(event, ref, mode, publish, comment, baseline, want_mode, want_steps):
    p = plan(event, ref, "main", mode=mode, publish=publish, comment=comment, baseline=baseline)
    assert p.mode == want_mode
    assert {s for s in STEPS if getattr(p, s)} == want_steps


def test_default_branch_is_respected():
    assert plan("push", "refs/heads/trunk", "trunk").publish
    assert not plan("push", "refs/heads/main", "trunk").publish
    assert not plan("push", "refs/heads/main", "").publish


@pytest.mark.parametrize(
    "baseline, want",
    [("release", "release"), ("none", "none"), ("", "none"), (" out/base ", "out/base")],
)
def test_baseline_passes_through(baseline, want):
    assert plan("pull_request", PR_REF, "main", baseline=baseline).baseline == want


@pytest.mark.parametrize(
    "value, want", [("true", True), ("false", False), (True, True), ("No", False), ("1", True)]
)
def test_fail_on_regression(value, want):
    assert plan("push", MAIN, "main", fail_on_regression=value).fail_on_regression is want


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"mode": "nightly"}, "mode"),
        ({"publish": "always"}, "publish"),
        ({"comment": "maybe"}, "comment"),
        ({"fail_on_regression": "sometimes"}, "fail-on-regression"),
    ],
)
def test_bad_inputs_name_the_input(kwargs, word):
    with pytest.raises(UsageError, match=word) as exc:
        plan("push", MAIN, "main", **kwargs)
    assert exc.value.exit_code == 2


def test_outputs_are_kebab_case_strings():
    out = plan("pull_request", PR_REF, "main").outputs()
    assert out["build"] == "true"
    assert out["publish"] == "false"
    assert out["mode"] == "pr"
    assert out["fail-on-regression"] == "true"
    assert all(isinstance(v, str) for v in out.values())
    assert set(out) == {f.replace("_", "-") for f in Plan.__dataclass_fields__}


# mode: drift: event, ref, retrain, promote-on-pass -> drift, retrain, promote
DRIFT_CASES = [
    ("schedule", MAIN, "false", "false", (True, False, False)),
    ("schedule", MAIN, "true", "false", (True, True, False)),
    ("workflow_dispatch", MAIN, "true", "true", (True, True, True)),
    ("workflow_dispatch", MAIN, "false", "true", (True, False, False)),  # nothing to promote
    ("workflow_dispatch", FEATURE, "true", "true", (True, False, False)),  # default branch only
]


@pytest.mark.parametrize("event, ref, retrain, promote, want", DRIFT_CASES)
def test_drift_mode(event, ref, retrain, promote, want):
    p = plan(event, ref, "main", mode="drift", retrain=retrain, promote_on_pass=promote)
    assert p.mode == "drift" and (p.drift, p.retrain, p.promote) == want
    # It builds only what the drift step decides at run time: nothing in the plan.
    assert not (p.build or p.validate or p.comment or p.publish)
    assert p.outputs()["drift"] == "true"


@pytest.mark.parametrize("event", ["pull_request", "pull_request_target"])
def test_drift_mode_never_runs_on_a_pull_request(event):
    with pytest.raises(UsageError, match="does not run on a pull_request") as exc:
        plan(event, PR_REF, "main", mode="drift")
    assert "schedule" in (exc.value.hint or "")


def test_drift_inputs_must_be_booleans():
    with pytest.raises(UsageError, match="retrain"):
        plan("schedule", MAIN, "main", mode="drift", retrain="weekly")


def test_other_modes_never_drift():
    p = plan("schedule", MAIN, "main", retrain="true", promote_on_pass="true")
    assert not (p.drift or p.retrain or p.promote)


def _args(**kw):
    base = dict(
        mode="auto",
        publish="auto",
        comment="true",
        baseline="release",
        fail_on_regression="true",
        retrain="false",
        promote_on_pass="false",
        event_name=None,
        ref=None,
        default_branch=None,
    )
    base.update(kw)
    return argparse.Namespace(**base)


def test_cmd_plan_reads_event_and_writes_outputs(tmp_path, capsys):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"repository": {"default_branch": "trunk"}}))
    out = tmp_path / "out.txt"
    env = {
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_REF": "refs/heads/trunk",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(out),
    }
    assert cmd_plan(_args(), Runtime(env)) == 0
    lines = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert lines["mode"] == "release"
    assert lines["publish"] == "true"
    assert lines["comment"] == "false"
    assert "mode=release" in capsys.readouterr().out


def test_cmd_plan_arguments_override_env(tmp_path):
    out = tmp_path / "out.txt"
    env = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": MAIN, "GITHUB_OUTPUT": str(out)}
    cmd_plan(_args(event_name="pull_request", ref=PR_REF), Runtime(env))
    assert "mode=pr\n" in out.read_text()


def test_default_branch_from_event(tmp_path):
    def branch(path):
        return GitHubContext.from_env({"GITHUB_EVENT_PATH": path} if path else {}).default_branch

    assert branch(None) is None
    assert branch(str(tmp_path / "missing.json")) is None
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    assert branch(str(bad)) is None
    ok = tmp_path / "ok.json"
    ok.write_text('{"repository": {"default_branch": "develop"}}')
    assert branch(str(ok)) == "develop"


def test_cli_registers_plan(tmp_path, monkeypatch):
    from ci_ml import cli

    parser = cli.build_parser()
    args = parser.parse_args(
        [
            "plan",
            "--mode",
            "pr",
            "--publish",
            "false",
            "--comment",
            "false",
            "--baseline",
            "none",
            "--fail-on-regression",
            "false",
        ]
    )
    out = tmp_path / "out.txt"
    for k in list(os.environ):
        if k.startswith("GITHUB_"):
            monkeypatch.delenv(k)
    env = {"GITHUB_OUTPUT": str(out), "GITHUB_EVENT_NAME": "pull_request"}
    argv = ["plan", "--mode", "pr", "--comment", "false", "--baseline", "none"]
    assert cli.main_inner(argv, Runtime(env)) == 0
    assert "mode=pr\n" in out.read_text()
    assert args.handler == "ci_ml.cli.github:cmd_plan"
