"""Issues: the one sticky issue ci-ml keeps for a model's drift, found again by
its hidden marker, opened, updated, closed and reopened, never duplicated.

How it is found: by the marker (the proof that it is ours) among the issues that
carry its label, then, if none does, among all open issues (a label can be
removed by hand, or dropped by GitHub when the token may not set labels). Which
one is kept is a pure function (`select_sticky_issue`); the calls around it
re-read the list after every create, so racing runs converge on one issue.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ci_ml.errors import GitHubError, PermissionDenied, ValidationFailed
from ci_ml.github.api import AMBIGUOUS, MAX_COMMENT_CHARS, is_ours
from ci_ml.github.client import GitHubClient
from ci_ml.github.replies import Comment, Issue
from ci_ml.json_types import JSONObject

MAX_ISSUE_CHARS = MAX_COMMENT_CHARS  # GitHub's limit on an issue body is the same 65,536

Action = Literal["opened", "updated", "reopened", "closed", "absent"]


@dataclass(frozen=True)
class IssueResult:
    """What became of the sticky issue. `absent`: there was none to close."""

    action: Action
    number: int | None = None
    url: str = ""
    duplicates: tuple[int, ...] = ()  # other open copies, closed as duplicates of it
    unlabelled: bool = False  # opened without its label: GitHub refused to create it


# --- the calls ---------------------------------------------------------------------


def list_issues(
    client: GitHubClient,
    repo: str,
    *,
    labels: Sequence[str] = (),
    creator: str | None = None,
    state: Literal["open", "closed", "all"] = "open",
) -> list[JSONObject]:
    """The repository's issues, newest first, every page; pull requests (which
    GitHub lists among issues) left out."""
    params: dict[str, str] = {"state": state, "sort": "created", "direction": "desc"}
    if labels:
        params["labels"] = ",".join(labels)
    if creator:
        params["creator"] = creator
    found = client.paginate(f"/repos/{repo}/issues", params, item=Issue)
    return [i for i in found if "pull_request" not in i]


def create_issue(
    client: GitHubClient, repo: str, title: str, body: str, labels: Sequence[str] = ()
) -> JSONObject:
    """Open an issue. A label that does not exist yet is created by GitHub."""
    payload: JSONObject = {"title": title, "body": body}
    if labels:
        payload["labels"] = list(labels)
    issue: JSONObject = client.post(f"/repos/{repo}/issues", payload, expect=Issue)
    return issue


def _open_labelled(
    client: GitHubClient, repo: str, title: str, body: str, label: str
) -> tuple[JSONObject, bool]:
    """(the issue, whether it went without its label). GitHub creates a missing label
    when an issue is given it, but may refuse that to a token (403, or 422): the
    issue matters more than its label, and its marker finds it without one."""
    try:
        return create_issue(client, repo, title, body, [label]), False
    except (PermissionDenied, ValidationFailed):
        return create_issue(client, repo, title, body), True


def update_issue(
    client: GitHubClient,
    repo: str,
    number: int,
    *,
    title: str | None = None,
    body: str | None = None,
    state: Literal["open", "closed"] | None = None,
    state_reason: Literal["completed", "not_planned", "duplicate", "reopened"] | None = None,
) -> JSONObject:
    """Change what is given, leave the rest."""
    payload: JSONObject = {}
    for key, value in (
        ("title", title),
        ("body", body),
        ("state", state),
        ("state_reason", state_reason),
    ):
        if value is not None:
            payload[key] = value
    issue: JSONObject = client.patch(f"/repos/{repo}/issues/{number}", payload, expect=Issue)
    return issue


def comment_on_issue(client: GitHubClient, repo: str, number: int, body: str) -> JSONObject:
    comment: JSONObject = client.post(
        f"/repos/{repo}/issues/{number}/comments", {"body": body}, expect=Comment
    )
    return comment


# --- the decision (pure) -------------------------------------------------------------


def _newest_first(issues: Iterable[JSONObject]) -> list[JSONObject]:
    return sorted(issues, key=lambda i: (i["created_at"], i["id"]), reverse=True)


def select_sticky_issue(
    issues: Iterable[JSONObject], marker: str, author: str | None = None
) -> tuple[JSONObject | None, list[JSONObject]]:
    """(the issue to keep, the other open copies) among the issues carrying `marker`.

    Ours: the marker in the body, written by `author` if given, else by a bot (a
    human quoting the marker is never touched). Kept: the newest open one, else
    (none open) the newest closed one, to reopen. Racing runs see the same list
    and pick the same issue."""
    ours = _newest_first(
        i for i in issues if "pull_request" not in i and is_ours(i, marker, author)
    )
    opened = [i for i in ours if i["state"] == "open"]
    keep = opened[0] if opened else (ours[0] if ours else None)
    return keep, [i for i in opened if i is not keep]


def _check_body(body: str, marker: str) -> None:
    if not (marker.startswith("<!--") and marker.endswith("-->")):
        raise ValueError(f"sticky marker must be an HTML comment, got {marker!r}")
    if marker not in body:
        raise ValueError("the issue body must contain the marker, or the next run cannot find it")
    if len(body) > MAX_ISSUE_CHARS:
        raise ValueError(
            f"issue body has {len(body)} characters; GitHub's limit is {MAX_ISSUE_CHARS}"
        )


# --- the sticky issue ------------------------------------------------------------------


def find_sticky_issue(
    client: GitHubClient, repo: str, marker: str, label: str, author: str | None = None
) -> tuple[JSONObject | None, list[JSONObject]]:
    """The sticky issue and its open duplicates: among the label's issues (open or
    closed), else among all open issues (the label removed or never set)."""
    keep, duplicates = select_sticky_issue(
        list_issues(client, repo, labels=[label], state="all"), marker, author
    )
    if keep is None:
        keep, duplicates = select_sticky_issue(
            list_issues(client, repo, state="open"), marker, author
        )
    return keep, duplicates


def _say_then_close(
    client: GitHubClient,
    repo: str,
    number: int,
    comment: str,
    reason: Literal["completed", "duplicate"],
) -> None:
    """Comment on an issue, then close it. A comment whose reply was lost may well
    be posted: closing matters more than knowing (a re-run finds the issue closed
    and does not comment twice)."""
    with contextlib.suppress(*AMBIGUOUS):
        comment_on_issue(client, repo, number, comment)
    update_issue(client, repo, number, state="closed", state_reason=reason)


def _close_duplicates(
    client: GitHubClient, repo: str, keep: JSONObject, duplicates: list[JSONObject]
) -> tuple[int, ...]:
    for d in duplicates:
        note = f"Duplicate of #{keep['number']}: ci-ml keeps one issue."
        _say_then_close(client, repo, d["number"], note, "duplicate")
    return tuple(d["number"] for d in duplicates)


def upsert_sticky_issue(
    client: GitHubClient,
    repo: str,
    *,
    marker: str,
    title: str,
    body: str,
    label: str,
    author: str | None = None,
) -> IssueResult:
    """Open the sticky issue, or update it (reopening it if it was closed); close
    any other open copy as a duplicate of it.

    After opening one, the list is read again: if a racing run opened one too,
    both converge on the newest and close the other."""
    _check_body(body, marker)
    keep, duplicates = find_sticky_issue(client, repo, marker, label, author)
    unlabelled = False
    if keep is None:
        created: JSONObject | None
        try:
            created, unlabelled = _open_labelled(client, repo, title, body, label)
        except AMBIGUOUS:
            created = None  # it may exist now; the re-read decides
        if created is not None and created["user"] is not None:
            author = author or created["user"]["login"]
        keep, duplicates = find_sticky_issue(client, repo, marker, label, author)
        if keep is None:
            if created is None:
                raise GitHubError(
                    f"could not open the drift issue in {repo}",
                    hint="re-run the job; check https://www.githubstatus.com",
                )
            keep = created  # the listing lagged behind the write
        if created is not None and keep["id"] == created["id"]:
            dupes = _close_duplicates(client, repo, keep, duplicates)
            return IssueResult("opened", keep["number"], keep["html_url"], dupes, unlabelled)
    reopen = keep["state"] != "open"
    updated = update_issue(
        client, repo, keep["number"], title=title, body=body, state="open" if reopen else None
    )
    dupes = _close_duplicates(client, repo, updated, duplicates)
    return IssueResult(
        "reopened" if reopen else "updated", updated["number"], updated["html_url"], dupes
    )


def close_sticky_issue(
    client: GitHubClient,
    repo: str,
    *,
    marker: str,
    label: str,
    comment: str,
    author: str | None = None,
) -> IssueResult:
    """Close every open copy of the sticky issue as completed, each with `comment`
    (why). Nothing open: `absent`, and nothing is written."""
    keep, duplicates = find_sticky_issue(client, repo, marker, label, author)
    if keep is None or keep["state"] != "open":
        return IssueResult("absent")
    for issue in (keep, *duplicates):
        _say_then_close(client, repo, issue["number"], comment, "completed")
    return IssueResult(
        "closed", keep["number"], keep["html_url"], tuple(d["number"] for d in duplicates)
    )
