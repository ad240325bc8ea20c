"""The GitHub commands that are not the registry's: the sticky PR comment, and
the action's plan for an event. `ci-ml plan` runs first in every job, so this
module imports only what the plan needs; the comment's imports are its own."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.errors import UsageError
from ci_ml.github.context import GitHubContext
from ci_ml.github.plan import plan

if TYPE_CHECKING:
    from ci_ml.cli import Runtime


def cmd_comment(args: Namespace, rt: Runtime) -> int:
    # Here, not at the top: `ci-ml plan` shares this module and needs none of them.
    from ci_ml.artifact import write_json, write_text
    from ci_ml.cli.network import client_for
    from ci_ml.github.comment import deliver, fit_comment, load_meta
    from ci_ml.marker import read_marker, with_comment_id

    ctx = GitHubContext.from_env(rt.env)
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
    meta_pr = load_meta(Path(args.meta_file))["pr"] if args.meta_file else None
    pr = args.pr or meta_pr or ctx.pr_number()
    if pr is None:
        raise UsageError("no pull request number: not a pull_request event", hint="pass --pr N")
    body, shortened = fit_comment(body, full_report_url=ctx.run_url)
    # Always on disk first: a read-only token (fork PR) leaves this for ml-fork-comment.yml.
    write_text(out / "comment" / "body.md", body)
    write_json(out / "comment" / "meta.json", {"pr": pr, "marker": mark, "head_sha": ctx.head_sha})
    if shortened:
        rt.actions.warning("the report was shortened to fit GitHub's comment size limit")
    if args.dry_run:
        print(f"comment for #{pr} written to {out / 'comment' / 'body.md'} (not posted: --dry-run)")
        return 0
    repo = ctx.require_repo("ci-ml comment")
    client = client_for(ctx, rt, "ci-ml comment", args.network_timeout)
    result = deliver(client, repo, pr, body, mark, rt.actions, args.verify_head_sha)
    if result.action == "deferred":
        print(f"comment deferred: its body is in {out / 'comment'}/")
    elif result.action != "stale":
        dupes = result.deleted_duplicates
        extra = f" ({dupes} duplicate(s) removed)" if dupes else ""
        print(f"comment {result.action}: {result.url}{extra}")
    if result.action != "stale":
        rt.actions.set_outputs(
            {
                "comment-url": result.url,
                "comment-deferred": str(result.action == "deferred").lower(),
            }
        )
    return 0


def cmd_plan(args: Namespace, rt: Runtime) -> int:
    ctx = GitHubContext.from_env(rt.env)
    result = plan(
        event_name=args.event_name or ctx.event_name or "",
        ref=args.ref or ctx.ref or "",
        default_branch=args.default_branch or ctx.default_branch or "main",
        mode=args.mode,
        publish=args.publish,
        comment=args.comment,
        baseline=args.baseline,
        fail_on_regression=args.fail_on_regression,
        retrain=args.retrain,
        promote_on_pass=args.promote_on_pass,
    )
    rt.actions.set_outputs(result.outputs())
    print(result.summary(), flush=True)
    return 0
