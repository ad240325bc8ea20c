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


def client_for(
    ctx: GitHubContext, rt: Runtime, what: str, args: Any, deadline: float | None = None
) -> GitHubClient:
    """The one place a GitHub client is built: token from the environment, masked; the
    command's network deadline starts now (at most `deadline`); long waits are
    printed as notices."""
    from ci_ml.github.client import GitHubClient

    token = ctx.require_token(what)
    rt.actions.mask(token)
    seconds = network_timeout(args, rt)
    if deadline is not None:
        seconds = min(seconds, deadline)
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
    from ci_ml.stages import chain

    with Build(cfg, out, chain()).open(create=False) as b:
        _check_publishable(b, args.force)
        trained = b.result("train")
        reused = trained.reused_from if trained else None
        if reused and reused.get("source") == "release":
            # The build cache took the release's own model: nothing new to publish.
            print(
                f"model unchanged since {reused.get('label')}: no new release "
                "(`ci-ml run --no-cache` builds one to publish anyway)"
            )
            rt.actions.set_outputs(
                {"release-url": reused.get("url") or "", "release-tag": reused.get("label") or ""}
            )
            return 0
        from ci_ml.cli.signing import sign_build

        sign_build(out, getattr(args, "sign", "auto"), rt)
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
    from ci_ml.github import api
    from ci_ml.github.audit import latest_decision, ownership_problem
    from ci_ml.github.registry import choose_tag, publishable_files

    files = publishable_files(out)
    repo = ctx.require_repo("ci-ml publish")
    manifest = read_json(out / "manifest.json")
    sha = ctx.sha or ((manifest.get("git") or {}).get("commit"))
    if not sha:
        raise UsageError(
            "ci-ml publish needs the commit to tag: set GITHUB_SHA or build inside a git checkout"
        )
    prefix = args.tag_prefix or cfg.release.tag_prefix
    client = client_for(ctx, rt, "ci-ml publish", args)
    with rt.actions.group("ci-ml publish"):
        releases = api.list_releases(client, repo)  # the one listing
        tag, reused = (args.tag, False) if args.tag else choose_tag(releases, prefix, sha)
        existing = api.release_in(releases, tag)
        if existing is not None and (problem := ownership_problem(existing, cfg.display_name)):
            raise UsageError(
                f"refusing to publish into release {tag}: {problem}; its assets would be "
                "replaced and its other files deleted",
                hint="pick another --tag (or none: ci-ml numbers its own releases)",
            )
        make_latest = latest_decision(existing, api.get_latest_release(client, repo), tag, prefix)
        card = (out / "model-card.md").read_text(encoding="utf-8")
        event = _publish_event(ctx, manifest, sha, existing)
        result = api.publish_release(
            client,
            repo,
            tag,
            sha,
            f"{cfg.display_name} {tag}",
            lambda sent: _notes(card, existing, event, sent),
            files,
            make_latest=make_latest,
            releases=releases,
        )
    verb = "updated" if (reused or not result.created) else "created"
    sent = ", ".join(result.sent) or "none: every asset was already up to date"
    print(
        f"release {result.tag} {verb}: {result.html_url} ({len(result.assets)} assets; sent: {sent})"
    )
    if make_latest is None:
        print("left the latest release as it is (a re-publish never moves it)")
    rt.actions.set_outputs({"release-url": result.html_url, "release-tag": result.tag})
    return 0


def _publish_event(
    ctx: GitHubContext, manifest: dict[str, Any], sha: str, existing: dict[str, Any] | None
) -> dict[str, Any]:
    fresh = existing is None or existing.get("draft")
    event = {
        "action": "published" if fresh else "republished",
        "at": _now(),
        "by": ctx.actor,
        "commit": sha,
        "run": ctx.run_url,
    }
    pr = (manifest.get("provenance") or {}).get("pull_request")
    if pr:
        event["pr"] = pr
    return event


def _notes(
    card: str, existing: dict[str, Any] | None, event: dict[str, Any], sent: list[str]
) -> str:
    """The release notes: the model card, the audit lines so far, and this publish's
    (a re-run that changed nothing adds none)."""
    from ci_ml.github.audit import with_event

    old = existing.get("body") if existing else None
    if event["action"] == "republished":
        if not sent:
            return with_event(card, old, None)
        event = {**event, "sent": sent}
    return with_event(card, old, event)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def cmd_baseline_fetch(args: Any, rt: Runtime) -> int:
    from ci_ml.github.registry import fetch_latest

    ctx, cfg = _context(args, rt)
    repo = ctx.require_repo("ci-ml baseline fetch")
    into = Path(args.into) if args.into else Path(args.out) / "baseline"
    prefix = args.tag_prefix or cfg.release.tag_prefix
    client = client_for(ctx, rt, "ci-ml baseline fetch", args)
    with rt.actions.group("ci-ml baseline fetch"):
        fetched = fetch_latest(
            client,
            repo,
            prefix,
            into,
            args.prereleases,
            exclude_commit=ctx.sha,
            check=signature_check(cfg, rt),
        )
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


def signature_check(cfg: Config, rt: Runtime) -> Any:
    """What checks a fetched release's signature (None: nothing to check with)."""
    from ci_ml.cli.signing import verifier_for

    return verifier_for(cfg, rt)


def _registry(args: Any, rt: Runtime, what: str) -> tuple[Any, str, str, Config, GitHubContext]:
    ctx, cfg = _context(args, rt)
    repo = ctx.require_repo(what)
    prefix = getattr(args, "tag_prefix", None) or cfg.release.tag_prefix
    return client_for(ctx, rt, what, args), repo, prefix, cfg, ctx


