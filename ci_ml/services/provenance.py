"""The pull request a build's commit came from, for the audit trail: from the
event of a pull_request run; after a merge (push), asked of GitHub, best effort:
a build never fails for want of it."""

from __future__ import annotations

from collections.abc import Mapping

from ci_ml.errors import GitHubError
from ci_ml.github.api import pull_request_of
from ci_ml.github.client import GitHubClient
from ci_ml.registry.audit import PullRequest


def from_event(event_name: str | None, event: Mapping[str, object]) -> PullRequest | None:
    """The pull request of a pull_request(_target) event's payload (no approvals:
    the PR is not merged yet). Pure."""
    pr = event.get("pull_request")
    if event_name not in ("pull_request", "pull_request_target") or not isinstance(pr, dict):
        return None
    number, user = pr.get("number"), pr.get("user")
    return PullRequest(
        number if isinstance(number, int) and not isinstance(number, bool) else None,
        _text(pr.get("title")),
        _text(user.get("login")) if isinstance(user, dict) else None,
        _text(pr.get("html_url")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def worth_asking(event_name: str | None) -> bool:
    """Only a push (a merge) needs GitHub to name the PR that brought its commit."""
    return event_name == "push"


def of_commit(client: GitHubClient, repo: str, sha: str) -> tuple[PullRequest | None, str | None]:
    """(the PR that brought commit `sha`, None) or (None, a warning saying why it
    is not recorded)."""
    try:
        return pull_request_of(client, repo, sha), None
    except GitHubError as e:
        return None, f"the pull request of {sha[:12]} is not recorded: {e.message}"
