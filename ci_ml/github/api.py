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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from ci_ml.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    GitHubError,
    NotFound,
    PermissionDenied,
    ServerError,
    UnexpectedReply,
    ValidationFailed,
)
from ci_ml.github.client import GitHubClient
from ci_ml.github.replies import Asset, Comment, PullRequest, PullSimple, Review, User
from ci_ml.github.replies import Release as ReleaseReply
from ci_ml.registry.audit import PullRequest as PullRequestFacts
from ci_ml.registry.audit import pick_baseline
from ci_ml.registry.base import Release

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
    sent: list[str] = field(default_factory=list)  # the asset names uploaded this time

    @classmethod
    def from_api(
        cls, release: dict[str, Any], *, created: bool = False, sent: list[str] | None = None
    ) -> ReleaseResult:
        return cls(
            url=release["url"],
            html_url=release["html_url"],
            id=release["id"],
            tag=release["tag_name"],
            assets=[AssetInfo.from_api(a) for a in release.get("assets", [])],
            created=created,
            sent=list(sent or []),
        )


def _delete_if_present(client: GitHubClient, path: str) -> None:
    with contextlib.suppress(NotFound):  # a racing job deleted it first
        client.delete(path)


# --- sticky comment ----------------------------------------------------------


def is_ours(comment: dict[str, Any], marker: str, author: str | None) -> bool:
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
    ours = [c for c in comments if is_ours(c, marker, author)]
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


def tag_path(repo: str, tag: str) -> str:
    """The API path of a release by tag; the tag percent-encoded (it may hold `/` or `+`)."""
    return f"/repos/{repo}/releases/tags/{quote(tag, safe='')}"


def content_type_for(path: Path) -> str:
    if path.name == "SHA256SUMS":
        return "text/plain"
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _same(asset: dict[str, Any], data: bytes) -> bool:
    """An uploaded asset holding exactly `data`; without a digest (older GitHub
    Enterprise Servers) nothing proves that, so it counts as different."""
    return (
        asset["state"] == "uploaded"
        and asset["size"] == len(data)
        and asset.get("digest") == _sha256(data)
    )


def _complete(asset: dict[str, Any], data: bytes) -> bool:
    """What we just uploaded arrived whole (its digest, where GitHub gives one, agrees)."""
    digest = asset.get("digest")
    return (
        asset["state"] == "uploaded"
        and asset["size"] == len(data)
        and (not digest or digest == _sha256(data))
    )


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
    return list(client.paginate(f"/repos/{repo}/releases", item=ReleaseReply))


def release_in(releases: Iterable[dict[str, Any]], tag: str) -> dict[str, Any] | None:
    """The release with this tag in a listing, drafts included. Real GitHub allows
    several drafts with one tag: the oldest is the canonical one. Pure."""
    same = [r for r in releases if r["tag_name"] == tag]
    return min(same, key=lambda r: r["id"]) if same else None


def get_release_by_tag(
    client: GitHubClient,
    repo: str,
    tag: str,
    releases: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """A release by tag, drafts included (``releases/tags/{tag}`` does not return
    drafts); from `releases` when the caller has listed them already."""
    if releases is not None:
        return release_in(releases, tag)
    try:
        return client.get(tag_path(repo, tag), expect=ReleaseReply)
    except NotFound:
        pass
    return release_in(list_releases(client, repo), tag)


def get_latest_release(client: GitHubClient, repo: str) -> dict[str, Any] | None:
    """The release GitHub marks latest (None: no published release)."""
    try:
        return client.get(f"/repos/{repo}/releases/latest", expect=ReleaseReply)
    except NotFound:
        return None


def _create_draft(
    client: GitHubClient,
    repo: str,
    tag: str,
    target: str,
    name: str,
    body: str,
    prerelease: bool = False,
) -> tuple[dict[str, Any], bool]:
    payload = {
        "tag_name": tag,
        "target_commitish": target,
        "name": name,
        "body": body,
        "draft": True,
        "prerelease": prerelease,
    }
    try:
        release = client.post(f"/repos/{repo}/releases", payload, expect=ReleaseReply)
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
    """If a racing job also created a draft for this tag, keep the oldest, drop ours.
    A racing draft is among the newest releases: one page is enough, not a listing."""
    page = client.get(f"/repos/{repo}/releases", {"per_page": 30}, expect=list[ReleaseReply])
    same = [r for r in page if r["tag_name"] == tag]
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
    client: GitHubClient,
    repo: str,
    release: dict[str, Any],
    name: str,
    data: bytes,
    ctype: str,
    absent: bool = False,
) -> None:
    """Upload one asset, replacing any same-named one.

    An upload is a POST, so the client's retry policy does not repeat it once sent
    (GitHub may keep a half-uploaded asset in state "starter"). This is the one
    repetition the domain does itself, because only it can make the repeat safe:
    each attempt first deletes whatever same-named asset the previous one left
    (the first attempt need not look when the caller knows there is none).
    The number of attempts and the pauses between them are the client's policy.
    """
    attempts = client.max_retries + 1
    error: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            client.pause_before_retry(attempt - 1, f"uploading {name}", error)
        if attempt or not absent:
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


