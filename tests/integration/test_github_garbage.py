"""A GitHub that speaks garbage: replies with status 200 and an HTML page, cut-off
JSON, another shape, a body that breaks off, never ends or drips, or no reply.

Every endpoint ci-ml reads gets each kind of garbage through the domain calls;
then every GitHub command gets each kind through the real CLI. Each must end in a
GitHubError (exit 5) that names the endpoint, never a traceback, within its
deadline, and leave nothing half-done: a clean re-run heals.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ci_ml.artifact import write_sums
from ci_ml.errors import EXIT_GITHUB, GitHubError, UnexpectedReply
from ci_ml.github import api as gh
from ci_ml.github import issues
from ci_ml.github.registry import GitHubRegistry
from ci_ml.services.publishing import publishable_files
from tests.conftest import EXAMPLES, run_cli
from tests.fake_github import DEFAULT_TOKEN
from tests.integration.conftest import HEAD_SHA, PR, REPO

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

MARKER = "<!-- ci-ml:report -->"
BOT = "github-actions[bot]"
# Garbage that arrives at once (cut_off: the body breaks off, so a GET is tried again).
FAST = ["html", "truncated", "wrong_shape", "cut_off"]
# Garbage that never completes: only a deadline ends it.
SLOW = ["endless", "drip", "hang"]


def marked(fake) -> list:
    return [c for c in fake.state.comments.values() if MARKER in c.body]


def body(text: str) -> str:
    return f"{MARKER}\n{text}"


# --- every endpoint, through the domain calls ---------------------------------------


@pytest.fixture
def artifact(tmp_path: Path) -> list[Path]:
    out = tmp_path / "build"
    out.mkdir()
    files = {
        "model.onnx": b"\x08\x07onnx-bytes" * 100,
        "metrics.json": b'{"r2": 0.5}',
        "manifest.json": b'{"commit": "abc"}',
        "model-card.md": b"# Model\n",
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    write_sums(out)
    return sorted(out.iterdir())


@dataclass
class Scenario:
    """A domain call, what it needs in the fake first, and what a healed state is."""

    setup: Callable[[Any, list[Path]], None]
    run: Callable[[Any, Path, list[Path]], Any]
    healed: Callable[[Any, Path, list[Path]], None]
    after_failure: Callable[[Any, Path], None] = lambda fake, tmp: None


def _two_marked_comments(fake, files) -> None:
    for text in ("old", "duplicate"):
        fake.state.add_comment(REPO, PR, body(text), BOT, "Bot")


def _one_comment(text: str) -> Callable[[Any, Path, list[Path]], None]:
    def check(fake, tmp, files) -> None:
        assert [c.body for c in marked(fake)] == [body(text)]

    return check


def _one_clean_release(fake, tmp, files) -> None:
    (release,) = [r for r in fake.state.releases.values() if r.tag_name == "model-v1"]
    assert not release.draft
    assets = {a.name: a for a in fake.state.release_assets(release.id)}
    assert sorted(assets) == sorted(f.name for f in files)
    for f in files:
        assert assets[f.name].state == "uploaded" and assets[f.name].data == f.read_bytes()


def _broken_draft(fake, files) -> None:
    release = fake.state.add_release(REPO, "model-v1", draft=True)
    fake.state.add_asset(release, "model.onnx", b"", "application/octet-stream", "starter")
    fake.state.add_asset(release, "stale.txt", b"old", "text/plain")


def _published(fake, files) -> None:
    fake.state.add_release(REPO, "model-v1", assets={f.name: f.read_bytes() for f in files})


def _fetched(fake, tmp, files) -> None:
    assert sorted(p.name for p in (tmp / "baseline").iterdir()) == sorted(
        [*(f.name for f in files), "release.json", ".ci-ml-owned"]
    )


def _nothing_fetched(fake, tmp) -> None:
    assert not (tmp / "baseline").exists()
    assert not list(tmp.glob(".baseline-*"))  # no half-downloaded temporary either


def _two_releases(fake, files) -> None:
    fake.state.add_release(REPO, "model-v1")
    fake.state.add_release(REPO, "model-v2")


def _v1_latest(fake, tmp, files) -> None:
    assert fake.state.latest_release(REPO).tag_name == "model-v1"


def _fetch(client, tmp):
    registry = GitHubRegistry(client, REPO)
    release = registry.latest("model-")
    return registry.fetch(release, tmp / "baseline") if release else None


def _publish(client, tmp, files):
    return gh.publish_release(client, REPO, "model-v1", HEAD_SHA, "model-v1", "card", files)


DRIFT = "<!-- ci-ml:drift id=abc -->"


def _drift(fake) -> list:
    return sorted(
        (i for i in fake.state.issues.values() if DRIFT in (i.body or "")), key=lambda i: i.number
    )


def _upsert_issue(client, tmp, files):
    return issues.upsert_sticky_issue(
        client, REPO, marker=DRIFT, title="drift", body=f"{DRIFT}\nnew", label="ci-ml-drift"
    )


def _close_issue(client, tmp, files):
    return issues.close_sticky_issue(
        client, REPO, marker=DRIFT, label="ci-ml-drift", comment="back to normal"
    )


def _two_drift_issues(fake, files) -> None:
    for text in ("old", "duplicate"):
        fake.state.add_issue(REPO, "drift", f"{DRIFT}\n{text}", labels=["ci-ml-drift"])


def _one_open_issue_saying_new(fake, tmp, files) -> None:
    opened = [i for i in _drift(fake) if i.state == "open"]
    assert [i.body for i in opened] == [f"{DRIFT}\nnew"]


def _all_closed(fake, tmp, files) -> None:
    assert [(i.state, i.state_reason) for i in _drift(fake)] == [("closed", "completed")] * 2


SCENARIOS: dict[str, Scenario] = {
    "drift issue opened": Scenario(
        setup=lambda fake, files: None, run=_upsert_issue, healed=_one_open_issue_saying_new
    ),
    "drift issue updated": Scenario(
        setup=_two_drift_issues, run=_upsert_issue, healed=_one_open_issue_saying_new
    ),
    "drift issue closed": Scenario(setup=_two_drift_issues, run=_close_issue, healed=_all_closed),
    "comment created": Scenario(
        setup=lambda fake, files: None,
        run=lambda client, tmp, files: gh.upsert_sticky_comment(
            client, REPO, PR, body("new"), MARKER
        ),
        healed=_one_comment("new"),
    ),
    "comment updated": Scenario(
        setup=_two_marked_comments,
        run=lambda client, tmp, files: gh.upsert_sticky_comment(
            client, REPO, PR, body("new"), MARKER
        ),
        healed=_one_comment("new"),
    ),
    "pr head": Scenario(
        setup=lambda fake, files: None,
        run=lambda client, tmp, files: gh.verify_pr_head(client, REPO, PR, HEAD_SHA),
        healed=lambda fake, tmp, files: None,
    ),
    "publish": Scenario(setup=lambda fake, files: None, run=_publish, healed=_one_clean_release),
    "publish over a broken draft": Scenario(
        setup=_broken_draft, run=_publish, healed=_one_clean_release
    ),
    "fetch": Scenario(
        setup=_published,
        run=lambda client, tmp, files: _fetch(client, tmp),
        healed=_fetched,
        after_failure=_nothing_fetched,
    ),
    "promote": Scenario(
        setup=_two_releases,
        run=lambda client, tmp, files: gh.mark_latest(client, REPO, "model-v1"),
        healed=_v1_latest,
    ),
}

# (scenario, route, is the reply read?) for every endpoint ci-ml calls. A reply that is
# not read (a DELETE's, an upload's) or a write whose reply is lost (ci-ml looks before it
# repeats) may be garbage without harm.
ENDPOINTS = [
    ("drift issue opened", r"GET /repos/.*/issues$", True),
    ("drift issue opened", r"POST /repos/.*/issues$", False),
    ("drift issue updated", r"PATCH /repos/.*/issues/\d+$", True),
    ("drift issue updated", r"POST /repos/.*/issues/\d+/comments", False),
    ("drift issue closed", r"POST /repos/.*/issues/\d+/comments", False),
    ("drift issue closed", r"PATCH /repos/.*/issues/\d+$", True),
    ("comment created", r"GET /repos/.*/issues/\d+/comments", True),
    ("comment created", r"POST /repos/.*/issues/\d+/comments", False),
    ("comment updated", r"GET /repos/.*/issues/\d+/comments", True),
    ("comment updated", r"PATCH /repos/.*/issues/comments/", True),
    ("comment updated", r"DELETE /repos/.*/issues/comments/", False),
    ("pr head", r"GET /repos/.*/pulls/", True),
    ("publish", r"GET /repos/.*/releases/tags/", True),
    ("publish", r"GET /repos/.*/releases$", True),
    ("publish", r"POST /repos/.*/releases$", False),
    ("publish", r"GET /repos/.*/releases/\d+/assets", True),
    ("publish", r"POST /uploads/", False),
    ("publish", r"PATCH /repos/.*/releases/\d+$", True),
    ("publish over a broken draft", r"DELETE /repos/.*/releases/assets/", False),
    ("fetch", r"GET /repos/.*/releases$", True),
    ("fetch", r"GET /repos/.*/releases/assets/", True),
    ("promote", r"GET /repos/.*/releases/tags/", True),
    ("promote", r"PATCH /repos/.*/releases/\d+$", True),
]


@pytest.mark.parametrize("mode", FAST)
@pytest.mark.parametrize(
    ("scenario", "route", "read"), ENDPOINTS, ids=[f"{s}: {r}" for s, r, _ in ENDPOINTS]
)
def test_garbage_from_any_endpoint_is_a_github_error_and_a_rerun_heals(
    fake_github, make_client, artifact, tmp_path, scenario, route, read, mode
):
    case = SCENARIOS[scenario]
    case.setup(fake_github, artifact)
    fault = fake_github.add_fault(route, mode)
    failure: GitHubError | None = None
    try:
        case.run(make_client(), tmp_path, artifact)
    except GitHubError as e:  # anything else (KeyError, TypeError, ...) fails the test
        failure = e
    assert fault.times == 0, "the scenario never reached this endpoint"
    if read and mode != "cut_off":  # cut_off: the body broke off, and a GET or PATCH repeats
        assert isinstance(failure, UnexpectedReply), failure
        assert f"GitHub sent an unexpected reply to {route.split()[0]} {fake_github.url}/" in str(
            failure
        )
        case.after_failure(fake_github, tmp_path)
    else:
        assert failure is None, failure
    case.run(make_client(), tmp_path, artifact)  # a clean re-run
    case.healed(fake_github, tmp_path, artifact)


def test_a_comment_by_a_deleted_user_is_no_problem(fake_github, client):
    """GitHub sends ``"user": null`` for a deleted account; the description allows it."""
    ghost = fake_github.state.add_comment(REPO, PR, body("quoted by a deleted account"), None)
    fake_github.state.add_comment(REPO, PR, "hello", None)
    result = gh.upsert_sticky_comment(client, REPO, PR, body("report"), MARKER)
    assert result.action == "created" and result.id != ghost.id
    again = gh.upsert_sticky_comment(client, REPO, PR, body("report 2"), MARKER)
    assert (again.action, again.id) == ("updated", result.id)
    assert fake_github.state.comments[ghost.id].body == body("quoted by a deleted account")


def test_deliberately_broken_replies_are_recorded_apart(fake_github, client):
    """The fixture's "no spec failures" check holds: garbage is in ``deliberate``."""
    fake_github.add_fault("GET /repos/", "wrong_shape")
    with pytest.raises(UnexpectedReply):
        gh.verify_pr_head(client, REPO, PR, HEAD_SHA)
    assert fake_github.failures == []
    (broken,) = fake_github.deliberate
    assert broken["kind"] == "wrong_shape" and broken["path"] == f"/repos/{REPO}/pulls/{PR}"
    assert any("is not of type" in p for p in broken["problems"])


