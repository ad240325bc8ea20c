"""The GitHub calls ci-ml makes: the sticky PR comment and releases as a model registry.

Functions take a ``GitHubClient`` and plain values and return small dataclasses.
The choices they make (which comment is ours, which release is newest, is the
upload complete?) are pure functions below, tested without HTTP. Every reply
is checked against the shapes in ``ci_ml.github.replies`` on arrival, so the
dicts here always carry the fields read from them.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ci_ml.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    GitHubError,
    NotFound,
    ServerError,
    UnexpectedReply,
    ValidationFailed,
)
from ci_ml.github.client import GitHubClient
from ci_ml.github.replies import Asset, Comment, PullRequest, Release

# A write whose outcome is unknown: it may have happened. Look before repeating it.
AMBIGUOUS = (ConnectionFailed, ServerError, UnexpectedReply)

MAX_COMMENT_CHARS = 65_536  # GitHub's limit on a comment body
ACTIONS_BOT = "github-actions[bot]"
CONTENT_TYPES = {
    ".json": "application/json",
    ".md": "text/markdown",
    ".onnx": "application/octet-stream",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".txt": "text/plain",
}
VERIFY_ROUNDS = 3


@dataclass(frozen=True)
class CommentResult:
    url: str
    id: int
    action: Literal["created", "updated"]
    deleted_duplicates: int = 0


@dataclass(frozen=True)
class AssetInfo:
    id: int
    name: str
    size: int
    state: str
    url: str
    browser_download_url: str

    @classmethod
    def from_api(cls, asset: dict[str, Any]) -> AssetInfo:
        return cls(
            id=asset["id"],
            name=asset["name"],
            size=asset["size"],
            state=asset["state"],
            url=asset["url"],
            browser_download_url=asset.get("browser_download_url", ""),
        )


@dataclass(frozen=True)
class ReleaseResult:
    url: str
    html_url: str
    id: int
    tag: str
    assets: list[AssetInfo] = field(default_factory=list)
    created: bool = False

    @classmethod
    def from_api(cls, release: dict[str, Any], *, created: bool = False) -> ReleaseResult:
        return cls(
            url=release["url"],
            html_url=release["html_url"],
            id=release["id"],
            tag=release["tag_name"],
            assets=[AssetInfo.from_api(a) for a in release.get("assets", [])],
            created=created,
        )


def _delete_if_present(client: GitHubClient, path: str) -> None:
    with contextlib.suppress(NotFound):  # a racing job deleted it first
        client.delete(path)


# --- sticky comment ----------------------------------------------------------


def _is_ours(comment: dict[str, Any], marker: str, author: str | None) -> bool:
    if marker not in (comment.get("body") or ""):
        return False
    user = comment.get("user") or {}
    if author:
        return user.get("login") == author
    return user.get("type") == "Bot" or user.get("login") == ACTIONS_BOT


def select_sticky(
    comments: Iterable[dict[str, Any]], marker: str, author: str | None = None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Return (the comment to keep, duplicates to delete) among comments carrying ``marker``.

    Ours means: carries the marker and was written by ``author`` if given, else by
    a bot (we cannot ask ``GET /user`` with the Actions token). A human quoting the
    marker is never touched. The oldest wins so that racing jobs agree on it.
    """
    ours = [c for c in comments if _is_ours(c, marker, author)]
    ours.sort(key=lambda c: (c["created_at"], c["id"]))
    return (ours[0], ours[1:]) if ours else (None, [])


def _check_comment(body: str, marker: str) -> None:
    if not (marker.startswith("<!--") and marker.endswith("-->")):
        raise ValueError(f"sticky marker must be an HTML comment, got {marker!r}")
    if marker not in body:
        raise ValueError("the comment body must contain the marker, or the next run cannot find it")
    if len(body) > MAX_COMMENT_CHARS:
        raise ValueError(
            f"comment body has {len(body)} characters; GitHub's limit is {MAX_COMMENT_CHARS}. "
            "Trim the report before posting (the full report belongs in the job summary)."
        )


def _comments_path(repo: str, pr_number: int) -> str:
    return f"/repos/{repo}/issues/{pr_number}/comments"


