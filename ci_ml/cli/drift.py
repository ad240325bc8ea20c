"""`ci-ml drift`: new data against a release's (or a build's) reference profile.
The reference is a model release fetched from the registry like a baseline
(checksums and signature verified), or an artifact folder; the report goes to
<out>/drift.json and <out>/drift.md; drift found exits 10 (EXIT_DRIFT)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml import outdir
from ci_ml.artifact import write_json, write_text
from ci_ml.baseline import Baseline, load_baseline
from ci_ml.cli.connect import registry_for, registry_of_tag, signature_check
from ci_ml.config import Config, DriftConfig, PersonalDataCheck, load_config
from ci_ml.errors import DriftDetected, UsageError
from ci_ml.monitoring import detect, markdown
from ci_ml.records import DriftReport, dump

if TYPE_CHECKING:
    from ci_ml.cli import Runtime

LATEST = "latest"
REPORT_JSON = "drift.json"
REPORT_MD = "drift.md"


def _config(path: str | None) -> Config | None:
    """The config when there is one: a folder reference needs none (defaults)."""
    if path is None:
        return load_config("ci-ml.yaml") if Path("ci-ml.yaml").is_file() else None
    return load_config(path)


def reference(args: Namespace, rt: Runtime, cfg: Config | None, into: Path) -> Baseline:
    """A folder as it is (checksums, signature policy), else a release: `latest` (or
    no --reference) is the latest model release; anything else a tag."""
    source = args.reference or LATEST
    check = signature_check(cfg, rt) if cfg is not None else None
    if Path(source).is_dir():
        return load_baseline(Path(source), check=check)
    seconds = args.network_timeout
    if source == LATEST:
        if cfg is None:
            raise UsageError(
                "--reference latest needs the config (its registry and tag prefix)",
                hint="run from the project's root, pass --config, or give --reference a "
                "build's artifact folder",
            )
        registry = registry_for(cfg, rt, "ci-ml drift", seconds)
        release = registry.latest(cfg.release.tag_prefix)
        if release is None:
            raise UsageError(
                f"no release tagged {cfg.release.tag_prefix}* in {registry.where} to compare with",
                hint="publish a model first (`ci-ml publish`), or give --reference a build's "
                "artifact folder",
            )
    else:
        registry = registry_of_tag(cfg, rt, source, seconds)
        release = registry.find(source)
        if release is None:
            raise UsageError(
                f"{source} is neither a folder nor a release tag of {registry.where}",
                hint="`ci-ml registry list` shows the model's releases",
            )
    fetched = registry.fetch(release, into, check, kind="reference")
    return load_baseline(fetched.directory)


def cmd_drift(args: Namespace, rt: Runtime) -> int:
    cfg = _config(args.config)
    settings = cfg.drift if cfg is not None else DriftConfig()
    personal = cfg.safeguards.personal_data if cfg is not None else PersonalDataCheck()
    # before any download: a typo fails now
    files = detect.reading.current_files([Path(f) for f in args.current])
    out = Path(args.out)
    outdir.claim(out, "drift")
    with outdir.locked(out):
        base = reference(args, rt, cfg, out / "reference")
        with rt.actions.group("ci-ml drift"):
            report = detect.check(base, files, settings, personal)
        text = markdown.render(report)
        write_json(out / REPORT_JSON, dump(report))
        write_text(out / REPORT_MD, text)
    rt.actions.append_summary(text)
    rt.actions.set_outputs(
        {
            "drifted": str(report.drifted).lower(),
            "drift-report": str(out / REPORT_MD),
            "drift-json": str(out / REPORT_JSON),
        }
    )
    print(summary(report, out))
    if report.drifted:
        raise DriftDetected(
            f"drift found against {report.reference.label}: {_first(report)}",
            hint=f"see {out / REPORT_MD}; thresholds are `drift:` in ci-ml.yaml",
        )
    return 0


def _first(report: DriftReport) -> str:
    moved = [f for f in report.findings if f.severity == "drift"]
    more = f" (and {len(moved) - 1} more finding(s))" if len(moved) > 1 else ""
    return (moved[0].message if moved else "see the report") + more


def summary(report: DriftReport, out: Path) -> str:
    moved = sum(d.drifted for d in report.columns)
    verdict = "drift" if report.drifted else "no drift"
    return (
        f"{verdict}: {moved} of {len(report.columns)} column(s) moved, {report.current.rows:,} "
        f"current rows against {report.reference.label}; report: {out / REPORT_MD}"
    )
