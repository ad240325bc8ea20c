"""Registry operations and the defects found against GitHub's API description:
promote and rollback decide what the next PR compares with, a re-publish never
moves "latest" back nor re-sends unchanged files, `--tag` cannot take over a
release that is not the model's, a personal access token finds its own comment,
and a re-run on main compares with the model before its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ci_ml.github import api as gh
from ci_ml.registry import audit
from ci_ml.registry.base import Release
from tests.conftest import run_cli
from tests.integration.conftest import HEAD_SHA, PR, REPO
from tests.integration.test_registry_flow import env_for, ok, pr_event

SHA = {n: str(n) * 40 for n in (1, 2, 3)}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(config, build) of the regression example, built once for the module."""
    from tests.conftest import EXAMPLES

    root = tmp_path_factory.mktemp("registry")
    project = root / "regression"
    shutil.copytree(EXAMPLES / "regression", project, ignore=shutil.ignore_patterns(".ci-ml"))
    out = root / "out"
    ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out)))
    return project / "ci-ml.yaml", out


def cli(fake, tmp_path: Path, *args: str, sha: str = SHA[1], event=None, **env):
    e = env_for(fake, tmp_path, sha=sha, event=event)
    e.update(env)
    return run_cli(*args, env=e)


def publish(fake, tmp_path, built, sha: str, *extra: str):
    config, out = built
    copy = tmp_path / f"out-{sha[:3]}-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(out, copy)
    return cli(
        fake, tmp_path, "publish", "--config", str(config), "--out", str(copy), *extra, sha=sha
    )


def baseline_tag(fake, tmp_path, built, sha: str = HEAD_SHA) -> str | None:
    config, _ = built
    into = tmp_path / f"fetch-{len(list(tmp_path.iterdir()))}"
    r = cli(
        fake, tmp_path, "baseline", "fetch", "--config", str(config), "--into", str(into), sha=sha
    )
    ok(r)
    origin = into / "release.json"
    return json.loads(origin.read_text())["tag"] if origin.is_file() else None


def notes(fake, tag: str) -> str:
    (r,) = [r for r in fake.state.releases.values() if r.tag_name == tag]
    return r.body or ""


def latest(fake) -> str:
    return fake.state.latest_release(REPO).tag_name


def test_promote_and_rollback_decide_what_the_next_pr_compares_with(
    fake_github, built, tmp_path
) -> None:
    config, _ = built
    ok(publish(fake_github, tmp_path, built, SHA[1]))
    ok(publish(fake_github, tmp_path, built, SHA[2]))
    assert latest(fake_github) == "model-v2" == baseline_tag(fake_github, tmp_path, built)

    r = cli(fake_github, tmp_path, "rollback", "--config", str(config), "--reason", "drifted",
            GITHUB_ACTOR="alice")  # fmt: skip
    ok(r)
    assert latest(fake_github) == "model-v1" == baseline_tag(fake_github, tmp_path, built)
    assert "**rolled back** by @alice" in notes(fake_github, "model-v2")
    assert "latest is now model-v1: drifted" in notes(fake_github, "model-v2")
    assert "**promoted to latest** by @alice" in notes(fake_github, "model-v1")
    rows = {row.tag: row for row in audit.registry_rows(
        [gh.release_record(fake_github.state.release_json(r))
         for r in fake_github.state.repo_releases(REPO)],
        fake_github.state.latest_release(REPO).id, "model-v")}  # fmt: skip
    assert rows["model-v2"].state == "rolled back" and rows["model-v1"].latest

    # Idempotent: a second rollback changes nothing and writes nothing.
    before = {t: notes(fake_github, t) for t in ("model-v1", "model-v2")}
    r = cli(fake_github, tmp_path, "rollback", "--config", str(config))
    ok(r)
    assert "rolled back already" in r.stdout
    assert {t: notes(fake_github, t) for t in before} == before and latest(
        fake_github
    ) == "model-v1"

    # Re-running v2's release job must not undo the rollback.
    ok(publish(fake_github, tmp_path, built, SHA[2]))
    assert latest(fake_github) == "model-v1" == baseline_tag(fake_github, tmp_path, built)

    # An explicit promote sticks; promoting the latest again is a no-op.
    r = cli(fake_github, tmp_path, "promote", "model-v2", "--config", str(config),
            "--reason", "fixed upstream", GITHUB_ACTOR="bob")  # fmt: skip
    ok(r)
    assert latest(fake_github) == "model-v2" == baseline_tag(fake_github, tmp_path, built)
    assert "**promoted to latest** by @bob" in notes(fake_github, "model-v2")
    before = notes(fake_github, "model-v2")
    ok(cli(fake_github, tmp_path, "promote", "--tag", "model-v2", "--config", str(config)))
    assert notes(fake_github, "model-v2") == before

    # The next new model becomes latest again.
    ok(publish(fake_github, tmp_path, built, SHA[3]))
    assert latest(fake_github) == "model-v3"

    r = cli(fake_github, tmp_path, "registry", "list", "--config", str(config), "--json")
    ok(r)
    listed = json.loads(r.stdout)
    assert [row["tag"] for row in listed] == ["model-v3", "model-v2", "model-v1"]
    assert [row["latest"] for row in listed] == [True, False, False]
    assert listed[0]["primary_metric"] == "rmse" and listed[0]["primary_value"] > 0
    table = cli(fake_github, tmp_path, "registry", "list", "--config", str(config))
    ok(table)
    assert "| model-v3 | 3333333 |" in table.stdout