def _list_comments(client: GitHubClient, repo: str, pr_number: int) -> list[dict[str, Any]]:
    return list(client.paginate(_comments_path(repo, pr_number), item=Comment))


def _delete_comments(client: GitHubClient, repo: str, comments: list[dict[str, Any]]) -> int:
    for c in comments:
        _delete_if_present(client, f"/repos/{repo}/issues/comments/{c['id']}")
    return len(comments)


def upsert_sticky_comment(
    client: GitHubClient,
    repo: str,
    pr_number: int,
    body: str,
    marker: str,
    author: str | None = None,
) -> CommentResult:
    """Create or update the one comment carrying ``marker``; delete duplicates.

    After creating, the list is read again: if a racing job created one too, both
    jobs converge on the oldest and delete the other.
    """
    _check_comment(body, marker)
    comments = _list_comments(client, repo, pr_number)
    keep, duplicates = select_sticky(comments, marker, author)
    action: Literal["created", "updated"] = "updated"
    if keep is None:
        try:
            created = client.post(_comments_path(repo, pr_number), {"body": body}, expect=Comment)
        except AMBIGUOUS:
            created = None  # the comment may exist; the re-read below decides
        if created is not None and created["user"] is not None:
            author = author or created["user"]["login"]
        comments = _list_comments(client, repo, pr_number)
        keep, duplicates = select_sticky(comments, marker, author)
        if created is None:
            if keep is None:
                raise GitHubError(
                    f"could not post the comment on {repo}#{pr_number}",
                    hint="re-run the job; check https://www.githubstatus.com",
                )
        elif keep is None:  # listing lagged behind the write
            keep, duplicates = created, []
        if created is not None:
            action = "created" if keep["id"] == created["id"] else "updated"
        else:  # the reply was lost; a comment with our very body is the one we posted
            action = "created" if keep.get("body") == body else "updated"
    if action == "updated":
        keep = client.patch(
            f"/repos/{repo}/issues/comments/{keep['id']}", {"body": body}, expect=Comment
        )
    deleted = _delete_comments(client, repo, duplicates)
    return CommentResult(
        url=keep["html_url"], id=keep["id"], action=action, deleted_duplicates=deleted
    )


def verify_pr_head(client: GitHubClient, repo: str, pr_number: int, head_sha: str) -> bool:
    """True if the PR's head is still ``head_sha`` (a workflow_run job must not comment
    on a PR that moved on, nor on a PR the artifact does not belong to)."""
    pr = client.get(f"/repos/{repo}/pulls/{pr_number}", expect=PullRequest)
    return pr["head"]["sha"] == head_sha


# --- releases ----------------------------------------------------------------


def content_type_for(path: Path) -> str:
    if path.name == "SHA256SUMS":
        return "text/plain"
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def asset_problems(
    assets: list[dict[str, Any]], expected: dict[str, bytes]
) -> list[tuple[str, str]]:
    """(name, what is wrong) for each asset that does not match the files we uploaded."""
    problems: list[tuple[str, str]] = []
    by_name: dict[str, list[dict[str, Any]]] = {}
    for a in assets:
        by_name.setdefault(a["name"], []).append(a)
    for name in sorted(set(by_name) - set(expected)):
        problems.append((name, "unexpected asset"))
    for name, data in sorted(expected.items()):
        found = by_name.get(name, [])
        if len(found) != 1:
            problems.append((name, f"{len(found)} assets instead of 1"))
            continue
        a = found[0]
        if a["state"] != "uploaded":
            problems.append((name, f"state {a['state']!r}"))
        elif a["size"] != len(data):
            problems.append((name, f"size {a['size']} != {len(data)}"))
        elif a.get("digest") and a["digest"] != _sha256(data):
            problems.append((name, "digest differs"))
    return problems


def list_releases(client: GitHubClient, repo: str) -> list[dict[str, Any]]:
    """Every release of the repository, newest first (drafts only with push access)."""
    return list(client.paginate(f"/repos/{repo}/releases", item=Release))


def get_release_by_tag(client: GitHubClient, repo: str, tag: str) -> dict[str, Any] | None:
    """A release by tag, drafts included (``releases/tags/{tag}`` does not return drafts)."""
    try:
        return client.get(f"/repos/{repo}/releases/tags/{tag}", expect=Release)
    except NotFound:
        pass
    drafts = [r for r in list_releases(client, repo) if r["tag_name"] == tag]
    # Real GitHub allows several drafts with one tag: the oldest is the canonical one.
    return min(drafts, key=lambda r: r["id"]) if drafts else None


