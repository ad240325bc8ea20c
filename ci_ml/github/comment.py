"""The sticky PR comment: fit the report into GitHub's size limit, and post or
update it; a fork's read-only token defers it to the fork-safe workflow."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.errors import PermissionDenied, UsageError
from ci_ml.github.api import (
    MAX_COMMENT_CHARS,
    authenticated_login,
    upsert_sticky_comment,
    verify_pr_head,
)
from ci_ml.json_types import JSONObject

if TYPE_CHECKING:
    from ci_ml.github.actions import Actions
    from ci_ml.github.client import GitHubClient

_DETAILS_RE = re.compile(r"<details>.*?</details>\n*", re.S)
_MERMAID_RE = re.compile(r"```mermaid\n.*?```\n*", re.S)
_FENCE_RE = re.compile(r"^```", re.M)
_CLOSE = "\n```\n"


def fit_comment(
    body: str, limit: int = MAX_COMMENT_CHARS, full_report_url: str | None = None
) -> tuple[str, bool]:
    """(body, shortened). Drops the least important parts first, in this order:
    1. collapsible <details> sections, from the last up;
    2. Mermaid charts (the history);
    3. then cuts at a line boundary, closing a code block it cut into.
    The marker, the headline, the gates and the forest plot of the deltas come
    first in the report, so they stay; a note says where the full report is."""
    if len(body) <= limit:
        return body, False
    where = f"[the job summary]({full_report_url})" if full_report_url else "the job summary"
    note = f"\n\n> ✂️ Shortened to fit GitHub's {limit:,}-character comment limit; the full report is in {where}.\n"
    budget = limit - len(note) - len(_CLOSE)
    text = body
    for block in reversed(_DETAILS_RE.findall(text)):
        if len(text) <= budget:
            break
        text = text.replace(block, "", 1)
    if len(text) > budget:
        text = _MERMAID_RE.sub("", text)
    if len(text) > budget:
        kept, size = [], 0
        for line in text.splitlines(keepends=True):
            if size + len(line) > budget:
                break
            kept.append(line)
            size += len(line)
        text = "".join(kept)
        if len(_FENCE_RE.findall(text)) % 2:  # cut inside a code block: close it
            text = text.rstrip("\n") + _CLOSE
    return text.rstrip() + note, True


@dataclass(frozen=True)
class Delivery:
    """What became of the comment: posted (created/updated), deferred or skipped."""

    action: str  # created | updated | deferred | stale
    url: str = ""
    deleted_duplicates: int = 0


def deliver(
    client: GitHubClient,
    repo: str,
    pr: int,
    body: str,
    mark: str,
    actions: Actions,
    verify_head_sha: str | None = None,
) -> Delivery:
    """Post or update the sticky comment. A read-only token (a fork's PR) defers
    it: the body already on disk is for the ml-fork-comment.yml workflow."""
    try:
        if verify_head_sha and not verify_pr_head(client, repo, pr, verify_head_sha):
            actions.notice(
                f"#{pr} has moved past {verify_head_sha[:12]}: not posting a stale comment"
            )
            return Delivery("stale")
        with actions.group(f"ci-ml comment on #{pr}"):
            # Ours = the marker and our own author: a personal access token's user
            # (GET /user), else (the Actions token) a bot's.
            result = upsert_sticky_comment(
                client, repo, pr, body, mark, author=authenticated_login(client)
            )
    except PermissionDenied as e:
        actions.warning(
            "the token cannot comment (pull requests from forks get a read-only token): "
            "the comment is deferred for the ml-fork-comment.yml workflow. "
            f"GitHub said: {e.message}"
        )
        return Delivery("deferred")
    return Delivery(result.action, result.url, result.deleted_duplicates)


def load_meta(path: Path) -> JSONObject:
    """The meta.json of a deferred comment, checked: it came from an untrusted run."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: unreadable: {e}") from None
    pr = meta.get("pr") if isinstance(meta, dict) else None
    # bool is an int in Python; a forged true must not become PR #1.
    if not isinstance(pr, int) or isinstance(pr, bool) or not 0 < pr < 10**10:
        raise UsageError(f"{path}: 'pr' must be a positive integer")
    return meta