def test_a_rerun_on_main_compares_with_the_model_before_its_own(fake_github, built, tmp_path):
    ok(publish(fake_github, tmp_path, built, SHA[1]))
    ok(publish(fake_github, tmp_path, built, SHA[2]))
    # The release job of commit 2 runs again: its baseline is v1, not v2 itself.
    assert baseline_tag(fake_github, tmp_path, built, sha=SHA[2]) == "model-v1"
    assert baseline_tag(fake_github, tmp_path, built, sha=HEAD_SHA) == "model-v2"


def test_a_republish_sends_only_what_changed_and_lists_releases_once(
    fake_github, built, tmp_path
) -> None:
    ok(publish(fake_github, tmp_path, built, SHA[1]))
    fake_github.requests.clear()
    r = publish(fake_github, tmp_path, built, SHA[1])
    ok(r)
    assert "sent: none" in r.stdout
    assert fake_github.api_requests("POST", "^/uploads/") == []
    assert fake_github.api_requests("DELETE") == []
    assert len(fake_github.api_requests("GET", f"^/repos/{REPO}/releases$")) == 1
    assert "republished" not in notes(fake_github, "model-v1")  # nothing happened


def test_a_changed_file_is_uploaded_aside_and_swapped_in(fake_github, client, tmp_path) -> None:
    out = tmp_path / "a"
    out.mkdir()
    for name, data in {"model.onnx": b"m1", "metrics.json": b"{}", "SHA256SUMS": b"s"}.items():
        (out / name).write_bytes(data)
    files = sorted(out.iterdir())
    gh.publish_release(client, REPO, "model-v1", HEAD_SHA, "v1", "card", files)
    (out / "model.onnx").write_bytes(b"m2")
    fake_github.requests.clear()
    result = gh.publish_release(client, REPO, "model-v1", HEAD_SHA, "v1", "card", files)
    assert result.sent == ["model.onnx"]
    (upload,) = fake_github.api_requests("POST", "^/uploads/")
    assert upload["query"]["name"] == "model.onnx" + gh.NEW_SUFFIX
    (rename,) = fake_github.api_requests("PATCH", "/releases/assets/")
    assert rename["json"] == {"name": "model.onnx"}
    (release,) = fake_github.state.releases.values()
    assets = {a.name: a.data for a in fake_github.state.release_assets(release.id)}
    assert assets == {"model.onnx": b"m2", "metrics.json": b"{}", "SHA256SUMS": b"s"}


def test_tag_naming_an_unrelated_release_is_refused(fake_github, built, tmp_path) -> None:
    fake_github.state.add_release(REPO, "v1.0", assets={"app.tar.gz": b"the app"})
    r = publish(fake_github, tmp_path, built, SHA[1], "--tag", "v1.0")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "refusing to publish into release v1.0: it was not made by ci-ml" in r.stderr
    (release,) = fake_github.state.releases.values()
    assert [a.name for a in fake_github.state.release_assets(release.id)] == ["app.tar.gz"]


def test_tag_naming_another_models_release_is_refused(fake_github, built, tmp_path) -> None:
    ok(publish(fake_github, tmp_path, built, SHA[1]))
    (release,) = fake_github.state.releases.values()
    release.body = release.body.replace('"name": "diabetes-progression"', '"name": "churn"')
    r = publish(fake_github, tmp_path, built, SHA[2], "--tag", "model-v1")
    assert r.returncode == 2 and "it holds another model ('churn')" in r.stderr


def test_tags_are_percent_encoded_in_paths(fake_github, client) -> None:
    fake_github.state.add_release(REPO, "model+v1")
    assert gh.get_release_by_tag(client, REPO, "model+v1")["tag_name"] == "model+v1"
    assert fake_github.api_requests("GET", "/releases/tags/model%2Bv1$")


def test_a_personal_access_token_updates_its_own_comment(fake_github, built, tmp_path) -> None:
    config, out = built
    fake_github.add_token("ghp_personal", login="carol", type="User")
    work = tmp_path / "pr"
    shutil.copytree(out, work)
    args = ("comment", "--config", str(config), "--out", str(work), "--pr", str(PR))
    for _ in range(2):
        ok(cli(fake_github, tmp_path, *args, GITHUB_TOKEN="ghp_personal"))
    comments = list(fake_github.state.comments.values())
    assert len(comments) == 1 and comments[0].user["login"] == "carol"
    assert fake_github.api_requests("DELETE") == []