def _create_draft(
    client: GitHubClient, repo: str, tag: str, target: str, name: str, body: str
) -> tuple[dict[str, Any], bool]:
    payload = {
        "tag_name": tag,
        "target_commitish": target,
        "name": name,
        "body": body,
        "draft": True,
        "prerelease": False,
    }
    try:
        release = client.post(f"/repos/{repo}/releases", payload, expect=Release)
    except ValidationFailed as exc:
        if not exc.has_code("already_exists"):
            raise
        release = None  # a racing job created it: reuse theirs
    except AMBIGUOUS:
        release = None  # it may exist now; look before giving up
    if release is not None:
        return _dedupe_drafts(client, repo, tag, release), True
    found = get_release_by_tag(client, repo, tag)
    if found is None:
        raise GitHubError(
            f"could not create release {tag} in {repo}, and it does not exist",
            hint="re-run the job; check https://www.githubstatus.com",
        )
    return found, False


def _dedupe_drafts(
    client: GitHubClient, repo: str, tag: str, ours: dict[str, Any]
) -> dict[str, Any]:
    """If a racing job also created a draft for this tag, keep the oldest, drop ours."""
    same = [r for r in list_releases(client, repo) if r["tag_name"] == tag]
    if not same:
        return ours
    keep = min(same, key=lambda r: r["id"])
    if keep["id"] != ours["id"] and ours.get("draft"):
        _delete_if_present(client, f"/repos/{repo}/releases/{ours['id']}")
    return keep


def _list_assets(client: GitHubClient, repo: str, release_id: int) -> list[dict[str, Any]]:
    return list(client.paginate(f"/repos/{repo}/releases/{release_id}/assets", item=Asset))


def _delete_asset(client: GitHubClient, repo: str, asset_id: int) -> None:
    _delete_if_present(client, f"/repos/{repo}/releases/assets/{asset_id}")


def _upload_one(
    client: GitHubClient, repo: str, release: dict[str, Any], name: str, data: bytes, ctype: str
) -> None:
    """Upload one asset, replacing any same-named one.

    An upload is a POST, so the client's retry policy does not repeat it once sent
    (GitHub may keep a half-uploaded asset in state "starter"). This is the one
    repetition the domain does itself, because only it can make the repeat safe:
    each attempt first deletes whatever same-named asset the previous one left.
    The number of attempts and the pauses between them are the client's policy.
    """
    attempts = client.max_retries + 1
    error: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            client.pause_before_retry(attempt - 1, f"uploading {name}", error)
        for a in _list_assets(client, repo, release["id"]):
            if a["name"] == name:
                _delete_asset(client, repo, a["id"])
        try:
            client.upload_asset(release["upload_url"], name, data, ctype)
            return
        except UnexpectedReply:
            return  # sent; what GitHub kept is checked by listing the assets afterwards
        except ValidationFailed as exc:
            # already_exists: a racing job uploaded it between our delete and our POST.
            if not exc.has_code("already_exists"):
                raise
            existing = [a for a in _list_assets(client, repo, release["id"]) if a["name"] == name]
            if existing and not asset_problems(existing, {name: data}):
                return  # theirs is byte-identical to ours
            error = exc
        except DeadlineExceeded:
            raise  # no time for another attempt; the release stays a draft
        except (ConnectionFailed, ServerError) as exc:
            error = exc
    raise GitHubError(
        f"uploading {name} to release {release['tag_name']} failed {attempts} times: "
        f"{getattr(error, 'message', error)}",
        hint="re-run the job: the release stays a draft and the next run replaces the asset",
    )


