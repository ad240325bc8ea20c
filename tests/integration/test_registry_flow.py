"""The GitHub flow through the CLI, against the fake GitHub API on 127.0.0.1:
publish on main → a PR build fetches that release as its baseline → the sticky
comment is created, then updated; plus re-runs, forks and tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.fake_github import DEFAULT_TOKEN, Token
from tests.integration.conftest import HEAD_SHA, PR, REPO

MAIN_SHA = "1" * 40


def env_for(
    fake,
    tmp_path: Path,
    *,
    sha: str = MAIN_SHA,
    event: dict | None = None,
    token: str = DEFAULT_TOKEN,
) -> dict:
    event_path = tmp_path / "event.json"
    event_path.write_text(json.dumps(event or {}))
    return {
        "GITHUB_API_URL": fake.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": token,
        "GITHUB_SHA": sha,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "99",
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def pr_event() -> dict:
    return {"number": PR, "pull_request": {"number": PR, "head": {"sha": HEAD_SHA}}}


def ok(r) -> None:
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def release_assets(fake) -> dict[str, list[str]]:
    s = fake.state
    return {
        r.tag_name: sorted(a.name for a in s.release_assets(r.id)) for r in s.repo_releases(REPO)
    }


@pytest.fixture
def project(example_copy) -> Path:
    return example_copy("regression")


def build_and_publish(project: Path, tmp_path: Path, env: dict, out: str = "main-out") -> Path:
    out_dir = tmp_path / out
    ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out_dir), env=env))
    ok(run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out_dir), env=env))
    return out_dir


def test_publish_then_pr_compares_and_comments(fake_github, project: Path, tmp_path: Path) -> None:
    main_env = env_for(fake_github, tmp_path)
    out = build_and_publish(project, tmp_path, main_env)
    expected = sorted([*(out / "SHA256SUMS").read_text().split()[1::2], "SHA256SUMS"])
    assert release_assets(fake_github) == {"model-v1": expected}
    release = fake_github.state.repo_releases(REPO)[0]
    assert not release.draft and release.target_commitish == MAIN_SHA
    assert "release-url=" in (tmp_path / "github_output").read_text()

    # Re-running the same commit reuses the release and replaces its assets.
    ok(run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=main_env))
    assert release_assets(fake_github) == {"model-v1": expected}

    # A pull request changes a parameter and compares with that release.
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["model"]["params"]["n_estimators"] = 60
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    pr_env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    pr_out = tmp_path / "pr-out"
    r = run_cli(
        "run",
        "--config",
        str(project / "ci-ml.yaml"),
        "--out",
        str(pr_out),
        "--baseline",
        "release",
        env=pr_env,
    )
    assert r.returncode == 0, r.stderr
    comp = json.loads((pr_out / "comparison.json").read_text())
    assert comp["verdict"] == "pass"  # 60 trees instead of 150: rmse within noise
    assert comp["baseline"]["label"] == "model-v1" and comp["baseline"]["source"] == "release"
    assert comp["scored_on"] == "current holdout"

    ok(
        run_cli(
            "comment", "--config", str(project / "ci-ml.yaml"), "--out", str(pr_out), env=pr_env
        )
    )
    comments = [c for c in fake_github.state.comments.values() if c.issue == PR]
    assert len(comments) == 1 and "model-v1" in comments[0].body
    first_id = comments[0].id
    ok(
        run_cli(
            "comment", "--config", str(project / "ci-ml.yaml"), "--out", str(pr_out), env=pr_env
        )
    )
    comments = [c for c in fake_github.state.comments.values() if c.issue == PR]
    assert [c.id for c in comments] == [first_id]
    assert "comment-url=" in (tmp_path / "github_output").read_text()
    assert (pr_out / "comment" / "body.md").read_text() == comments[0].body


def test_baseline_fetch_without_any_release_is_no_baseline(
    fake_github, project: Path, tmp_path: Path
) -> None:
    env = env_for(fake_github, tmp_path, event=pr_event())
    r = run_cli(
        "baseline",
        "fetch",
        "--config",
        str(project / "ci-ml.yaml"),
        "--out",
        str(tmp_path / "o"),
        env=env,
    )
    ok(r)
    assert "baseline-found=false" in (tmp_path / "github_output").read_text()
    r = run_cli(
        "run",
        "--config",
        str(project / "ci-ml.yaml"),
        "--out",
        str(tmp_path / "o"),
        "--baseline",
        "release",
        env=env,
    )
    ok(r)
    assert json.loads((tmp_path / "o" / "comparison.json").read_text())["verdict"] == "no-baseline"


def test_tampered_release_asset_is_refused(fake_github, project: Path, tmp_path: Path) -> None:
    env = env_for(fake_github, tmp_path)
    build_and_publish(project, tmp_path, env)
    with fake_github.state.lock:
        asset = next(a for a in fake_github.state.assets.values() if a.name == "model.onnx")
        asset.data = asset.data[:-1] + b"\x00"
    env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())  # a PR's fetch
    r = run_cli(
        "baseline",
        "fetch",
        "--config",
        str(project / "ci-ml.yaml"),
        "--out",
        str(tmp_path / "pr"),
        env=env,
    )
    assert r.returncode == 2 and "model.onnx does not match SHA256SUMS" in r.stderr
    assert not (tmp_path / "pr" / "baseline").exists()  # nothing half-fetched is left to be used


def test_fork_token_defers_the_comment_without_failing(
    fake_github, project: Path, tmp_path: Path
) -> None:
    fake_github.state.tokens["ghs_fork"] = Token(read_only=True)
    env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event(), token="ghs_fork")
    out = tmp_path / "o"
    ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env))
    r = run_cli("comment", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env)
    ok(r)
    assert "read-only token" in r.stderr
    meta = json.loads((out / "comment" / "meta.json").read_text())
    assert meta["pr"] == PR and meta["head_sha"] == HEAD_SHA
    assert "ci-ml:comment" in (out / "comment" / "body.md").read_text()
    assert "ci-ml" in (tmp_path / "summary.md").read_text()
    assert not fake_github.state.comments

    # The workflow_run job posts it later with a write token, checking the head.
    env2 = env_for(fake_github, tmp_path, event={})
    ok(
        run_cli(
            "comment",
            "--config",
            str(project / "ci-ml.yaml"),
            "--out",
            str(tmp_path / "post"),
            "--body-file",
            str(out / "comment" / "body.md"),
            "--pr",
            str(PR),
            "--verify-head-sha",
            HEAD_SHA,
            env=env2,
        )
    )
    assert len(fake_github.state.comments) == 1


def test_publish_refuses_a_build_that_failed_its_gates(
    fake_github, project: Path, tmp_path: Path
) -> None:
    env = env_for(fake_github, tmp_path)
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["gates"] = [{"metric": "r2", "min": 0.99}]
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "o"
    assert (
        run_cli(
            "run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env
        ).returncode
        == 4
    )
    r = run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env)
    assert r.returncode == 2 and "failed its gates" in r.stderr
    assert not fake_github.state.releases


def test_new_commit_gets_the_next_version_and_becomes_latest(
    fake_github, project: Path, tmp_path: Path
) -> None:
    build_and_publish(project, tmp_path, env_for(fake_github, tmp_path))
    build_and_publish(project, tmp_path, env_for(fake_github, tmp_path, sha="2" * 40), out="second")
    assert sorted(release_assets(fake_github)) == ["model-v1", "model-v2"]
    latest = fake_github.state.latest_release(REPO)
    assert latest.tag_name == "model-v2"
    ok(
        run_cli(
            "promote",
            "--config",
            str(project / "ci-ml.yaml"),
            "--tag",
            "model-v1",
            env=env_for(fake_github, tmp_path),
        )
    )
    assert fake_github.state.latest_release(REPO).tag_name == "model-v1"


def test_server_errors_on_upload_are_retried_without_duplicates(
    fake_github, project: Path, tmp_path: Path
) -> None:
    env = env_for(fake_github, tmp_path)
    out = tmp_path / "o"
    ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env))
    fault = fake_github.add_fault(r"POST /uploads/.*/assets", "status", times=2, status=502)
    ok(run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env))
    assert fault.times == 0  # both injected failures were met and retried
    names = release_assets(fake_github)["model-v1"]
    assert len(names) == len(set(names)) == len((out / "SHA256SUMS").read_text().splitlines()) + 1


def test_fetched_baseline_directory_keeps_its_release_name(
    fake_github, project: Path, tmp_path: Path
) -> None:
    """The action fetches first, then compares with the directory: the tag must survive."""
    build_and_publish(project, tmp_path, env_for(fake_github, tmp_path))
    env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    out = tmp_path / "pr"
    cfg = str(project / "ci-ml.yaml")
    for stage in ["validate", "check-data", "train", "export", "evaluate"]:
        ok(run_cli(stage, "--config", cfg, "--out", str(out), env=env))
    ok(run_cli("baseline", "fetch", "--config", cfg, "--out", str(out), env=env))
    assert "baseline-found=true" in (tmp_path / "github_output").read_text()
    ok(
        run_cli(
            "compare",
            "--config",
            cfg,
            "--out",
            str(out),
            "--baseline",
            str(out / "baseline"),
            env=env,
        )
    )
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["baseline"]["label"] == "model-v1" and comp["baseline"]["source"] == "release"


@pytest.mark.parametrize(
    "meta", ['{"pr": true}', '{"pr": "7; rm -rf /"}', '{"pr": -1}', "[]", "not json"]
)
def test_forged_deferred_comment_meta_is_refused(fake_github, tmp_path: Path, meta: str) -> None:
    (tmp_path / "body.md").write_text("<!-- ci-ml:comment id=abc -->\nhello")
    (tmp_path / "meta.json").write_text(meta)
    r = run_cli(
        "comment",
        "--body-file",
        str(tmp_path / "body.md"),
        "--meta-file",
        str(tmp_path / "meta.json"),
        "--out",
        str(tmp_path / "o"),
        env=env_for(fake_github, tmp_path),
    )
    assert r.returncode == 2 and "meta.json" in r.stderr and "Traceback" not in r.stderr
    assert not fake_github.state.comments