def test_a_comment_by_a_deleted_account_does_not_crash_the_command(
    fake_github, built, tmp_path
) -> None:
    config, out = built
    work = tmp_path / "pr"
    shutil.copytree(out, work)
    marker = next(
        line for line in (out / "report.md").read_text().splitlines() if "ci-ml:comment" in line
    )
    ghost = fake_github.state.add_comment(REPO, PR, f"{marker}\nquoted", login=None)
    r = cli(fake_github, tmp_path, "comment", "--config", str(config), "--out", str(work),
            "--pr", str(PR), event=pr_event())  # fmt: skip
    ok(r)
    assert fake_github.state.comments[ghost.id].body.endswith("quoted")
    assert len(fake_github.state.comments) == 2


@pytest.mark.parametrize(
    ("existing", "latest", "tag", "want"),
    [
        (None, None, "model-v1", True),
        (None, "model-v2", "model-v3", True),
        (None, "model-v5", "model-v3", False),  # never backwards
        ({"draft": True}, "model-v1", "model-v2", True),
        ({"draft": False}, "model-v1", "model-v2", None),  # a re-publish leaves latest alone
        (None, "v9.0", "model-v1", True),  # the repo's latest is not a model release
    ],
)
def test_latest_decision(existing, latest, tag, want) -> None:
    latest_release = Release(latest, 1, "t") if latest else None
    existing = Release(tag, 2, "t", draft=existing["draft"]) if existing else None
    assert audit.latest_decision(existing, latest_release, tag, "model-v") is want


def test_hidden_json_cannot_close_its_comment() -> None:
    from ci_ml.marker import read_release_marker, release_marker

    facts = {"name": "a --> <b>", "value": -0.5}
    text = release_marker(facts)
    assert text.count("-->") == 1 and "<b>" not in text
    assert read_release_marker(f"x\n{text}\ny") == facts


def test_the_release_names_the_pr_that_brought_it(fake_github, example_copy, tmp_path) -> None:
    fake_github.state.pulls[(REPO, PR)].update(
        {"merge_commit_sha": SHA[1], "title": "Deeper trees", "author": "alice"}
    )
    fake_github.state.add_review(REPO, PR, "bob", "COMMENTED")
    fake_github.state.add_review(REPO, PR, "bob", "APPROVED")
    fake_github.state.add_review(REPO, PR, "carol", "APPROVED")
    fake_github.state.add_review(REPO, PR, "carol", "CHANGES_REQUESTED")
    project = example_copy("regression")
    config = str(project / "ci-ml.yaml")
    env = env_for(fake_github, tmp_path, sha=SHA[1])
    env.update({"GITHUB_EVENT_NAME": "push", "GITHUB_ACTOR": "alice"})
    ok(run_cli("run", "--config", config, "--out", str(tmp_path / "o"), env=env))
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["provenance"] == {
        "run_url": "https://github.example/octo/ml/actions/runs/99",
        "actor": "alice",
        "pull_request": {
            "number": PR,
            "title": "Deeper trees",
            "author": "alice",
            "url": f"https://github.com/{REPO}/pull/{PR}",
            "approved_by": ["bob"],
        },
        "data_snapshot": None,  # named only by a retraining run (CI_ML_DATA_SNAPSHOT)
    }
    card = (tmp_path / "o" / "model-card.md").read_text()
    assert "**Brought by**: PR #7 “Deeper trees” by @alice, approved by @bob" in card
    assert "**Built in**: [workflow run](https://github.example/octo/ml/actions/runs/99)" in card
    ok(run_cli("publish", "--config", config, "--out", str(tmp_path / "o"), env=env))
    body = notes(fake_github, "model-v1")
    assert "**published** by @alice from commit `111111111111`" in body
    assert "(PR #7 “Deeper trees” by @alice, approved by @bob)" in body
    assert "[run](https://github.example/octo/ml/actions/runs/99)" in body


def test_an_unreachable_github_does_not_fail_a_build_for_its_audit_trail(
    example_copy, tmp_path
) -> None:
    project = example_copy("regression")
    env = {
        "GITHUB_API_URL": "http://127.0.0.1:9",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "ghs_x",
        "GITHUB_SHA": SHA[1],
        "GITHUB_EVENT_NAME": "push",
        "CI_ML_NETWORK_TIMEOUT": "2",
    }
    r = run_cli(
        "run", "--config", str(project / "ci-ml.yaml"), "--out", str(tmp_path / "o"), env=env
    )
    ok(r)
    assert "is not recorded" in r.stderr