def _upload_all(
    client: GitHubClient, repo: str, release: dict[str, Any], files: dict[str, Path]
) -> list[dict[str, Any]]:
    expected = {name: path.read_bytes() for name, path in files.items()}
    todo = sorted(expected)
    for _ in range(VERIFY_ROUNDS):
        for name in todo:
            _upload_one(client, repo, release, name, expected[name], content_type_for(files[name]))
        assets = _list_assets(client, repo, release["id"])
        # Remove leftovers (a file the build no longer produces, broken uploads).
        for a in assets:
            if a["name"] not in expected or a["state"] != "uploaded":
                _delete_asset(client, repo, a["id"])
        assets = [a for a in assets if a["name"] in expected and a["state"] == "uploaded"]
        problems = asset_problems(assets, expected)
        if not problems:
            return assets
        todo = sorted({name for name, _ in problems} & set(expected))
    details = "; ".join(f"{name}: {what}" for name, what in problems)
    raise GitHubError(
        f"release {release['tag_name']} assets did not verify: {details}",
        hint="another job may be publishing the same tag; use a `concurrency` group and re-run",
    )


def publish_release(
    client: GitHubClient,
    repo: str,
    tag: str,
    target_commitish: str,
    name: str,
    body: str,
    files: list[Path],
    make_latest: bool = True,
) -> ReleaseResult:
    """Create or reuse release ``tag``, upload ``files`` as its assets, verify, publish.

    Draft first, publish last: repositories with immutable releases refuse assets
    on a published release, and nobody sees a release with half its files.
    Idempotent: a re-run reuses the release and replaces its assets.
    """
    by_name = {Path(f).name: Path(f) for f in files}
    if len(by_name) != len(files):
        raise ValueError("two files share a name; release assets are flat")
    release = get_release_by_tag(client, repo, tag)
    created = False
    if release is None:
        release, created = _create_draft(client, repo, tag, target_commitish, name, body)
    elif release.get("immutable") and not release.get("draft"):
        raise GitHubError(
            f"release {tag} is published and immutable; its assets cannot be replaced",
            hint="bump the model version so that this build gets a new tag",
        )
    _upload_all(client, repo, release, by_name)
    published = client.patch(
        f"/repos/{repo}/releases/{release['id']}",
        {
            "name": name,
            "body": body,
            "draft": False,
            "make_latest": "true" if make_latest else "false",
        },
        expect=Release,
    )
    published["assets"] = _list_assets(client, repo, release["id"])
    return ReleaseResult.from_api(published, created=created)


def newest_release(
    releases: Iterable[dict[str, Any]],
    tag_prefix: str,
    include_prereleases: bool = False,
    include_drafts: bool = False,
) -> dict[str, Any] | None:
    """Pick the newest release whose tag starts with ``tag_prefix`` (pure)."""
    candidates = [
        r
        for r in releases
        if r["tag_name"].startswith(tag_prefix)
        and (include_drafts or not r.get("draft"))
        and (include_prereleases or not r.get("prerelease"))
    ]
    if not candidates:
        return None
    # ISO-8601 UTC strings sort chronologically; drafts have no published_at.
    return max(candidates, key=lambda r: (r.get("published_at") or r["created_at"], r["id"]))


def find_latest_model_release(
    client: GitHubClient,
    repo: str,
    tag_prefix: str,
    include_prereleases: bool = False,
    include_drafts: bool = False,
) -> dict[str, Any] | None:
    """The newest release of the model (other releases of the repo are ignored)."""
    releases = list_releases(client, repo)
    return newest_release(releases, tag_prefix, include_prereleases, include_drafts)


def download_release_assets(client: GitHubClient, release: dict[str, Any], into: Path) -> Path:
    """Download every asset of ``release`` into ``into`` via the API (private repos work).

    Each file is checked against the size and digest the release lists (what
    GitHub sent); whether the release is what was published is the caller's job
    (SHA256SUMS).
    """
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    for asset in release.get("assets", []):
        name = asset["name"]
        if Path(name).name != name or name in ("", ".", ".."):
            raise GitHubError(f"refusing release asset with unsafe name {name!r}")
        client.download(
            asset["url"], into / name, size=asset.get("size"), digest=asset.get("digest")
        )
    return into


def mark_latest(client: GitHubClient, repo: str, tag: str) -> ReleaseResult:
    """Make release ``tag`` the repository's latest again (promote / roll back)."""
    release = client.get(f"/repos/{repo}/releases/tags/{tag}", expect=Release)
    updated = client.patch(
        f"/repos/{repo}/releases/{release['id']}", {"make_latest": "true"}, expect=Release
    )
    return ReleaseResult.from_api(updated)
