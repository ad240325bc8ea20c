"""`ci-ml drift-issue`: the drift check's outcome as the model's sticky issue on
GitHub (opened, updated, closed, reopened), with the retrained candidate linked.
The decisions and the text are in ci_ml.services.monitoring."""

from __future__ import annotations

from argparse import Namespace
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml import outdir
from ci_ml.artifact import write_text
from ci_ml.cli.network import client_for
from ci_ml.config import load_config
from ci_ml.github import api
from ci_ml.github.context import GitHubContext
from ci_ml.marker import comment_id, drift_marker
from ci_ml.services import monitoring
from ci_ml.services.clock import now

if TYPE_CHECKING:
    from ci_ml.cli import Runtime

ISSUE_FILE = "issue.md"


def _keep(drift_dir: Path, body: str) -> Path | None:
    """The issue's body beside the report, if the folder is the one `ci-ml drift`
    made (ci-ml writes only into its own folders); None: not kept."""
    if not outdir.is_ours(drift_dir, "drift"):
        return None
    write_text(drift_dir / ISSUE_FILE, body)
    return drift_dir / ISSUE_FILE


def cmd_drift_issue(args: Namespace, rt: Runtime) -> int:
    cfg = load_config(args.config)
    ctx = GitHubContext.from_env(rt.env)
    drift_dir = Path(args.drift)
    outcome = monitoring.read_drift(drift_dir)
    retrained = Path(args.retrained) if args.retrained else None
    candidate = monitoring.read_candidate(retrained, args.candidate, None, args.promoted)
    mark = drift_marker(args.issue_id or comment_id(args.config))
    run = monitoring.RunInfo(now(), ctx.run_url)
    verb = monitoring.action(outcome)
    if args.dry_run:
        if verb == "close":
            text = monitoring.closing_comment(outcome, run)
            print(f"no drift: would close the open drift issue (if any) with:\n\n{text}")
        else:
            body = monitoring.issue_body(mark, cfg.display_name, outcome, run, candidate)
            kept = _keep(drift_dir, body)
            where = str(kept) if kept else f"this body:\n\n{body}"
            print(f"drift: would open or update the drift issue with {where} (--dry-run)")
        return 0
    repo = ctx.require_repo("ci-ml drift-issue")
    client = client_for(ctx, rt, "ci-ml drift-issue", args.network_timeout)
    if candidate is not None and candidate.tag:
        found = api.get_release_by_tag(client, repo, candidate.tag)
        url = found["html_url"] if found else None
        candidate = replace(candidate, url=url)
    order = monitoring.IssueOrder(
        repo, mark, cfg.display_name, args.label, run, api.authenticated_login(client)
    )
    if verb == "upsert":
        _keep(drift_dir, monitoring.issue_body(mark, cfg.display_name, outcome, run, candidate))
    with rt.actions.group("ci-ml drift-issue"):
        result = monitoring.sync_issue(client, order, outcome, candidate)
    if result.action == "absent":
        said = "no drift, and no open drift issue: nothing to do"
    else:
        said = f"drift issue #{result.number} {result.action}: {result.url}"
    print(said)
    rt.actions.append_summary(f"**ci-ml drift-issue**: {said}\n")
    if result.unlabelled:
        rt.actions.warning(
            f"GitHub would not create the label {args.label!r} for this token: the issue is "
            "open without it (found again by its hidden marker); create the label once in the "
            "repository's settings, or pass --label with an existing one"
        )
    if result.duplicates:
        closed = ", ".join(f"#{n}" for n in result.duplicates)
        rt.actions.warning(
            f"found more than one open drift issue: kept #{result.number}, the newest, "
            f"and closed {closed} as its duplicates"
        )
    rt.actions.set_outputs(
        {
            "issue-action": result.action,
            "issue-number": "" if result.number is None else str(result.number),
            "issue-url": result.url,
        }
    )
    return 0
