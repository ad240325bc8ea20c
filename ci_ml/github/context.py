"""What ci-ml needs to know about the GitHub run it is in, read from a copy
of the environment once (by the CLI) into a plain value."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_ml.errors import UsageError
from ci_ml.json_types import JSONObject


@dataclass(frozen=True)
class GitHubContext:
    repository: str | None
    token: str | None
    api_url: str
    server_url: str
    sha: str | None
    ref: str | None
    event_name: str | None
    run_id: str | None
    event: JSONObject = field(default_factory=dict)
    actor: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHubContext:
        event: JSONObject = {}
        path = env.get("GITHUB_EVENT_PATH")
        if path and Path(path).is_file():
            try:
                loaded = json.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                loaded = {}
            event = loaded if isinstance(loaded, dict) else {}
        return cls(
            repository=env.get("GITHUB_REPOSITORY") or None,
            token=env.get("GITHUB_TOKEN") or None,
            api_url=(env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/"),
            sha=env.get("GITHUB_SHA") or None,
            ref=env.get("GITHUB_REF") or None,
            event_name=env.get("GITHUB_EVENT_NAME") or None,
            run_id=env.get("GITHUB_RUN_ID") or None,
            event=event,
            actor=env.get("GITHUB_ACTOR") or None,
        )

    def require_repo(self, what: str) -> str:
        if not self.repository or "/" not in self.repository:
            raise UsageError(
                f"{what} needs GITHUB_REPOSITORY (owner/name)",
                hint="it is set inside GitHub Actions; locally, export GITHUB_REPOSITORY=owner/name",
            )
        return self.repository

    def require_token(self, what: str) -> str:
        if not self.token:
            raise UsageError(
                f"{what} needs a GitHub token in GITHUB_TOKEN",
                hint="in a workflow pass `github-token` to the action (default: the job's token)",
            )
        return self.token

    def pr_number(self) -> int | None:
        """The pull request of a pull_request(_target) or issue_comment event."""
        for key in ("pull_request", "issue"):
            n = (self.event.get(key) or {}).get("number")
            if isinstance(n, int):
                return n
        n = self.event.get("number")
        return n if isinstance(n, int) else None

    @property
    def default_branch(self) -> str | None:
        """repository.default_branch from the event payload, if there is one."""
        repo = self.event.get("repository")
        branch = repo.get("default_branch") if isinstance(repo, dict) else None
        return branch if isinstance(branch, str) and branch else None

    @property
    def head_sha(self) -> str | None:
        """The head commit of the pull request the event is about."""
        pr = self.event.get("pull_request")
        head = pr.get("head") if isinstance(pr, dict) else None
        sha = head.get("sha") if isinstance(head, dict) else None
        return sha if isinstance(sha, str) else None

    @property
    def run_url(self) -> str | None:
        if self.repository and self.run_id:
            return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"
        return None
