"""The GitHub commands: comment, publish, baseline fetch, promote, plan."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import UsageError

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.cli import Runtime
    from ci_ml.config import Config
    from ci_ml.github.client import GitHubClient
    from ci_ml.github.context import GitHubContext


# The whole of one command's conversation with GitHub, retries and rate-limit waits
# included. A healthy command needs seconds (GitHub answers in well under one, a
# model's assets upload in seconds), so this is never in the way; ten minutes still
# hold a secondary rate limit (GitHub asks for about a minute) plus retries through
# a degraded GitHub, while a hung connection gives up long before the job's own
# 6-hour timeout has burnt the runner's minutes.
DEFAULT_NETWORK_TIMEOUT = 600.0
NETWORK_TIMEOUT_ENV = "CI_ML_NETWORK_TIMEOUT"


def network_timeout(args: Any, rt: Runtime) -> float:
    """--network-timeout, else $CI_ML_NETWORK_TIMEOUT, else the default (seconds)."""
    if getattr(args, "network_timeout", None) is not None:
        return float(args.network_timeout)
    raw = rt.env.get(NETWORK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_NETWORK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(
            f"{NETWORK_TIMEOUT_ENV}={raw!r} is not a number of seconds",
            hint=f"set it to a positive number (e.g. {DEFAULT_NETWORK_TIMEOUT:g}) or unset it",
        )
    return seconds


def client_for(ctx: GitHubContext, rt: Runtime, what: str, args: Any) -> GitHubClient:
    """The one place a GitHub client is built: token from the environment, masked; the
    command's network deadline starts now; long waits are printed as notices."""
    from ci_ml.github.client import GitHubClient

    token = ctx.require_token(what)
    rt.actions.mask(token)
    seconds = network_timeout(args, rt)
    actions = rt.actions
    return GitHubClient(
        token,
        base_url=ctx.api_url,
        deadline=seconds,
        deadline_hint=(
            f"raise it with --network-timeout SECONDS or {NETWORK_TIMEOUT_ENV} (now {seconds:g} s)"
        ),
        # One knob: the deadline alone bounds how long a rate limit is waited out.
        max_rate_limit_wait=seconds,
        on_wait=lambda wait: actions.notice(str(wait)),
    )


def _context(args: Any, rt: Runtime) -> tuple[GitHubContext, Config]:
    from ci_ml.config import load_config
    from ci_ml.github.context import GitHubContext

    return GitHubContext.from_env(rt.env), load_config(args.config)


def cmd_comment(args: Any, rt: Runtime) -> int:
    from ci_ml.artifact import write_json, write_text
    from ci_ml.github.comment import deliver, fit_comment, load_meta
    from ci_ml.github.context import GitHubContext
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
    client = client_for(ctx, rt, "ci-ml comment", args)
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


def cmd_publish(args: Any, rt: Runtime) -> int:
    from ci_ml.build import Build

    ctx, cfg = _context(args, rt)
    out = Path(args.out)
    with Build(cfg, out).open(create=False) as b:
        _check_publishable(b, args.force)
        return _publish(args, rt, ctx, cfg, out)


def _check_publishable(b: Build, force: bool) -> None:
    """Only a complete build whose every stage is current may become a release;
    --force overrides failed gates, never a broken chain."""
    from ci_ml.artifact import read_json

    problems = b.publish_problems()
    if problems:
        raise UsageError(
            f"refusing to publish {b.out}: it is not a complete, current build: "
            + "; ".join(problems),
            hint="run `ci-ml run` and publish what it builds (--force cannot override this)",
        )
    if read_json(b.out / "comparison.json").get("verdict") == "fail" and not force:
        raise UsageError(
            "this build failed its gates: refusing to publish it as the latest model",
            hint="fix the regression, or pass --force to publish anyway",
        )
    if read_json(b.out / "model-tests.json").get("passed") is False and not force:
        raise UsageError(
            "this build failed its model tests: refusing to publish it as the latest model",
            hint="see model-tests.json; fix the model, or pass --force to publish anyway",
        )


def _publish(args: Any, rt: Runtime, ctx: GitHubContext, cfg: Config, out: Path) -> int:
    from ci_ml.artifact import read_json
    from ci_ml.github.api import list_releases, publish_release
    from ci_ml.github.registry import choose_tag, publishable_files

    files = publishable_files(out)
    repo = ctx.require_repo("ci-ml publish")
    sha = ctx.sha or ((read_json(out / "manifest.json").get("git") or {}).get("commit"))
    if not sha:
        raise UsageError(
            "ci-ml publish needs the commit to tag: set GITHUB_SHA or build inside a git checkout"
        )
    prefix = args.tag_prefix or cfg.release.tag_prefix
    client = client_for(ctx, rt, "ci-ml publish", args)
    with rt.actions.group("ci-ml publish"):
        if args.tag:
            tag, reused = args.tag, False
        else:
            releases = list_releases(client, repo)
            tag, reused = choose_tag(releases, prefix, sha)
        body = (out / "model-card.md").read_text(encoding="utf-8")
        result = publish_release(
            client, repo, tag, sha, f"{cfg.display_name} {tag}", body, files, make_latest=True
        )
    verb = "updated" if (reused or not result.created) else "created"
    print(f"release {result.tag} {verb}: {result.html_url} ({len(result.assets)} assets)")
    rt.actions.set_outputs({"release-url": result.html_url, "release-tag": result.tag})
    return 0


def cmd_baseline_fetch(args: Any, rt: Runtime) -> int:
    from ci_ml.github.registry import fetch_latest

    ctx, cfg = _context(args, rt)
    repo = ctx.require_repo("ci-ml baseline fetch")
    into = Path(args.into) if args.into else Path(args.out) / "baseline"
    prefix = args.tag_prefix or cfg.release.tag_prefix
    client = client_for(ctx, rt, "ci-ml baseline fetch", args)
    with rt.actions.group("ci-ml baseline fetch"):
        fetched = fetch_latest(client, repo, prefix, into, args.prereleases)
    if fetched is None:
        rt.actions.notice(
            f"no release tagged {prefix}* in {repo} yet: comparing without a baseline"
        )
        rt.actions.set_outputs({"baseline-found": "false", "baseline-path": ""})
        print("no baseline: the comparison will report no-baseline")
        return 0
    rt.actions.set_outputs(
        {"baseline-found": "true", "baseline-path": str(into), "baseline-tag": fetched.tag}
    )
    print(f"baseline {fetched.tag} verified into {into}")
    return 0


def cmd_promote(args: Any, rt: Runtime) -> int:
    from ci_ml.github.api import mark_latest

    ctx, _ = _context(args, rt)
    repo = ctx.require_repo("ci-ml promote")
    result = mark_latest(client_for(ctx, rt, "ci-ml promote", args), repo, args.tag)
    print(f"{result.tag} is now the latest release: {result.html_url}")
    rt.actions.set_outputs({"release-url": result.html_url, "release-tag": result.tag})
    return 0


def cmd_plan(args: Any, rt: Runtime) -> int:
    from ci_ml.github.context import GitHubContext
    from ci_ml.github.plan import plan

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
    )
    rt.actions.set_outputs(result.outputs())
    print(result.summary(), flush=True)
    return 0
