"""`ci-ml reproduce`: rebuild a record (an artifact folder or a fetched release) at
its commit and say whether it came out the same (the steps are in ci_ml.reproduce)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from ci_ml import outdir, pipeline, stages
from ci_ml.artifact import write_json, write_text
from ci_ml.build import Build, RunContext
from ci_ml.config import load_config
from ci_ml.errors import CiMlError, UsageError
from ci_ml.records import Manifest, read_manifest
from ci_ml.reproduce import (
    Outcome,
    compare,
    data_problems,
    markdown,
    recorded_source,
    toplevel,
    worktree,
)
from ci_ml.stage import Console, Options


@dataclass(frozen=True)
class Reproduction:
    commit: str
    outcome: Outcome
    report: str  # markdown, also written to <out>/reproduce.md


def reproduce(
    record: Path,
    label: str,
    repo: Path,
    out: Path,
    console: Console,
    env: dict[str, str] | None = None,
) -> Reproduction:
    """Rebuild `record` from the clone `repo` into `out`/rebuild and compare; the
    verdict goes to `out`/reproduce.md and reproduce.json."""
    manifest = read_manifest(record)
    commit, config_path = recorded_source(manifest)
    # A commit missing from the clone is a usage error (exit 2); a rebuild that
    # fails or differs is "not reproduced" (exit 8).
    outcome = rebuild(repo, out, record, manifest, commit, config_path, console, env or {})
    report = markdown(label, outcome)
    write_text(out / "reproduce.md", report)
    write_json(out / "reproduce.json", {"source": label, "commit": commit, **outcome.__dict__})
    return Reproduction(commit, outcome, report)


def rebuild(
    repo: Path,
    out: Path,
    record: Path,
    manifest: Manifest,
    commit: str,
    config_path: str,
    console: Console,
    env: dict[str, str] | None = None,
) -> Outcome:
    """The whole pipeline at `commit` in a temporary worktree (no baseline, no
    cache), its data files checked against the record first."""
    top = toplevel(repo)
    with worktree(top, commit) as src:
        config = src / config_path
        if not config.is_file():
            raise UsageError(f"commit {commit[:12]} has no {config_path}")
        problems = data_problems(manifest, config.parent, (top / config_path).parent)
        if problems:
            return Outcome(False, {}, data=problems)
        rebuilt = out / "rebuild"
        if rebuilt.exists() and outdir.is_ours(rebuilt, "build"):
            shutil.rmtree(rebuilt)
        b = Build(
            load_config(config), rebuilt, stages.chain(), RunContext(environment=dict(env or {}))
        )
        try:
            with console.group(f"ci-ml reproduce: rebuilding {commit[:12]}"), pipeline.session(b):
                pipeline.run(b, None, console, Options(cache=False))
        except CiMlError as e:
            return Outcome(False, {}, error=e.message)
    return compare(record, rebuilt, manifest)