NEW_SUFFIX = ".ci-ml-new"  # an asset uploaded to replace a same-named one, until swapped


def _swap_in(
    client: GitHubClient,
    repo: str,
    release: dict[str, Any],
    old: dict[str, Any],
    data: bytes,
    ctype: str,
) -> None:
    """Replace a published asset with as short a gap as the API allows: the new
    bytes go up under a temporary name, then the old asset is deleted and the new
    one renamed (PATCH), so readers miss the file for two requests, not an upload."""
    name = old["name"]
    _upload_one(client, repo, release, name + NEW_SUFFIX, data, ctype)
    fresh = [a for a in _list_assets(client, repo, release["id"]) if a["name"] == name + NEW_SUFFIX]
    if not (len(fresh) == 1 and _complete(fresh[0], data)):
        return  # the verification round re-sends it under its own name
    _delete_asset(client, repo, old["id"])
    client.patch(f"/repos/{repo}/releases/assets/{fresh[0]['id']}", {"name": name}, expect=Asset)


def _sync_round(
    client: GitHubClient,
    repo: str,
    release: dict[str, Any],
    files: dict[str, Path],
    expected: dict[str, bytes],
    assets: list[dict[str, Any]],
) -> list[str]:
    """One pass: send every file whose asset is missing or differs, delete what
    does not belong. Returns the names sent."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for a in assets:
        by_name.setdefault(a["name"], []).append(a)
    sent = []
    for name in sorted(expected):
        found = by_name.get(name, [])
        if len(found) == 1 and _same(found[0], expected[name]):
            continue  # unchanged: never deleted, never re-sent
        ctype = content_type_for(files[name])
        live = [a for a in found if a["state"] == "uploaded"]
        if len(found) == 1 and live and not release.get("draft"):
            _swap_in(client, repo, release, live[0], expected[name], ctype)
        else:
            _upload_one(client, repo, release, name, expected[name], ctype, absent=not found)
        sent.append(name)
    for a in assets:  # files the build no longer makes, broken uploads, a swap cut short
        if a["name"] not in expected or a["state"] != "uploaded":
            _delete_asset(client, repo, a["id"])
    return sent


def _upload_all(
    client: GitHubClient, repo: str, release: dict[str, Any], files: dict[str, Path]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Make the release's assets exactly `files`, sending only what differs; verified.
    Returns (the assets, the names sent)."""
    expected = {name: path.read_bytes() for name, path in files.items()}
    assets = list(release.get("assets") or [])
    sent: list[str] = []
    for _ in range(VERIFY_ROUNDS):
        sent += _sync_round(client, repo, release, files, expected, assets)
        assets = _list_assets(client, repo, release["id"])
        problems = asset_problems(assets, expected)
        if not problems:
            return assets, sorted(set(sent))
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
    body: str | Callable[[list[str]], str],
    files: list[Path],
    make_latest: bool | None = True,
    releases: list[dict[str, Any]] | None = None,
    prerelease: bool = False,
) -> ReleaseResult:
    """Create or reuse release ``tag``, make its assets ``files``, verify, publish.

    Draft first, publish last: repositories with immutable releases refuse assets
    on a published release, and nobody sees a release with half its files.
    Idempotent: a re-run reuses the release and sends only the files that differ.
    ``make_latest``: True or False is sent as is; None leaves "latest" where it is.
    ``releases``: the caller's listing, so that a publish lists releases once.
    ``body`` may be a function of the asset names sent (for the audit line).
    ``prerelease``: GitHub never makes a prerelease latest.
    """
    by_name = {Path(f).name: Path(f) for f in files}
    if len(by_name) != len(files):
        raise ValueError("two files share a name; release assets are flat")
    release = get_release_by_tag(client, repo, tag, releases)
    created = False
    if release is None:
        draft_body = body if isinstance(body, str) else body(sorted(by_name))
        release, created = _create_draft(
            client, repo, tag, target_commitish, name, draft_body, prerelease
        )
    elif release.get("immutable") and not release.get("draft"):
        raise GitHubError(
            f"release {tag} is published and immutable; its assets cannot be replaced",
            hint="bump the model version so that this build gets a new tag",
        )
    assets, sent = _upload_all(client, repo, release, by_name)
    notes = body if isinstance(body, str) else body(sent)
    update: dict[str, Any] = {"name": name, "body": notes, "draft": False}
    if prerelease:
        update["prerelease"] = True
    if make_latest is not None:
        update["make_latest"] = "true" if make_latest else "false"
    published = client.patch(f"/repos/{repo}/releases/{release['id']}", update, expect=ReleaseReply)
    published["assets"] = assets
    return ReleaseResult.from_api(published, created=created, sent=sent)


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


