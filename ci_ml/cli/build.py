"""`ci-ml run` and the one-stage commands (one per stage of ci_ml.stages.STAGES):
build the Build from the arguments and the environment, resolve the baseline
once (a folder, or `release`: fetched from the registry) into a verified
object, run, and say what happened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ci_ml.baseline import Baseline
    from ci_ml.build import Build
    from ci_ml.cli import Runtime
    from ci_ml.records import History


# The action's `data-snapshot` input: what the user calls the data of this build.
DATA_SNAPSHOT_ENV = "CI_ML_DATA_SNAPSHOT"


def make_build(args: Any, rt: Runtime) -> Build:
    from ci_ml import stages
    from ci_ml.build import Build, RunContext
    from ci_ml.config import load_config
    from ci_ml.github.context import GitHubContext

    ctx = GitHubContext.from_env(rt.env)
    cfg = load_config(args.config)
    # Set by the action to the lock it installed ci-ml from (action.yml).
    lock = rt.env.get("CI_ML_LOCK_FILE")
    run = RunContext(
        ctx.sha,
        ctx.run_url,
        actor=ctx.actor,
        pull_request=_pull_request(ctx, rt, args),
        lock_file=Path(lock) if lock else None,
        environment=dict(rt.env),
        # Set by the action's `data-snapshot` input (a retraining run's fresh data).
        data_snapshot=rt.env.get(DATA_SNAPSHOT_ENV, "").strip()[:500] or None,
        # engine: {kind: dask}: the scheduler's address, from the variable the config names
        engine_address=rt.env.get(cfg.engine.address_env) if cfg.engine.address_env else None,
    )
    return Build(cfg, Path(args.out), stages.chain(), run)


PROVENANCE_DEADLINE = 30.0  # seconds: an audit fact is not worth holding up a build


def _pull_request(ctx: Any, rt: Runtime, args: Any) -> dict[str, Any] | None:
    """The PR a build's commit came from, for the audit trail: from the event of a
    pull_request run; after a merge (push), asked of GitHub, best effort: a build
    never fails for want of it."""
    from ci_ml.cli.network import client_for
    from ci_ml.services import provenance

    pr = provenance.from_event(ctx.event_name, ctx.event)
    if pr is None and provenance.worth_asking(ctx.event_name):
        if not (ctx.token and ctx.repository and ctx.sha):
            return None
        seconds = getattr(args, "network_timeout", None)  # not every command takes it
        client = client_for(ctx, rt, "the audit trail", seconds, deadline=PROVENANCE_DEADLINE)
        pr, warning = provenance.of_commit(client, ctx.repository, ctx.sha)
        if warning:
            rt.actions.warning(warning)
    return pr.as_json() if pr else None


@dataclass(frozen=True)
class Resolved:
    """The baseline's directory (None: no baseline) and, for a release, the
    model's release history for the report (None: none, or not available)."""

    directory: Path | None
    history: History | None = None


def resolve_baseline(args: Any, b: Build, rt: Runtime, history: bool = True) -> Baseline | None:
    """'none' → no baseline; 'release' → the latest model release, fetched into
    <out>/baseline (none if there is no release yet), with the model's history;
    anything else is a directory. The baseline is verified here, once, before
    anything is trained, and handed to every stage that uses it."""
    from ci_ml.baseline import load_baseline
    from ci_ml.cli.connect import signature_check
    from ci_ml.errors import BaselineError

    arg = args.baseline
    if arg in (None, "", "none"):
        return None
    resolved = _fetch_release(args, b, rt, history) if arg == "release" else Resolved(Path(arg))
    path = resolved.directory
    if path is None:
        return None
    check_baseline_location(path, b.out)
    # One policy for every model taken in: a fetched release was checked as it
    # landed (nothing half-fetched is kept); a folder is checked here.
    check = None if arg == "release" else signature_check(b.cfg, rt)
    base = load_baseline(path, resolved.history, check)
    if base.task != b.task:
        raise BaselineError(
            f"baseline {path} is a {base.task} model, but this build is {b.task}",
            hint="compare with a build of the same model, or pass --baseline none",
        )
    return base


