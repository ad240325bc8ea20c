"""Sticky comments and releases-as-registry against the fake GitHub API."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ci_ml.errors import DeadlineExceeded, GitHubError, PermissionDenied
from ci_ml.github import api as gh

REPO, PR = "octo/ml", 7  # seeded by the fake_github fixture
HEAD_SHA = "c0ffee" + "0" * 34
MARKER = "<!-- ci-ml:report -->"


def body(text: str) -> str:
    return f"{MARKER}\n{text}"


def marked(fake) -> list:
    return [c for c in fake.state.comments.values() if MARKER in c.body]


# --- pure decisions -------------------------------------------------------------


def _c(id, login="github-actions[bot]", type="Bot", text=MARKER, at=None):
    return {
        "id": id,
        "body": text,
        "user": {"login": login, "type": type},
        "created_at": at or f"2024-01-01T00:00:{id:02d}Z",
    }


@pytest.mark.parametrize(
    ("comments", "author", "keep", "dupes"),
    [
        ([], None, None, []),
        ([_c(1, text="no marker")], None, None, []),
        ([_c(1, "alice", "User")], None, None, []),  # a human quoting the marker
        ([_c(3), _c(2), _c(5)], None, 2, [3, 5]),  # oldest wins
        ([_c(1, "other-app[bot]"), _c(2)], "github-actions[bot]", 2, []),
        ([_c(1, "me", "User")], "me", 1, []),  # a PAT: the caller names the author
    ],
)
def test_select_sticky(comments, author, keep, dupes):
    kept, duplicates = gh.select_sticky(comments, MARKER, author)
    assert (kept["id"] if kept else None) == keep
    assert [d["id"] for d in duplicates] == dupes


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("metrics.json", "application/json"),
        ("report.md", "text/markdown"),
        ("model.onnx", "application/octet-stream"),
        ("schema.yaml", "application/yaml"),
        ("SHA256SUMS", "text/plain"),
    ],
)
def test_content_type_for(name, ctype):
    assert gh.content_type_for(Path(name)) == ctype


def _r(tag, at, draft=False, prerelease=False):
    return {
        "id": int(at),
        "tag_name": tag,
        "draft": draft,
        "prerelease": prerelease,
        "created_at": f"2024-01-{at}T00:00:00Z",
        "published_at": None if draft else f"2024-01-{at}T00:00:00Z",
    }


def test_newest_release_filters_prefix_drafts_prereleases():
    releases = [_r("model-v1", "10"), _r("docs-v9", "20"), _r("model-v2", "11")]
    releases += [_r("model-v3", "12", draft=True), _r("model-v4rc", "13", prerelease=True)]
    assert gh.newest_release(releases, "model-")["tag_name"] == "model-v2"
    assert gh.newest_release(releases, "model-", include_drafts=True)["tag_name"] == "model-v3"
    assert gh.newest_release(releases, "model-", True)["tag_name"] == "model-v4rc"
    assert gh.newest_release(releases, "nothing-") is None


# --- sticky comment -----------------------------------------------------------------


def test_comment_created_then_updated_in_place(fake_github, client):
    first = gh.upsert_sticky_comment(client, REPO, PR, body("v1"), MARKER)
    second = gh.upsert_sticky_comment(client, REPO, PR, body("v2"), MARKER)
    assert first.action == "created" and second.action == "updated"
    assert first.id == second.id and second.deleted_duplicates == 0
    (comment,) = marked(fake_github)
    assert comment.body == body("v2") and comment.user["login"] == "github-actions[bot]"
    assert second.url.endswith(f"#issuecomment-{first.id}")


def test_marker_found_on_page_two_of_150_comments(fake_github, client):
    for i in range(150):
        fake_github.state.add_comment(REPO, PR, f"review comment {i}")
    ours = fake_github.state.add_comment(REPO, PR, body("old"), "github-actions[bot]", "Bot")
    result = gh.upsert_sticky_comment(client, REPO, PR, body("new"), MARKER)
    assert (result.action, result.id) == ("updated", ours.id)
    assert len(fake_github.state.comments) == 151  # nothing created
    pages = [r["query"].get("page") for r in fake_github.api_requests("GET", "/comments$")]
    assert "2" in pages


def test_duplicates_are_deleted_keeping_the_oldest(fake_github, client):
    ids = [
        fake_github.state.add_comment(REPO, PR, body(f"race {i}"), "github-actions[bot]", "Bot").id
        for i in range(3)
    ]
    result = gh.upsert_sticky_comment(client, REPO, PR, body("final"), MARKER)
    assert result.id == ids[0] and result.deleted_duplicates == 2
    assert [c.id for c in marked(fake_github)] == [ids[0]]


def test_other_users_comments_with_the_marker_are_ignored(fake_github, client):
    human = fake_github.state.add_comment(REPO, PR, body("quoted by a human"), "alice", "User")
    result = gh.upsert_sticky_comment(client, REPO, PR, body("report"), MARKER)
    assert result.action == "created" and result.id != human.id
    assert fake_github.state.comments[human.id].body == body("quoted by a human")


def test_racing_upserts_end_with_one_comment(fake_github, make_client):
    results = []

    def run(i: int) -> None:
        results.append(gh.upsert_sticky_comment(make_client(), REPO, PR, body(f"job {i}"), MARKER))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    assert len(marked(fake_github)) == 1
    assert len({r.id for r in results}) == 1


def test_comment_too_long_is_refused_before_any_request(fake_github, client):
    with pytest.raises(ValueError, match="65536"):
        gh.upsert_sticky_comment(client, REPO, PR, body("x" * 70_000), MARKER)
    with pytest.raises(ValueError, match="marker"):
        gh.upsert_sticky_comment(client, REPO, PR, "no marker here", MARKER)
    assert fake_github.requests == []


def test_fork_pr_token_cannot_comment(fake_github, make_client):
    fake_github.add_token("ghs_fork", read_only=True)
    with pytest.raises(PermissionDenied, match="fork"):
        gh.upsert_sticky_comment(make_client("ghs_fork"), REPO, PR, body("x"), MARKER)


def test_verify_pr_head(client):
    assert gh.verify_pr_head(client, REPO, PR, HEAD_SHA) is True
    assert gh.verify_pr_head(client, REPO, PR, "f" * 40) is False


# --- releases -------------------------------------------------------------------------


@pytest.fixture
def artifact(tmp_path: Path) -> list[Path]:
    files = {
        "model.onnx": b"\x08\x07onnx-bytes" * 100,
        "metrics.json": b'{"f1": 0.91}',
        "manifest.json": b'{"commit": "abc"}',
        "schema.yaml": b"columns: {}\n",
        "model-card.md": b"# Model\n",
        "SHA256SUMS": b"0000  model.onnx\n",
    }
    out = tmp_path / "build"
    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    return sorted(out.iterdir())


def publish(client, files, tag="model-v1", **kwargs):
    return gh.publish_release(client, REPO, tag, HEAD_SHA, tag, "card", files, **kwargs)


def assert_one_clean_release(fake, tag, files):
    releases = [r for r in fake.state.releases.values() if r.tag_name == tag]
    assert len(releases) == 1 and not releases[0].draft
    assets = fake.state.release_assets(releases[0].id)
    assert sorted(a.name for a in assets) == sorted(f.name for f in files)
    for a in assets:
        assert a.state == "uploaded"
        assert a.data == next(f for f in files if f.name == a.name).read_bytes()
    return releases[0]


def test_publish_creates_draft_uploads_then_publishes(fake_github, client, artifact):
    result = publish(client, artifact)
    assert result.created and result.tag == "model-v1"
    assert sorted(a.name for a in result.assets) == sorted(f.name for f in artifact)
    release = assert_one_clean_release(fake_github, "model-v1", artifact)
    assert fake_github.state.latest_release(REPO) is release

    writes = [r for r in fake_github.requests if r["method"] in ("POST", "PATCH")]
    assert writes[0]["path"].endswith("/releases") and writes[0]["json"]["draft"] is True
    assert all(r["path"].startswith("/uploads/") for r in writes[1:-1])
    assert writes[-1]["json"] == {
        "name": "model-v1",
        "body": "card",
        "draft": False,
        "make_latest": "true",
    }
    types = {a.name: a.content_type for a in fake_github.state.release_assets(release.id)}
    assert types["metrics.json"] == "application/json" and types["SHA256SUMS"] == "text/plain"


def test_publish_rerun_is_idempotent(fake_github, client, artifact):
    first = publish(client, artifact)
    artifact[0].write_bytes(b"rebuilt")  # a re-run may rebuild a file
    second = publish(client, artifact)
    assert second.id == first.id and not second.created
    assert_one_clean_release(fake_github, "model-v1", artifact)


def test_racing_publishes_end_with_one_release(fake_github, make_client, artifact):
    results, errors = [], []

    def run() -> None:
        try:
            results.append(publish(make_client(), artifact))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r.id for r in results} == {results[0].id}
    assert_one_clean_release(fake_github, "model-v1", artifact)


def _race_on_lookup(monkeypatch, fake, *, draft: bool) -> None:
    """Another job creates the release right after our first lookup missed it."""
    real = gh.get_release_by_tag
    calls = []

    def lookup(client, repo, tag, releases=None):
        calls.append(tag)
        if len(calls) == 1:
            fake.state.add_release(repo, tag, draft=draft)
            return None
        return real(client, repo, tag, releases)

    monkeypatch.setattr(gh, "get_release_by_tag", lookup)


def test_create_conflict_422_reuses_the_racing_release(fake_github, client, artifact, monkeypatch):
    _race_on_lookup(monkeypatch, fake_github, draft=True)
    result = publish(client, artifact)
    assert not result.created
    assert fake_github.api_requests("POST", "/releases$")[0]["status"] == 422
    assert_one_clean_release(fake_github, "model-v1", artifact)


def test_duplicate_drafts_allowed_by_github_are_collapsed(
    fake_github, client, artifact, monkeypatch
):
    fake_github.state.allow_duplicate_draft_tags = True  # what real GitHub does
    _race_on_lookup(monkeypatch, fake_github, draft=True)
    publish(client, artifact)
    assert_one_clean_release(fake_github, "model-v1", artifact)


def test_create_response_lost_then_release_found(fake_github, client, artifact):
    fake_github.add_fault("POST /repos/.*/releases$", "drop_after")
    result = publish(client, artifact)
    assert not result.created
    assert_one_clean_release(fake_github, "model-v1", artifact)


def test_broken_asset_from_an_earlier_run_is_replaced(fake_github, client, artifact):
    release = fake_github.state.add_release(REPO, "model-v1", draft=True)
    fake_github.state.add_asset(release, "model.onnx", b"", "application/octet-stream", "starter")
    fake_github.state.add_asset(release, "stale.txt", b"old", "text/plain")
    publish(client, artifact)
    assert_one_clean_release(fake_github, "model-v1", artifact)


def test_upload_retried_after_half_upload_and_reset(fake_github, client, artifact):
    fake_github.add_fault("POST /uploads/", "half_upload")
    fake_github.add_fault("POST /uploads/", "drop")
    fake_github.add_fault("POST /uploads/", "status", status=502)
    publish(client, artifact)
    assert_one_clean_release(fake_github, "model-v1", artifact)
    assert len(fake_github.api_requests("POST", "^/uploads/")) == len(artifact) + 3


def test_upload_retry_that_would_pass_the_deadline_is_not_started(
    fake_github, make_client, artifact, sleeps
):
    client = make_client(deadline=1.0)
    fake_github.add_fault("POST /uploads/", "status", status=502)
    with pytest.raises(DeadlineExceeded, match="uploading .+: no time left to retry"):
        publish(client, artifact)
    assert sleeps.calls == []
    (release,) = fake_github.state.releases.values()
    assert release.draft  # nobody sees a release with half its files


def test_fork_token_cannot_publish(fake_github, make_client, artifact):
    fake_github.add_token("ghs_fork", read_only=True)
    with pytest.raises(PermissionDenied):
        publish(make_client("ghs_fork"), artifact)
    assert not fake_github.state.releases


# --- registry reads ---------------------------------------------------------------------


def test_find_latest_model_release_filters_and_paginates(fake_github, client):
    fake_github.state.add_release(REPO, "model-v1")
    fake_github.state.add_release(REPO, "model-v2")
    fake_github.state.add_release(REPO, "model-v3", draft=True)
    fake_github.state.add_release(REPO, "model-v4-rc1", prerelease=True)
    for i in range(120):  # newer releases of something else push ours to page 2
        fake_github.state.add_release(REPO, f"docs-v{i}")
    assert gh.find_latest_model_release(client, REPO, "model-")["tag_name"] == "model-v2"
    found = gh.find_latest_model_release(client, REPO, "model-", include_prereleases=True)
    assert found["tag_name"] == "model-v4-rc1"
    found = gh.find_latest_model_release(client, REPO, "model-", include_drafts=True)
    assert found["tag_name"] == "model-v3"
    assert gh.find_latest_model_release(client, REPO, "other-") is None


def test_download_release_assets(fake_github, client, artifact, tmp_path):
    publish(client, artifact)
    release = gh.find_latest_model_release(client, REPO, "model-")
    out = gh.download_release_assets(client, release, tmp_path / "baseline")
    assert sorted(p.name for p in out.iterdir()) == sorted(f.name for f in artifact)
    for f in artifact:
        assert (out / f.name).read_bytes() == f.read_bytes()
    blobs = fake_github.api_requests("GET", "^/_blobs/")
    assert len(blobs) == len(artifact) and not any(b["authorization"] for b in blobs)


def test_download_refuses_unsafe_asset_names(client, tmp_path):
    release = {"assets": [{"name": "../evil", "url": "http://127.0.0.1:1/x"}]}
    with pytest.raises(GitHubError, match="unsafe name"):
        gh.download_release_assets(client, release, tmp_path)


def test_mark_latest_rolls_back(fake_github, client, artifact):
    publish(client, artifact, tag="model-v1")
    publish(client, artifact, tag="model-v2")
    assert fake_github.state.latest_release(REPO).tag_name == "model-v2"
    result = gh.mark_latest(client, REPO, "model-v1")
    assert result.tag == "model-v1"
    assert fake_github.state.latest_release(REPO).tag_name == "model-v1"


def test_comment_post_response_lost_is_not_duplicated(fake_github, client):
    fake_github.add_fault("POST /repos/.*/comments", "drop_after")
    result = gh.upsert_sticky_comment(client, REPO, PR, body("v1"), MARKER)
    assert len(marked(fake_github)) == 1 and result.id == marked(fake_github)[0].id
