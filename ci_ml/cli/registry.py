"""The registry commands: publish, baseline fetch, promote, rollback, registry
list. Each parses its arguments into a request, calls the use-case in
ci_ml.services with the registry the config names (GitHub's releases, or a
folder), and says what happened (stdout, step outputs)."""

from __future__ import annotations

import json
from argparse import Namespace
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.cli.connect import actor, registry_for, signature_check
from ci_ml.cli.signing import sign_build
from ci_ml.config import Config, load_config
from ci_ml.errors import UsageError
from ci_ml.github.context import GitHubContext
from ci_ml.registry.audit import Row
from ci_ml.services import baselines, publishing, releases

if TYPE_CHECKING:
    from ci_ml.cli import Runtime


def _prefix(args: Namespace, cfg: Config) -> str:
    return getattr(args, "tag_prefix", None) or cfg.release.tag_prefix


def cmd_publish(args: Namespace, rt: Runtime) -> int:
    cfg = load_config(args.config)
    ctx = GitHubContext.from_env(rt.env)
    out = Path(args.out)
    with publishing.publishable_build(cfg, out, args.force) as reused:
        if reused is not None and args.prerelease:
            # A candidate (a retraining run's) that is its baseline's own model is none.
            print(
                f"the model is {reused.label}'s own (the build reused it: same data, config and "
                "code): no candidate to publish as a prerelease"
            )
            rt.actions.set_outputs({"release-url": "", "release-tag": ""})
            return 0
        if reused is not None:
            print(
                f"model unchanged since {reused.label}: no new release "
                "(`ci-ml run --no-cache` builds one to publish anyway)"
            )
            rt.actions.set_outputs({"release-url": reused.url, "release-tag": reused.label})
            return 0
        sign_build(out, args.sign, rt)
        staged = publishing.stage(out, ctx.sha)
        registry = registry_for(cfg, rt, "ci-ml publish", args.network_timeout)
        order = publishing.PublishOrder(
            model=cfg.display_name,
            prefix=_prefix(args, cfg),
            tag=args.tag,
            by=actor(rt, registry, ask_github=False).who(),  # a publish never asked
            run=ctx.run_url,
            prerelease=args.prerelease,
        )
        with rt.actions.group("ci-ml publish"):
            outcome = publishing.publish(registry, order, staged)
    result = outcome.published
    sent = ", ".join(result.sent) or "none: every asset was already up to date"
    print(
        f"release {result.tag} {outcome.verb}: {result.url} "
        f"({len(result.assets)} assets; sent: {sent})"
    )
    if outcome.latest is None:
        print("left the latest release as it is (a re-publish never moves it)")
    rt.actions.set_outputs({"release-url": result.url, "release-tag": result.tag})
    return 0


def cmd_baseline_fetch(args: Namespace, rt: Runtime) -> int:
    cfg = load_config(args.config)
    ctx = GitHubContext.from_env(rt.env)
    registry = registry_for(cfg, rt, "ci-ml baseline fetch", args.network_timeout)
    into = Path(args.into) if args.into else Path(args.out) / "baseline"
    prefix = _prefix(args, cfg)
    order = baselines.BaselineOrder(
        into,
        prefix,
        exclude_commit=None if args.any_commit else ctx.sha,
        check=signature_check(cfg, rt),
        include_prereleases=args.prereleases,
    )
    with rt.actions.group("ci-ml baseline fetch"):
        fetched = baselines.fetch_baseline(registry, order).fetched
    if fetched is None:
        rt.actions.notice(
            f"no release tagged {prefix}* in {registry.where} yet: comparing without a baseline"
        )
        rt.actions.set_outputs({"baseline-found": "false", "baseline-path": ""})
        print("no baseline: the comparison will report no-baseline")
        return 0
    rt.actions.set_outputs(
        {"baseline-found": "true", "baseline-path": str(into), "baseline-tag": fetched.tag}
    )
    print(f"baseline {fetched.tag} verified into {into}")
    return 0


def cmd_promote(args: Namespace, rt: Runtime) -> int:
    tag = args.tag or args.tag_pos
    if not tag:
        raise UsageError("ci-ml promote needs the tag to make latest", hint="ci-ml promote TAG")
    cfg = load_config(args.config)
    registry = registry_for(cfg, rt, "ci-ml promote", args.network_timeout)
    model = releases.Model(cfg.display_name, _prefix(args, cfg))
    done = releases.promote(registry, tag, model, actor(rt, registry), args.reason)
    url = done.release.url or ""
    if done.changed:
        print(f"{tag} is now the latest release: {url}")
    else:
        print(f"{tag} is already the latest release: nothing to do")
    rt.actions.set_outputs({"release-url": url, "release-tag": tag})
    return 0


def cmd_rollback(args: Namespace, rt: Runtime) -> int:
    cfg = load_config(args.config)
    registry = registry_for(cfg, rt, "ci-ml rollback", args.network_timeout)
    model = releases.Model(cfg.display_name, _prefix(args, cfg))
    done = releases.rollback(registry, model, actor(rt, registry), args.reason)
    if not done.changed:
        print(f"{done.source.tag} is rolled back already: nothing to do")
        print("(to go further back, `ci-ml promote --tag TAG` an earlier release)")
        return 0
    print(f"rolled back {done.source.tag}: {done.target.tag} is now the latest release")
    rt.actions.set_outputs({"release-url": done.target.url or "", "release-tag": done.target.tag})
    return 0


def cmd_registry_list(args: Namespace, rt: Runtime) -> int:
    cfg = load_config(args.config)
    registry = registry_for(cfg, rt, "ci-ml registry list", args.network_timeout)
    prefix = _prefix(args, cfg)
    rows = releases.rows(registry, prefix)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    elif not rows:
        print(f"no release tagged {prefix}* in {registry.where}")
    else:
        print(_table(rows))
    return 0


def _table(rows: list[Row]) -> str:
    lines = [
        "| tag | commit | published | primary metric | latest | state |",
        "| --- | --- | --- | --- | :---: | --- |",
    ]
    for r in rows:
        metric = (
            f"{r.primary_metric} {r.primary_value:.4g}"
            if r.primary_metric and r.primary_value is not None
            else "—"
        )
        lines.append(
            f"| {r.tag} | {(r.commit or '—')[:7]} | {r.published_at or '—'} | "
            f"{metric} | {'✅' if r.latest else ''} | {r.state} |"
        )
    return "\n".join(lines)