def check_baseline_location(baseline: Path, out: Path) -> None:
    """The baseline must survive the build: it may not be the artifact folder,
    nor hold it; inside it only as the folder `baseline fetch` made there."""
    from ci_ml import outdir
    from ci_ml.errors import UsageError

    if not outdir.overlaps(baseline, out):
        return
    inside = out.resolve() in baseline.resolve().parents
    if inside and outdir.is_ours(baseline, "baseline"):
        return
    raise UsageError(
        f"--baseline {baseline} and --out {out} overlap: the build would overwrite the "
        "baseline it compares with",
        hint="copy the earlier build elsewhere first, or give this build another --out",
    )


def _fetch_release(args: Any, b: Build, rt: Runtime, history: bool = True) -> Resolved:
    """The latest model release as the baseline, then (if `history`) the releases
    before it for the history chart (the release list is read once, for both)."""
    from ci_ml.cli.connect import registry_for, signature_check
    from ci_ml.github.context import GitHubContext
    from ci_ml.services.baselines import BaselineOrder, fetch_baseline

    ctx = GitHubContext.from_env(rt.env)
    seconds = getattr(args, "network_timeout", None)  # check-data does not take it
    registry = registry_for(b.cfg, rt, "--baseline release", seconds)
    prefix = b.cfg.release.tag_prefix
    order = BaselineOrder(
        b.out / "baseline",
        prefix,
        exclude_commit=ctx.sha,  # a re-run on main compares with the model before its own
        check=signature_check(b.cfg, rt),
        history=b.cfg.release.history if history else 0,
    )
    resolved = fetch_baseline(registry, order)
    for notice in resolved.notices:
        rt.actions.notice(notice)
    if resolved.fetched is None:
        rt.actions.notice(
            f"no release tagged {prefix}* in {registry.where} yet: comparing without a baseline"
        )
        return Resolved(None)
    return Resolved(resolved.fetched.directory, resolved.history)


def artifact_line(b: Build) -> str:
    files = ", ".join(p.name for p in sorted(b.out.iterdir()) if p.is_file() and p.name[0] != ".")
    return f"artifact: {b.out}/ ({files})"


def cmd_run(args: Any, rt: Runtime) -> int:
    from ci_ml import pipeline
    from ci_ml.stage import Options

    b = make_build(args, rt)
    options = Options(cache=args.cache, fail_on_regression=args.fail_on_regression)
    with pipeline.session(b):
        baseline = resolve_baseline(args, b, rt)
        pipeline.run(b, baseline, rt.actions, options)
    rt.actions.info(artifact_line(b))
    error = pipeline.verdict(b, options, baseline)
    if error is not None:
        raise error
    return 0


def _recorded_baseline(b: Build, name: str) -> str:
    """The baseline the last earlier stage of this build used ('none': none), the
    default of a stage run alone."""
    for earlier in reversed(b.chain.names[: b.chain.names.index(name)]):
        state = b.sealed(earlier)
        if state is not None and earlier in [s.name for s in b.chain.stages if s.uses_baseline]:
            return state.baseline or "none"
    return "none"


def cmd_stage(args: Any, rt: Runtime) -> int:
    """One stage alone (`ci-ml validate`, `check-data`, `train`, …): the same
    protocol as in `ci-ml run`; its verdict (failed gates, failed model tests)
    is the command's exit code."""
    from ci_ml import pipeline
    from ci_ml.stage import Options, StageRun

    b = make_build(args, rt)
    stage = next(s for s in b.chain.stages if s.command == args.command)
    options = Options(fail_on_regression=getattr(args, "fail_on_regression", True))
    with pipeline.session(b):
        baseline = None
        if stage.uses_baseline:
            if args.baseline is None:
                args.baseline = _recorded_baseline(b, stage.name)
            baseline = resolve_baseline(args, b, rt, history=stage.name == "compare")
        r = StageRun(b, baseline, options)
        result = pipeline.run_stage(stage, r, rt.actions)
    error = stage.verdict(r, result)
    if error is not None:
        raise error
    return 0
