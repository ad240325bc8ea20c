"""The fake's world: repositories, pull requests, comments, releases and assets.

Plain data behind one lock; no HTTP here. Timestamps come from a fake clock that
advances one second per object created, so "oldest" and "newest" are exact.
Objects are rendered in GitHub's response shapes by the ``*_json`` methods.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from . import openapi_check

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
ACTIONS_BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
DEFAULT_TOKEN = "ghs_fake_actions_token_0123456789"


@dataclass
class Token:
    login: str = "github-actions[bot]"
    type: str = "Bot"
    id: int = 41898282
    read_only: bool = False  # like a fork PR's GITHUB_TOKEN


@dataclass
class Comment:
    id: int
    repo: str
    issue: int
    body: str
    user: dict[str, Any] | None  # None: a deleted account (the API sends "user": null)
    created_at: str
    updated_at: str


@dataclass
class Asset:
    id: int
    release_id: int
    name: str
    content_type: str
    state: str
    data: bytes
    created_at: str
    uploader: dict[str, Any]
    label: str | None = None
    size: int | None = None  # a half-uploaded asset claims a size it lacks

    @property
    def digest(self) -> str | None:
        if self.state != "uploaded":
            return None
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclass
class Release:
    id: int
    repo: str
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    created_at: str
    published_at: str | None
    author: dict[str, Any]


@dataclass
class Issue:
    id: int
    repo: str
    number: int
    title: str
    body: str | None
    user: dict[str, Any]
    labels: list[str]
    state: str  # open | closed
    state_reason: str | None
    created_at: str
    updated_at: str
    closed_at: str | None = None


@dataclass
class State:
    """Everything the fake remembers. Mutate only while holding ``lock``."""

    repos: set[str] = field(default_factory=lambda: {"octo/ml"})
    tokens: dict[str, Token] = field(default_factory=lambda: {DEFAULT_TOKEN: Token()})
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    releases: dict[int, Release] = field(default_factory=dict)
    assets: dict[int, Asset] = field(default_factory=dict)
    latest: dict[str, int] = field(default_factory=dict)  # repo -> release id marked latest
    reviews: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    issues: dict[tuple[str, int], Issue] = field(default_factory=dict)
    labels: dict[str, set[str]] = field(default_factory=dict)  # repo -> label names
    # GitHub creates a missing label an issue is given, but has refused that to some
    # tokens ("403 Must have admin rights to Repository"): True plays that refusal.
    refuse_new_labels: bool = False
    # Real GitHub lets two drafts share a tag; the brief's fake refuses by default.
    allow_duplicate_draft_tags: bool = False
    base_url: str = "http://127.0.0.1"
    tick: int = 0
    next_id: int = 1000
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    # -- clocks and ids ------------------------------------------------------

    def now(self) -> str:
        self.tick += 1
        return (EPOCH + timedelta(seconds=self.tick)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    # -- seeding ---------------------------------------------------------------

    def add_pull(
        self,
        repo: str,
        number: int,
        head_sha: str = "a" * 40,
        *,
        title: str | None = None,
        author: str = "octocat",
        merge_commit_sha: str | None = None,
    ) -> None:
        self.repos.add(repo)
        self.pulls[(repo, number)] = {
            "head_sha": head_sha,
            "ref": f"pr-{number}",
            "title": title or f"Pull request {number}",
            "author": author,
            "merge_commit_sha": merge_commit_sha,
        }

    def next_number(self, repo: str) -> int:
        """Issues and pull requests share one sequence of numbers per repository."""
        used = [n for r, n in self.pulls if r == repo] + [n for r, n in self.issues if r == repo]
        return max(used, default=0) + 1

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str | None = None,
        *,
        labels: list[str] | None = None,
        login: str = "github-actions[bot]",
        type: str = "Bot",
        state: str = "open",
    ) -> Issue:
        """Like GitHub, a label an issue is given is created in the repository if missing."""
        self.repos.add(repo)
        now = self.now()
        user = {"login": login, "id": abs(hash(login)) % 10**7 + 1, "type": type}
        names = list(dict.fromkeys(labels or []))
        self.labels.setdefault(repo, set()).update(names)
        issue = Issue(
            self.new_id(), repo, self.next_number(repo), title, body, user, names, state,
            "completed" if state == "closed" else None, now, now,
            now if state == "closed" else None,
        )  # fmt: skip
        self.issues[(repo, issue.number)] = issue
        return issue

    def add_review(self, repo: str, number: int, login: str, state: str = "APPROVED") -> None:
        self.reviews.setdefault((repo, number), []).append(
            {"id": self.new_id(), "login": login, "state": state, "at": self.now()}
        )

    def add_comment(
        self, repo: str, issue: int, body: str, login: str | None = "octocat", type: str = "User"
    ) -> Comment:
        """``login=None``: written by an account deleted since (``"user": null``)."""
        now = self.now()
        user = (
            None
            if login is None
            else {"login": login, "id": abs(hash(login)) % 10**7 + 1, "type": type}
        )
        comment = Comment(self.new_id(), repo, issue, body, user, now, now)
        self.comments[comment.id] = comment
        return comment

    def add_release(
        self,
        repo: str,
        tag: str,
        *,
        draft: bool = False,
        prerelease: bool = False,
        assets: dict[str, bytes] | None = None,
        make_latest: bool = True,
    ) -> Release:
        now = self.now()
        release = Release(
            self.new_id(), repo, tag, "main", tag, "", draft, prerelease, now,
            None if draft else now, dict(ACTIONS_BOT),
        )  # fmt: skip
        self.releases[release.id] = release
        for name, data in (assets or {}).items():
            self.add_asset(release, name, data, "application/octet-stream")
        if make_latest and not draft and not prerelease:
            self.latest[repo] = release.id
        return release

    def add_asset(
        self,
        release: Release,
        name: str,
        data: bytes,
        content_type: str,
        state: str = "uploaded",
        uploader: dict[str, Any] | None = None,
        size: int | None = None,
    ) -> Asset:
        asset = Asset(
            self.new_id(), release.id, name, content_type, state, data, self.now(),
            uploader or dict(ACTIONS_BOT), size=size,
        )  # fmt: skip
        self.assets[asset.id] = asset
        return asset

    # -- queries -----------------------------------------------------------------

    def release_assets(self, release_id: int) -> list[Asset]:
        return sorted(
            (a for a in self.assets.values() if a.release_id == release_id), key=lambda a: a.id
        )

    def repo_releases(self, repo: str) -> list[Release]:
        """Newest first, like GitHub's list."""
        rels = [r for r in self.releases.values() if r.repo == repo]
        return sorted(rels, key=lambda r: (r.created_at, r.id), reverse=True)

    def latest_release(self, repo: str) -> Release | None:
        rid = self.latest.get(repo)
        if rid in self.releases and not self.releases[rid].draft:
            return self.releases[rid]
        published = [r for r in self.repo_releases(repo) if not r.draft and not r.prerelease]
        return published[0] if published else None

    # -- GitHub's JSON shapes ----------------------------------------------------

    def user_json(self, user: dict[str, Any]) -> dict[str, Any]:
        login = user["login"]
        api = f"https://api.github.com/users/{login.replace('[bot]', '%5Bbot%5D')}"
        return {
            "login": login,
            "id": user["id"],
            "node_id": f"U_{user['id']}",
            "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"https://github.com/apps/{login.removesuffix('[bot]')}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": user["type"],
            "site_admin": False,
        }

    def comment_json(self, c: Comment) -> dict[str, Any]:
        kind = "issues" if (c.repo, c.issue) in self.issues else "pull"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{self.base_url}/repos/{c.repo}/issues/comments/{c.id}",
            "html_url": f"https://github.com/{c.repo}/{kind}/{c.issue}#issuecomment-{c.id}",
            "issue_url": f"{self.base_url}/repos/{c.repo}/issues/{c.issue}",
            "body": c.body,
            "user": self.user_json(c.user) if c.user else None,
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "author_association": "NONE",
        }

    def label_json(self, repo: str, name: str) -> dict[str, Any]:
        lid = abs(hash((repo, name))) % 10**9 + 1
        return {
            "id": lid,
            "node_id": f"LA_{lid}",
            "url": f"{self.base_url}/repos/{repo}/labels/{name}",
            "name": name,
            "description": None,
            "color": "d73a4a",
            "default": False,
        }

    def issue_json(self, i: Issue) -> dict[str, Any]:
        issue = openapi_check.minimal_instance(
            openapi_check.response_schema("/repos/{owner}/{repo}/issues/{issue_number}", "get")
        )
        api = f"{self.base_url}/repos/{i.repo}/issues/{i.number}"
        issue.update(
            {
                "id": i.id,
                "node_id": f"I_{i.id}",
                "url": api,
                "repository_url": f"{self.base_url}/repos/{i.repo}",
                "labels_url": f"{api}/labels{{/name}}",
                "comments_url": f"{api}/comments",
                "events_url": f"{api}/events",
                "html_url": f"https://github.com/{i.repo}/issues/{i.number}",
                "number": i.number,
                "state": i.state,
                "state_reason": i.state_reason,
                "title": i.title,
                "body": i.body,
                "user": self.user_json(i.user),
                "labels": [self.label_json(i.repo, n) for n in i.labels],
                "assignee": None,
                "milestone": None,
                "locked": False,
                "comments": sum(
                    1 for c in self.comments.values() if c.repo == i.repo and c.issue == i.number
                ),
                "closed_at": i.closed_at,
                "created_at": i.created_at,
                "updated_at": i.updated_at,
                "author_association": "NONE",
            }
        )
        if i.state_reason is None:
            # GitHub sends null; openapi-core reads the nullable enum as refusing it.
            del issue["state_reason"]
        return issue

    def asset_json(self, a: Asset) -> dict[str, Any]:
        release = self.releases[a.release_id]
        return {
            "url": f"{self.base_url}/repos/{release.repo}/releases/assets/{a.id}",
            "browser_download_url": (
                f"https://github.com/{release.repo}/releases/download/{release.tag_name}/{a.name}"
            ),
            "id": a.id,
            "node_id": f"RA_{a.id}",
            "name": a.name,
            "label": a.label,
            "state": a.state,
            "content_type": a.content_type,
            "size": len(a.data) if a.size is None else a.size,
            "digest": a.digest,
            "download_count": 0,
            "created_at": a.created_at,
            "updated_at": a.created_at,
            "uploader": self.user_json(a.uploader),
        }

    def release_json(self, r: Release) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{r.repo}/releases/{r.id}"
        return {
            "url": api,
            "html_url": f"https://github.com/{r.repo}/releases/tag/{r.tag_name}",
            "assets_url": f"{api}/assets",
            "upload_url": (
                f"{self.base_url}/uploads/repos/{r.repo}/releases/{r.id}/assets{{?name,label}}"
            ),
            "tarball_url": None
            if r.draft
            else f"{self.base_url}/repos/{r.repo}/tarball/{r.tag_name}",
            "zipball_url": None
            if r.draft
            else f"{self.base_url}/repos/{r.repo}/zipball/{r.tag_name}",
            "id": r.id,
            "node_id": f"RE_{r.id}",
            "tag_name": r.tag_name,
            "target_commitish": r.target_commitish,
            "name": r.name,
            "body": r.body,
            "draft": r.draft,
            "prerelease": r.prerelease,
            "immutable": False,
            "created_at": r.created_at,
            "published_at": r.published_at,
            "updated_at": r.published_at or r.created_at,
            "author": self.user_json(r.author),
            "assets": [self.asset_json(a) for a in self.release_assets(r.id)],
        }

    def pull_json(self, repo: str, number: int) -> dict[str, Any]:
        pr = openapi_check.minimal_instance(
            openapi_check.response_schema("/repos/{owner}/{repo}/pulls/{pull_number}", "get")
        )
        info = self.pulls[(repo, number)]
        pr.update(
            {
                "url": f"{self.base_url}/repos/{repo}/pulls/{number}",
                "html_url": f"https://github.com/{repo}/pull/{number}",
                "number": number,
                "state": "open",
            }
        )
        pr["head"].update({"sha": info["head_sha"], "ref": info["ref"], "label": info["ref"]})
        pr["base"].update({"ref": "main", "label": "main"})
        return pr

    def _user_of(self, login: str) -> dict[str, Any]:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return self.user_json({"login": login, "id": abs(hash(login)) % 10**7 + 1, "type": kind})

    def pull_simple_json(self, repo: str, number: int) -> dict[str, Any]:
        pr = openapi_check.minimal_instance(
            openapi_check.response_schema(
                "/repos/{owner}/{repo}/commits/{commit_sha}/pulls", "get"
            )["items"]
        )
        info = self.pulls[(repo, number)]
        pr.update(
            {
                "url": f"{self.base_url}/repos/{repo}/pulls/{number}",
                "html_url": f"https://github.com/{repo}/pull/{number}",
                "number": number,
                "state": "closed" if info.get("merge_commit_sha") else "open",
                "title": info["title"],
                "user": self._user_of(info["author"]),
                "merge_commit_sha": info.get("merge_commit_sha"),
            }
        )
        pr["head"].update({"sha": info["head_sha"], "ref": info["ref"], "label": info["ref"]})
        pr["base"].update({"ref": "main", "label": "main"})
        return pr

    def reviews_json(self, repo: str, number: int) -> list[dict[str, Any]]:
        out = []
        for r in self.reviews.get((repo, number), []):
            out.append(
                {
                    "id": r["id"],
                    "node_id": f"PRR_{r['id']}",
                    "user": self._user_of(r["login"]),
                    "body": "",
                    "state": r["state"],
                    "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{r['id']}",
                    "pull_request_url": f"{self.base_url}/repos/{repo}/pulls/{number}",
                    "_links": {
                        "html": {"href": f"https://github.com/{repo}/pull/{number}"},
                        "pull_request": {"href": f"{self.base_url}/repos/{repo}/pulls/{number}"},
                    },
                    "submitted_at": r["at"],
                    "commit_id": self.pulls[(repo, number)]["head_sha"],
                    "author_association": "MEMBER",
                }
            )
        return out

    def authenticated_user_json(self, token: Token) -> dict[str, Any]:
        user = openapi_check.minimal_instance(
            openapi_check.response_schema("/user", "get")["oneOf"][1]  # a public user
        )
        user.update(self.user_json({"login": token.login, "id": token.id, "type": token.type}))
        return user

    # -- snapshot for the control API / state file -----------------------------

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(
                {
                    "repos": sorted(self.repos),
                    "pulls": [
                        {"repo": repo, "number": n, **info}
                        for (repo, n), info in self.pulls.items()
                    ],
                    "comments": [self.comment_json(c) for c in self.comments.values()],
                    "issues": [
                        self.issue_json(i)
                        for i in sorted(self.issues.values(), key=lambda i: (i.repo, i.number))
                    ],
                    "releases": [
                        self.release_json(r)
                        for repo in sorted(self.repos)
                        for r in self.repo_releases(repo)
                    ],
                    "latest": {
                        repo: (rel.tag_name if (rel := self.latest_release(repo)) else None)
                        for repo in sorted(self.repos)
                    },
                }
            )
