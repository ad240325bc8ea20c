"""`ci-ml run` and the one-stage commands (validate, train, evaluate, export,
compare, report): build the Build from the arguments and the environment,
resolve `--baseline release` into a directory, run, and say what happened."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.errors import GateFailed

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.cli import Runtime
    from ci_ml.stages.compare import Comparison
    from ci_ml.stages.history import History


def make_build(args: Any, rt: Runtime) -> Build:
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
    )
    return Build(cfg, Path(args.out), run)


PROVENANCE_DEADLINE = 30.0  # seconds: an audit fact is not worth holding up a build


def _pull_request(ctx: Any, rt: Runtime, args: Any) -> dict[str, Any] | None:
    """The PR a build's commit came from, for the audit trail: from the event of a
    pull_request run; after a merge (push), asked of GitHub, best effort: a build
    never fails for want of it."""
    pr = ctx.event.get("pull_request") if isinstance(ctx.event, dict) else None
    if ctx.event_name in ("pull_request", "pull_request_target") and isinstance(pr, dict):
        user = pr.get("user") if isinstance(pr.get("user"), dict) else {}
        return {
            "number": pr.get("number"),
            "title": pr.get("title"),
            "author": user.get("login"),
            "url": pr.get("html_url"),
            "approved_by": [],
        }
    if ctx.event_name != "push" or not (ctx.token and ctx.repository and ctx.sha):
        return None
    from ci_ml.cli.github import client_for
    from ci_ml.errors import GitHubError
    from ci_ml.github.api import pull_request_of

    try:
        client = client_for(ctx, rt, "the audit trail", args, deadline=PROVENANCE_DEADLINE)
        return pull_request_of(client, ctx.repository, ctx.sha)
    except GitHubError as e:
        rt.actions.warning(f"the pull request of {ctx.sha[:12]} is not recorded: {e.message}")
        return None


@dataclass(frozen=True)
class Resolved:
    """The baseline's directory (None: no baseline) and, for a release, the
    model's release history for the report (None: none, or not available)."""

    directory: Path | None
    history: History | None = None


def resolve_baseline(args: Any, b: Build, rt: Runtime, history: bool = True) -> Resolved:
    """'none' → no baseline; 'release' → the latest model release, fetched into
    <out>/baseline (none if there is no release yet), with the model's history;
    anything else is a directory. Either way the baseline is checked now, before
    anything is trained."""
    arg = args.baseline
    if arg in (None, "", "none"):
        return Resolved(None)
    resolved = _fetch_release(args, b, rt, history) if arg == "release" else Resolved(Path(arg))
    path = resolved.directory
    if path is not None:
        check_baseline_location(path, b.out)
        from ci_ml.stages.baseline import load_baseline

        base = load_baseline(path)
        if base.task and base.task != b.task:
            from ci_ml.errors import BaselineError

            raise BaselineError(
                f"baseline {path} is a {base.task} model, but this build is {b.task}",
                hint="compare with a build of the same model, or pass --baseline none",
            )
    return resolved


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
    from ci_ml.cli.github import client_for
    from ci_ml.cli.history import fetch_history
    from ci_ml.github.api import list_releases
    from ci_ml.github.context import GitHubContext
    from ci_ml.github.registry import fetch_latest

    ctx = GitHubContext.from_env(rt.env)
    repo = ctx.require_repo("--baseline release")
    prefix = b.cfg.release.tag_prefix
    from ci_ml.cli.github import signature_check

    client = client_for(ctx, rt, "--baseline release", args)
    releases = list_releases(client, repo)
    fetched = fetch_latest(
        client,
        repo,
        prefix,
        b.out / "baseline",
        releases=releases,
        exclude_commit=ctx.sha,  # a re-run on main compares with the model before its own
        check=signature_check(b.cfg, rt),
    )
    if fetched is None:
        rt.actions.notice(
            f"no release tagged {prefix}* in {repo} yet: comparing without a baseline"
        )
        return Resolved(None)
    if not history:
        return Resolved(fetched.directory)
    past = fetch_history(
        client,
        releases,
        prefix,
        b.cfg.release.history,
        (fetched.tag, fetched.directory),
        rt.actions,
    )
    return Resolved(fetched.directory, past)