def _actor(ctx: GitHubContext, client: Any) -> str | None:
    """Who did it, for the audit line: the workflow's actor, else the token's user."""
    from ci_ml.github.api import authenticated_login

    return ctx.actor or authenticated_login(client)


def cmd_promote(args: Any, rt: Runtime) -> int:
    from ci_ml.github import api
    from ci_ml.github.audit import with_event

    tag = args.tag or args.tag_pos
    if not tag:
        raise UsageError("ci-ml promote needs the tag to make latest", hint="ci-ml promote TAG")
    client, repo, prefix, cfg, ctx = _registry(args, rt, "ci-ml promote")
    release = api.get_release_by_tag(client, repo, tag)
    if release is None or release.get("draft") or release.get("prerelease"):
        raise UsageError(
            f"no published release {tag} in {repo} to promote",
            hint="`ci-ml registry list` shows the model's releases",
        )
    _check_model_release(release, cfg, prefix)
    latest = api.get_latest_release(client, repo)
    if latest is not None and latest["id"] == release["id"]:
        print(f"{tag} is already the latest release: nothing to do")
        rt.actions.set_outputs({"release-url": release["html_url"], "release-tag": tag})
        return 0
    event = {
        "action": "promoted",
        "at": _now(),
        "by": _actor(ctx, client),
        "reason": args.reason,
        "previous": latest["tag_name"] if latest else None,
        "run": ctx.run_url,
    }
    body = with_event(_card(release), release.get("body"), event)
    result = api.mark_latest(client, repo, tag, body=body, release=release)
    print(f"{result.tag} is now the latest release: {result.html_url}")
    rt.actions.set_outputs({"release-url": result.html_url, "release-tag": result.tag})
    return 0


def _card(release: dict[str, Any]) -> str:
    from ci_ml.github.audit import card_of

    return card_of(release.get("body"))


def _check_model_release(release: dict[str, Any], cfg: Config, prefix: str) -> None:
    """Promote and rollback touch the model's releases only: its tag prefix, and no
    ci-ml marker naming another model (their notes get an audit line)."""
    from ci_ml.marker import read_release_marker

    facts = read_release_marker(release.get("body"))
    other = facts is not None and facts.get("name") != cfg.display_name
    if not release["tag_name"].startswith(prefix) or other:
        why = (
            f"it holds another model ({str(facts.get('name'))[:80]!r})"
            if other and facts is not None
            else f"its tag does not start with {prefix}"
        )
        raise UsageError(
            f"release {release['tag_name']} is not a model release of {cfg.display_name}: {why}",
            hint="`ci-ml registry list` shows the model's releases",
        )


def cmd_rollback(args: Any, rt: Runtime) -> int:
    from ci_ml.github import api
    from ci_ml.github.audit import plan_rollback, with_event

    client, repo, prefix, cfg, ctx = _registry(args, rt, "ci-ml rollback")
    plan = plan_rollback(api.list_releases(client, repo), prefix)
    if plan is None or plan.target is None:
        raise UsageError(
            f"nothing to roll back to: {repo} has "
            + ("no model release" if plan is None else "no earlier model release in good standing"),
            hint="`ci-ml registry list` shows the model's releases",
        )
    src, dst = plan.source, plan.target
    if plan.done_already:
        print(f"{src['tag_name']} is rolled back already: nothing to do")
        print("(to go further back, `ci-ml promote --tag TAG` an earlier release)")
        return 0
    _check_model_release(src, cfg, prefix)
    now, by = _now(), _actor(ctx, client)
    common = {"at": now, "by": by, "reason": args.reason, "run": ctx.run_url}
    off = {"action": "rolled-back", "to": dst["tag_name"], **common}
    on = {"action": "promoted", "previous": src["tag_name"], **common}
    # The target first: if the second write fails, a re-run finds the newest release
    # not yet marked and does it again; nothing is left half-promoted.
    api.mark_latest(client, repo, dst["tag_name"], with_event(_card(dst), dst.get("body"), on), dst)
    api.update_notes(client, repo, src, with_event(_card(src), src.get("body"), off))
    print(f"rolled back {src['tag_name']}: {dst['tag_name']} is now the latest release")
    rt.actions.set_outputs({"release-url": dst["html_url"], "release-tag": dst["tag_name"]})
    return 0


def cmd_registry_list(args: Any, rt: Runtime) -> int:
    import json

    from ci_ml.github import api
    from ci_ml.github.audit import registry_rows

    client, repo, prefix, _, _ = _registry(args, rt, "ci-ml registry list")
    releases = api.list_releases(client, repo)
    latest = api.get_latest_release(client, repo)
    rows = registry_rows(releases, latest["id"] if latest else None, prefix)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no release tagged {prefix}* in {repo}")
        return 0
    print("| tag | commit | published | primary metric | latest | state |")
    print("| --- | --- | --- | --- | :---: | --- |")
    for r in rows:
        metric = (
            f"{r['primary_metric']} {r['primary_value']:.4g}"
            if r["primary_metric"] and isinstance(r["primary_value"], (int, float))
            else "—"
        )
        print(
            f"| {r['tag']} | {(r['commit'] or '—')[:7]} | {r['published_at'] or '—'} | "
            f"{metric} | {'✅' if r['latest'] else ''} | {r['state']} |"
        )
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
