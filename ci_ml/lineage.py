"""Lineage facts: the git commit, the Python and package versions, and the
manifest assembled from a build's records."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import fingerprint

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.records import Manifest, SafeguardsResult, SafeguardsSummary

PACKAGES = [
    "ci-ml",
    "scikit-learn",
    "skl2onnx",
    "onnx",
    "onnxruntime",
    "pandas",
    "numpy",
    "pandera",
    "scipy",
    "pyarrow",
    "protobuf",
]


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def environment(lock_file: Path | None = None) -> dict[str, Any]:
    from ci_ml import install

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": package_versions(),
        # locked: every installed package the lock pins has its pinned version.
        "install": install.report(lock_file),
    }


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        r = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_info(
    cwd: Path, github_sha: str | None = None, config_name: str | None = None
) -> dict[str, Any] | None:
    """Commit, branch and dirtiness of the repository holding `cwd`, or None outside git;
    with the config's path from the repository's root (what `ci-ml reproduce` builds).
    In Actions the checkout of a pull request is a merge commit; GITHUB_SHA names it."""
    commit = _git(["rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    prefix = _git(["rev-parse", "--show-prefix"], cwd)
    info = {
        "commit": commit,
        "branch": _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd),
        "dirty": bool(status),
        "github_sha": github_sha,
    }
    if config_name and prefix is not None:
        info["config_path"] = f"{prefix}{config_name}"
    return info


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def model_facts(b: Build) -> dict[str, str]:
    """What model.onnx says about itself (its metadata_props): the manifest's
    facts that belong to the model, none that changes from one build to the next."""
    from ci_ml import __version__

    d = b.dataset
    first = next(iter(d.sources.values()))
    facts = {
        "ci_ml.version": __version__,
        "ci_ml.name": b.cfg.display_name,
        "ci_ml.task": b.task,
        "ci_ml.target": json.dumps({"name": d.target, "dtype": str(first[d.target].dtype)}),
        "ci_ml.features": json.dumps(
            [{"name": str(c), "dtype": str(first[c].dtype)} for c in d.features]
        ),
        "ci_ml.config_sha256": fingerprint.config_sha256(b.config_json),
        "ci_ml.commit": (b.git or {}).get("commit") or "",
    }
    for role, sha in sorted(b.data_shas.items()):
        facts[f"ci_ml.data.{role}.sha256"] = sha
    fp = b.fingerprint
    if fp is not None:
        facts["ci_ml.fingerprint"] = fp.sha256
    return facts


def manifest(b: Build) -> Manifest:
    """Lineage: what went into the build, from the config, the data and the stage records."""
    from ci_ml import __version__
    from ci_ml.records import Manifest, load

    validation, train, export = b.result("validate"), b.result("train"), b.result("export")
    safeguards = b.result("safeguards")
    d = b.dataset
    first = next(iter(d.sources.values()))
    plan = b.metric_plan
    data = {
        "ci_ml_version": __version__,
        "name": b.cfg.display_name,
        "created": now(),
        "task": b.task,
        "data": {
            "files": d.files,
            "split": d.split if train else None,
            "train_rows": d.train_rows if train else None,
            "test_rows": len(d.test) if train else None,
        },
        "target": {"name": d.target, "dtype": str(first[d.target].dtype)},
        "features": [{"name": str(c), "dtype": str(first[c].dtype)} for c in d.features],
        "classes": train.classes if train else None,
        "schema": {
            "source": b.cfg.schema_,
            "sha256": validation.schema_sha256 if validation else None,
        },
        "config": b.cfg.model_dump(mode="json", by_alias=True, exclude_none=True),
        "model": (
            {
                "estimator": train.estimator,
                "params": train.params,
                "seed": b.cfg.model.seed,
                "seeded": train.seeded,
                "preprocess": train.preprocess,
            }
            if train
            else None
        ),
        "metrics": {"names": plan.names, "primary": plan.primary},
        "export": export,
        "safeguards": _safeguards_summary(safeguards),
        "git": b.git,
        "provenance": {
            "run_url": b.run.run_url,
            "actor": b.run.actor,
            "pull_request": b.run.pull_request,
        },
        "fingerprint": fp.as_json() if (fp := b.fingerprint) else None,
        "environment": b.environment,
        "timings_seconds": b.timings,
    }
    from ci_ml.artifact import plain

    return load(Manifest, plain(data))


def _safeguards_summary(result: SafeguardsResult | None) -> SafeguardsSummary | None:
    """For audit: did the data checks pass, and which columns may hold personal
    data, with the reason the team gave."""
    from ci_ml.records import SafeguardsSummary

    if result is None:
        return None
    return SafeguardsSummary(
        passed=result.passed,
        findings=len(result.findings),
        allowed_personal_data=dict(result.allowed_personal_data),
    )