def gate_failure(comp: Comparison) -> GateFailed:
    failed = [g.reason for g in comp.failed_gates]
    return GateFailed(
        "quality gate(s) failed:\n" + "\n".join(f"  - {r}" for r in failed),
        hint="see comparison.json and report.md; pass --no-fail-on-regression to report without failing",
    )


def cmd_run(args: Any, rt: Runtime) -> int:
    from ci_ml import pipeline
    from ci_ml.stages.model_tests import failure

    b = make_build(args, rt)
    with b.open():
        resolved = resolve_baseline(args, b, rt)
        comp, tests = pipeline.run(
            b, resolved.directory, rt.actions, resolved.history, cache=args.cache
        )
    files = ", ".join(p.name for p in sorted(b.out.iterdir()) if p.is_file() and p.name[0] != ".")
    print(f"artifact: {b.out}/ ({files})")
    if comp.verdict == "fail" and args.fail_on_regression:
        raise gate_failure(comp)
    if not tests.passed:
        raise failure(tests)
    return 0


def cmd_test_model(args: Any, rt: Runtime) -> int:
    """`ci-ml test-model`: the model tests alone, with the baseline compare used."""
    from ci_ml import pipeline
    from ci_ml.stages.model_tests import failure

    b = make_build(args, rt)
    with b.open(create=False):
        seal = b.sealed("compare") or {}
        baseline = Path(seal["baseline"]) if seal.get("baseline") else None
        tests = pipeline.model_tests_stage(b, baseline, rt.actions)
    print(pipeline.tests_line(tests))
    if not tests.passed:
        raise failure(tests)
    return 0


def cmd_compare(args: Any, rt: Runtime) -> int:
    from ci_ml import pipeline

    b = make_build(args, rt)
    with b.open():
        resolved = resolve_baseline(args, b, rt)
        comp = pipeline.compare_stage(b, resolved.directory, rt.actions, resolved.history)
    print(pipeline.verdict_line(comp))
    if comp.verdict == "fail" and args.fail_on_regression:
        raise gate_failure(comp)
    return 0


def _summary(name: str, result: Any, b: Build) -> str:
    from ci_ml import pipeline

    if name == "validate":
        rows = ", ".join(f"{n} {role}" for role, n in result.rows.items())
        return f"data valid: {rows} rows passed {result.schema or 'the built-in target checks'}"
    if name == "check-data":
        warnings = sum(f.severity == "warn" for f in result.findings)
        return f"data safeguards passed ({warnings} warning(s); see safeguards.json)"
    if name == "train":
        return f"trained {result.estimator} in {result.fit_seconds:.2f}s"
    if name == "evaluate":
        return pipeline.metrics_line(result)
    if name == "export":
        p = result.parity
        return (
            f"exported {result.path} ({result.bytes:,} bytes, {result.precision}); "
            f"parity on {p['rows']} rows: max |Δ| {p['max_abs_diff']:.3g}"
        )
    return f"wrote {b.out / 'report.md'}"


def cmd_stage(args: Any, rt: Runtime) -> int:
    """One stage alone (`ci-ml validate`, `check-data`, `train`, `export`, `evaluate`,
    `report`)."""
    import importlib

    from ci_ml import pipeline

    b = make_build(args, rt)
    name = args.command
    with b.open():
        if name == "report":
            result = pipeline.report_stage(b, rt.actions)
        elif name == "check-data":
            # The data checks read the baseline's data record, not its history.
            baseline = resolve_baseline(args, b, rt, history=False).directory
            result = pipeline.safeguards_stage(b, baseline, rt.actions)
        else:
            module = importlib.import_module(f"ci_ml.stages.{name}")
            result = pipeline.stage(rt.actions, name, module.run, b)
    print(_summary(name, result, b))
    return 0
