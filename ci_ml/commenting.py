"""The sticky PR comment: fit the report into GitHub's size limit, post or
update it, and always leave the body on disk for the fork-safe workflow."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ci_ml import actions
from ci_ml.artifact import write_json, write_text
from ci_ml.errors import UsageError
from ci_ml.report import MARKER_PREFIX, marker

GITHUB_LIMIT = 65_536
_MARKER_RE = re.compile(r"<!-- " + re.escape(MARKER_PREFIX) + r" id=([A-Za-z0-9._-]{1,64}) -->")
_DETAILS_RE = re.compile(r"<details>.*?</details>\n*", re.S)
_MERMAID_RE = re.compile(r"```mermaid\n.*?```\n*", re.S)


def fit_comment(
    body: str, limit: int = GITHUB_LIMIT, full_report_url: str | None = None
) -> tuple[str, bool]:
    """(body, shortened). Drops the least important parts first: collapsible
    details from the last up, then the chart, then cuts table rows, always
    keeping the marker, the headline and a note saying where the full report is."""
    if len(body) <= limit:
        return body, False
    where = f"[the job summary]({full_report_url})" if full_report_url else "the job summary"
    note = f"\n\n> ✂️ Shortened to fit GitHub's {limit:,}-character comment limit; the full report is in {where}.\n"
    budget = limit - len(note)
    text = body
    for block in reversed(_DETAILS_RE.findall(text)):
        if len(text) <= budget:
            break
        text = text.replace(block, "", 1)
    if len(text) > budget:
        text = _MERMAID_RE.sub("", text)
    if len(text) > budget:
        lines = text.splitlines(keepends=True)
        kept, size = [], 0
        for line in lines:
            if size + len(line) > budget:
                break
            kept.append(line)
            size += len(line)
        text = "".join(kept)
    return text.rstrip() + note, True


def read_marker(body: str) -> str | None:
    m = _MARKER_RE.search(body)
    return m.group(0) if m else None


def with_comment_id(body: str, cid: str) -> str:
    """Replace the report's marker with one for `cid` (a second model, say)."""
    new = marker(cid)
    return _MARKER_RE.sub(lambda _: new, body, count=1) if read_marker(body) else f"{new}\n{body}"


def cmd_comment(args: Any) -> int:
    import os

    from ci_ml.github_context import GitHubContext

    ctx = GitHubContext.from_env(dict(os.environ))
    out = Path(args.out)
    source = Path(args.body_file) if args.body_file else out / "report.md"
    if not source.is_file():
        raise UsageError(
            f"no comment body at {source}",
            hint="run `ci-ml report` (or `ci-ml run`) first, or pass --body-file",
        )
    body = source.read_text(encoding="utf-8")
    if args.comment_id:
        body = with_comment_id(body, args.comment_id)
    mark = read_marker(body)
    if mark is None:
        raise UsageError(
            f"{source} has no ci-ml marker, so it could never be found again to update",
            hint="post a report rendered by `ci-ml report`",
        )
    pr = (
        args.pr
        or (load_meta(Path(args.meta_file))["pr"] if args.meta_file else None)
        or ctx.pr_number()
    )
    if pr is None:
        raise UsageError("no pull request number: not a pull_request event", hint="pass --pr N")
    body, shortened = fit_comment(body, GITHUB_LIMIT, ctx.run_url)
    # Always on disk first: a read-only token (fork PR) leaves this for ml-fork-comment.yml.
    write_text(out / "comment" / "body.md", body)
    write_json(
        out / "comment" / "meta.json", {"pr": pr, "marker": mark, "head_sha": _head_sha(ctx)}
    )
    if shortened:
        actions.warning(
            f"the report was shortened to fit GitHub's {GITHUB_LIMIT:,}-character limit"
        )
    if args.dry_run:
        print(f"comment for #{pr} written to {out / 'comment' / 'body.md'} (not posted: --dry-run)")
        return 0
    return _post(ctx, pr, body, mark, args, out)


def _head_sha(ctx: Any) -> str | None:
    return ((ctx.event.get("pull_request") or {}).get("head") or {}).get("sha")


def _post(ctx: Any, pr: int, body: str, mark: str, args: Any, out: Path) -> int:
    from ci_ml.github import upsert_sticky_comment, verify_pr_head
    from ci_ml.github_client import PermissionDenied
    from ci_ml.registry import client_for

    repo = ctx.require_repo("ci-ml comment")
    client = client_for(ctx, "ci-ml comment")
    try:
        if args.verify_head_sha and not verify_pr_head(client, repo, pr, args.verify_head_sha):
            actions.notice(
                f"#{pr} has moved past {args.verify_head_sha[:12]}: not posting a stale comment"
            )
            return 0
        with actions.group(f"ci-ml comment on #{pr}"):
            result = upsert_sticky_comment(client, repo, pr, body, mark)
    except PermissionDenied as e:
        actions.warning(
            "the token cannot comment (pull requests from forks get a read-only token): "
            f"the comment is deferred; its body is in {out / 'comment'}/ for the ml-fork-comment.yml workflow. "
            f"GitHub said: {e.message}"
        )
        actions.set_outputs({"comment-url": "", "comment-deferred": "true"})
        return 0
    print(
        f"comment {result.action}: {result.url}"
        + (
            f" ({result.deleted_duplicates} duplicate(s) removed)"
            if result.deleted_duplicates
            else ""
        )
    )
    actions.set_outputs({"comment-url": result.url, "comment-deferred": "false"})
    return 0


def load_meta(path: Path) -> dict[str, Any]:
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