def release_record(release: dict[str, Any]) -> Release:
    """A GitHub release as the registry sees any release."""
    return Release(
        tag=release["tag_name"],
        key=release["id"],
        created_at=release["created_at"],
        commit=release.get("target_commitish"),
        published_at=release.get("published_at"),
        draft=bool(release.get("draft")),
        prerelease=bool(release.get("prerelease")),
        notes=release.get("body") or "",
        url=release.get("html_url"),
        assets=tuple(a["name"] for a in release.get("assets") or []),
    )


def find_latest_model_release(
    client: GitHubClient,
    repo: str,
    tag_prefix: str,
    include_prereleases: bool = False,
    include_drafts: bool = False,
    exclude_commit: str | None = None,
    releases: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """The model release a build compares with (`registry.audit.pick_baseline`): the
    one GitHub marks latest when it is a model release (so promote and rollback
    decide), else the newest model release not rolled back; never one made for
    `exclude_commit`. `releases`: the release list, if the caller has read it already."""
    if releases is None:
        releases = list_releases(client, repo)
    latest = get_latest_release(client, repo)
    chosen = pick_baseline(
        [release_record(r) for r in releases],
        latest["id"] if latest else None,
        tag_prefix,
        include_prereleases=include_prereleases,
        include_drafts=include_drafts,
        exclude_commit=exclude_commit,
    )
    return next((r for r in releases if r["id"] == chosen.key), None) if chosen else None


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


def mark_latest(
    client: GitHubClient,
    repo: str,
    tag: str,
    body: str | None = None,
    release: dict[str, Any] | None = None,
    prerelease_off: bool = False,
) -> ReleaseResult:
    """Make release ``tag`` the repository's latest (promote / roll back); with
    ``body``, its notes are replaced in the same request (the audit line);
    ``prerelease_off``: a prerelease becomes a full release in that request too
    (GitHub never makes a prerelease latest)."""
    release = release or client.get(tag_path(repo, tag), expect=ReleaseReply)
    update: dict[str, Any] = {"make_latest": "true"}
    if prerelease_off:
        update["prerelease"] = False
    if body is not None:
        update["body"] = body
    updated = client.patch(f"/repos/{repo}/releases/{release['id']}", update, expect=ReleaseReply)
    return ReleaseResult.from_api(updated)


def update_notes(client: GitHubClient, repo: str, release: dict[str, Any], body: str) -> None:
    """Replace a release's notes (an audit line on a release that is not made latest)."""
    client.patch(f"/repos/{repo}/releases/{release['id']}", {"body": body}, expect=ReleaseReply)


def authenticated_login(client: GitHubClient) -> str | None:
    """The login the token acts as (``GET /user``), for a personal access token;
    None for the Actions token and other installation tokens, which GitHub answers
    with 403 (their comments are then recognised as a bot's)."""
    try:
        return client.get("/user", expect=User)["login"]
    except (PermissionDenied, NotFound):
        return None


def approvers(reviews: list[dict[str, Any]]) -> list[str]:
    """Logins whose last deciding review (approved, changes requested, dismissed)
    approves, in the order they approved. Comments do not change a decision. Pure."""
    last: dict[str, str] = {}
    for r in reviews:
        login = (r.get("user") or {}).get("login")
        if login and r.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            last.pop(login, None)  # re-insert: the order is that of the last decision
            last[login] = r["state"]
    return [login for login, state in last.items() if state == "APPROVED"]


def pull_request_of(client: GitHubClient, repo: str, sha: str) -> PullRequestFacts | None:
    """The pull request that brought commit `sha` (its merge commit, else its head),
    with the logins that approved it as its reviews stand; None if none did."""
    pulls = list(client.paginate(f"/repos/{repo}/commits/{sha}/pulls", item=PullSimple))
    if not pulls:
        return None
    pr = next((p for p in pulls if p.get("merge_commit_sha") == sha), pulls[0])
    reviews = client.paginate(f"/repos/{repo}/pulls/{pr['number']}/reviews", item=Review)
    return PullRequestFacts(
        number=pr["number"],
        title=pr["title"],
        author=(pr["user"] or {}).get("login"),
        url=pr["html_url"],
        approved_by=tuple(approvers(list(reviews))),
    )
