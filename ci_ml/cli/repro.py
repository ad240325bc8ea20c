"""`ci-ml reproduce` and `ci-ml diff`: builds compared with their record or each
other; a TAG is fetched from the registry (verified) first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import CiMlError, UsageError

if TYPE_CHECKING:
    from ci_ml.cli import Runtime
    from ci_ml.config import Config


def resolve_source(
    args: Any, rt: Runtime, source: str, into: Path, cfg: Config | None
) -> tuple[Path, str]:
    """(folder, label): an artifact folder as it is (checksums verified), or a release
    tag fetched into `into` (checksums and signature verified)."""
    from ci_ml.artifact import verify_sums

    path = Path(source)
    if path.is_dir():
        verify_sums(path)
        return path, str(path)
    from ci_ml.cli.github import client_for
    from ci_ml.cli.signing import verifier_for
    from ci_ml.github.api import get_release_by_tag
    from ci_ml.github.context import GitHubContext
    from ci_ml.github.registry import fetch_release

    ctx = GitHubContext.from_env(rt.env)
    if not ctx.repository:
        raise UsageError(
            f"{source} is not a folder, and without GITHUB_REPOSITORY it cannot be a release tag",
            hint="pass an artifact folder, or set GITHUB_REPOSITORY and GITHUB_TOKEN",
        )
    repo = ctx.require_repo(f"fetching release {source}")
    client = client_for(ctx, rt, f"fetching release {source}", args)
    release = get_release_by_tag(client, repo, source)
    if release is None:
        raise UsageError(
            f"{source} is neither a folder nor a release tag of {repo}",
            hint="`ci-ml registry list` shows the model's releases",
        )
    check = verifier_for(cfg, rt) if cfg is not None else None
    fetch_release(client, repo, release, into, check, kind="release")
    return into, source


def _config(args: Any) -> Config | None:
    from ci_ml.config import load_config

    return load_config(args.config) if Path(args.config).is_file() else None


def cmd_reproduce(args: Any, rt: Runtime) -> int:
    from ci_ml import outdir
    from ci_ml.artifact import read_json, write_json, write_text
    from ci_ml.reproduce import fail, markdown, recorded_source

    out = Path(args.out)
    outdir.claim(out, "reproduce")
    with outdir.locked(out):
        record, label = resolve_source(args, rt, args.source, out / "record", _config(args))
        manifest = read_json(record / "manifest.json")
        commit, config_path = recorded_source(manifest)
        # A commit missing from the clone is a usage error (exit 2); a rebuild that
        # fails or differs is "not reproduced" (exit 8).
        outcome = _rebuild(args, rt, out, record, manifest, commit, config_path)
        report = markdown(label, outcome)
        write_text(out / "reproduce.md", report)
        write_json(out / "reproduce.json", {"source": label, "commit": commit, **outcome.__dict__})
        rt.actions.append_summary(report)
    print(report)
    if not outcome.matched:
        raise fail(outcome)
    return 0


def _rebuild(
    args: Any, rt: Runtime, out: Path, record: Path, manifest: dict, commit: str, config_path: str
) -> Any:
    from ci_ml import outdir, pipeline
    from ci_ml.build import Build, RunContext
    from ci_ml.config import load_config
    from ci_ml.reproduce import Outcome, compare, data_problems, toplevel, worktree
    from ci_ml.stage import Options
    from ci_ml.stages import chain

    repo = toplevel(Path(args.repo))
    with worktree(repo, commit) as src:
        config = src / config_path
        if not config.is_file():
            raise UsageError(f"commit {commit[:12]} has no {config_path}")
        problems = data_problems(manifest, config.parent, (repo / config_path).parent)
        if problems:
            return Outcome(False, {}, data=problems)
        rebuilt = out / "rebuild"
        if rebuilt.exists() and outdir.is_ours(rebuilt, "build"):
            shutil.rmtree(rebuilt)
        b = Build(load_config(config), rebuilt, chain(), RunContext())
        try:
            with (
                rt.actions.group(f"ci-ml reproduce: rebuilding {commit[:12]}"),
                pipeline.session(b),
            ):
                pipeline.run(b, None, rt.actions, Options(cache=False))
        except CiMlError as e:
            return Outcome(False, {}, error=e.message)
    return compare(record, rebuilt, manifest)


def cmd_diff(args: Any, rt: Runtime) -> int:
    from ci_ml import outdir
    from ci_ml.diff import Side, diff, markdown

    out = Path(args.out)
    cfg = _config(args)
    sides = []
    for key, source in (("a", args.a), ("b", args.b)):
        if not Path(source).is_dir():
            outdir.claim(out, "diff")  # a tag is fetched into <out>/a or <out>/b
        path, label = resolve_source(args, rt, source, out / key, cfg)
        sides.append(Side.read(path, label))
    d = diff(*sides)
    print(json.dumps(d, indent=2) if args.json else markdown(d))
    return 0