# --- every command, through the CLI -------------------------------------------------

# A slow mode waits out this deadline; a fast mode fails at once, under a deadline
# no busy machine reaches before the broken endpoint (publish uploads first).
DEADLINE = "3"
FAST_DEADLINE = "60"
CLI_SLACK = 10.0


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(config, artifact directory) of one real build, shared by the CLI tests."""
    root = tmp_path_factory.mktemp("built")
    project = root / "regression"
    shutil.copytree(EXAMPLES / "regression", project, ignore=shutil.ignore_patterns(".ci-ml"))
    out = root / "out"
    r = run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return project / "ci-ml.yaml", out


# command -> (arguments, the endpoint that speaks garbage: deep in the command's work,
# where a half-done state could be left behind)
COMMANDS = {
    "comment": (["comment", "--pr", str(PR)], r"GET /repos/.*/issues/\d+/comments"),
    "publish": (["publish"], r"GET /repos/.*/releases/\d+/assets"),
    "baseline fetch": (["baseline", "fetch"], r"GET /repos/.*/releases/assets/"),
    "promote": (["promote", "--tag", "model-v0"], r"PATCH /repos/.*/releases/\d+$"),
    "run --baseline release": (["run", "--baseline", "release"], r"GET /repos/.*/releases/assets/"),
    "compare --baseline release": (
        ["compare", "--baseline", "release"],
        r"GET /repos/.*/releases/assets/",
    ),
}


def cli_env(fake, tmp_path: Path) -> dict[str, str]:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({}))
    return {
        "GITHUB_API_URL": fake.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": DEFAULT_TOKEN,
        "GITHUB_SHA": "1" * 40,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
    }


def _command_modes() -> list:
    """Every command x every mode. A slow mode waits out the deadline: the fast tier
    runs each once, each with another command; the full run runs them all."""
    cases = []
    for i, command in enumerate(COMMANDS):
        for mode in FAST + SLOW:
            marks = [pytest.mark.slow] if mode in SLOW and i != SLOW.index(mode) else []
            cases.append(pytest.param(command, mode, marks=marks, id=f"{command}-{mode}"))
    return cases


@pytest.mark.parametrize(("command", "mode"), _command_modes())
def test_every_command_exits_5_with_one_clear_paragraph(
    fake_github, built, tmp_path, command, mode
):
    config, build = built
    out = tmp_path / "out"
    shutil.copytree(build, out)
    published = {f.name: f.read_bytes() for f in publishable_files(build)}
    fake_github.state.add_release(REPO, "model-v1", assets=published)
    if command == "promote":  # an older release, not latest: promoting it has work to do
        fake_github.state.add_release(REPO, "model-v0", make_latest=False)
    args, route = COMMANDS[command]
    if command.endswith("--baseline release"):
        out = tmp_path / "pr"  # a fresh build directory: the fetch comes first
    fault = fake_github.add_fault(route, mode, times=1000, delay=0.2)

    start = time.monotonic()
    r = run_cli(
        *args,
        "--config",
        str(config),
        "--out",
        str(out),
        "--network-timeout",
        DEADLINE if mode in SLOW else FAST_DEADLINE,
        env=cli_env(fake_github, tmp_path),
        timeout=120,
    )
    elapsed = time.monotonic() - start

    assert fault.times < 1000, f"the command never reached the broken endpoint: {r.stderr}"
    assert r.returncode == EXIT_GITHUB, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    error = r.stderr.split("error: ", 1)[1].strip()
    message, *hint = error.splitlines()
    assert len(hint) == 1 and hint[0].startswith("  hint: ")  # one paragraph: what, then how
    assert f"/repos/{REPO}/" in message  # names the endpoint
    if mode in SLOW:
        assert f"network deadline of {DEADLINE} s" in message
        assert "notice: waiting up to" in r.stderr  # the wait was announced
        assert elapsed < float(DEADLINE) + CLI_SLACK

    # Nothing half-done.
    assert not (out / "baseline").exists() and not list(out.glob(".baseline-*"))
    published_tags = {r.tag_name for r in fake_github.state.releases.values() if not r.draft}
    assert published_tags - {"model-v0"} == {"model-v1"}
    assert len(marked_cli(fake_github)) == 0


def marked_cli(fake) -> list:
    return [c for c in fake.state.comments.values() if "ci-ml:comment" in c.body]


def test_publish_broken_midway_leaves_a_draft_that_a_rerun_publishes(fake_github, built, tmp_path):
    config, build = built
    env = cli_env(fake_github, tmp_path)
    args = ["publish", "--config", str(config), "--out", str(build), "--network-timeout", DEADLINE]
    fake_github.add_fault(r"PATCH /repos/.*/releases/\d+$", "hang", times=1000)
    r = run_cli(*args, env=env, timeout=120)
    assert r.returncode == EXIT_GITHUB and "Traceback" not in r.stderr
    assert f"network deadline of {DEADLINE} s" in r.stderr
    (release,) = fake_github.state.releases.values()
    assert release.draft  # the PATCH that publishes it never got an answer (nor processed)
    assert len(fake_github.state.release_assets(release.id)) == len(publishable_files(build))
    fake_github.faults.clear()
    r = run_cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    (release,) = fake_github.state.releases.values()
    assert not release.draft and release.tag_name == "model-v1"


def test_comment_whose_creation_reply_is_garbage_is_found_and_not_duplicated(
    fake_github, built, tmp_path
):
    config, build = built
    out = tmp_path / "out"
    shutil.copytree(build, out)
    fake_github.add_fault(r"POST /repos/.*/issues/\d+/comments", "truncated")
    r = run_cli(
        "comment",
        "--config",
        str(config),
        "--out",
        str(out),
        "--pr",
        str(PR),
        env=cli_env(fake_github, tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert "comment created" in r.stdout and len(marked_cli(fake_github)) == 1
