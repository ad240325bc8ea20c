"""One build: its config, its artifact directory, what each stage recorded in
`_build/`, and the manifest assembled from those records.

Stages read what earlier stages left here and write their own part, so they
run in one process (`ci-ml run`) or one per step with the same result.
"""

from __future__ import annotations

import contextlib
import json
import platform
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import chain, fingerprint, outdir
from ci_ml.artifact import BUILD_DIR, read_json, sha256_file, write_json
from ci_ml.config import Config
from ci_ml.errors import UsageError

if TYPE_CHECKING:
    from ci_ml.data import Dataset
    from ci_ml.fingerprint import Fingerprint
    from ci_ml.stats.bootstrap import Shared

STAGES = chain.STAGES
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


@dataclass(frozen=True)
class RunContext:
    """What the CI run tells about a build; the CLI reads it from the environment."""

    github_sha: str | None = None
    run_url: str | None = None
    # The lock the action installed ci-ml from (None: not installed by the action).
    lock_file: Path | None = None
    actor: str | None = None
    # The pull request that brought the commit (number, title, author, approvers),
    # for the audit trail; None outside GitHub or when it could not be found.
    pull_request: dict[str, Any] | None = None


@dataclass
class Build:
    """One build: its config, its artifact directory, and what earlier stages recorded."""

    cfg: Config
    out: Path
    run: RunContext = field(default_factory=RunContext)

    @contextlib.contextmanager
    def open(self, create: bool = True) -> Iterator[Build]:
        """Claim the artifact folder (ci-ml's own, new or empty) and hold its lock;
        with create=False it must already hold a build."""
        if not create and not outdir.is_ours(self.out, "build"):
            raise UsageError(
                f"{self.out} holds no ci-ml build",
                hint="run `ci-ml run` first, or pass the --out it built into",
            )
        outdir.claim(self.out, "build")
        with outdir.locked(self.out):
            (self.out / BUILD_DIR).mkdir(exist_ok=True)
            yield self

    def clear(self, names: list[str]) -> None:
        """Remove earlier outputs by their path in the artifact folder."""
        for name in names:
            (self.out / name).unlink(missing_ok=True)

    def clear_all(self) -> None:
        """A fresh build: nothing of an earlier one in this folder may mix in."""
        self.clear([n for stage in STAGES for n in chain.OUTPUTS[stage]])
        self.clear(["manifest.json", f"{BUILD_DIR}/timings.json", f"{BUILD_DIR}/{chain.CHAIN}"])

    # --- the sealed chain -----------------------------------------------------
    @cached_property
    def data_shas(self) -> dict[str, str]:
        from ci_ml.data import data_paths

        return {role: sha256_file(p) for role, p in data_paths(self.cfg).items() if p.is_file()}

    @cached_property
    def config_json(self) -> dict[str, Any]:
        return self.cfg.model_dump(mode="json", by_alias=True)

    def _chain(self) -> dict[str, Any]:
        data = self.record_of(chain.CHAIN)
        return data if isinstance(data, dict) else {}

    def chain_problems(self, stages: list[str]) -> list[str]:
        return chain.problems(stages, self._chain(), self.out, self.config_json, self.data_shas)

    def begin(self, stage: str) -> None:
        """Start a stage: its inputs must be sealed and current; its own earlier
        output, and everything downstream of it, is removed first, so a failed or
        interrupted stage leaves nothing a later one could take for current."""
        found = self.chain_problems(chain.ancestors(stage))
        if found:
            text = " ".join(found)
            first = next((s for s in chain.ancestors(stage) if chain.command(s) in text), stage)
            raise UsageError(
                f"{chain.command(stage)} cannot use what is in {self.out}: " + "; ".join(found),
                hint=f"run {chain.command(first)} and the stages after it again, or `ci-ml run`",
            )
        seals = self._chain()
        for later in chain.descendants(stage):
            seals.pop(later, None)
            self.clear(chain.OUTPUTS[later])
        write_json(self.state_path(chain.CHAIN), seals)

    def sealed(self, stage: str) -> dict[str, Any] | None:
        """The seal `stage` left when it completed (None: it has not)."""
        s = self._chain().get(stage)
        return s if isinstance(s, dict) else None

    def publish_problems(self) -> list[str]:
        """Why this folder is not a complete, current build (empty: it is)."""
        found = self.chain_problems(list(STAGES))
        report = self._chain().get("report")
        if isinstance(report, dict) and not report.get("complete"):
            found.append("its report was written after a stage failed")
        return found

    def seal(self, stage: str, **extra: Any) -> None:
        """Record that `stage` completed: what it consumed and what it wrote."""
        seals = self._chain()
        seals[stage] = chain.seal(stage, self.out, self.config_json, self.data_shas, **extra)
        write_json(self.state_path(chain.CHAIN), seals)

    # --- what earlier stages left -------------------------------------------
    def state_path(self, name: str) -> Path:
        return self.out / BUILD_DIR / name

    def state(self, name: str, *, needed_by: str) -> dict[str, Any]:
        path = self.state_path(name)
        if not path.is_file():
            stage = name.removesuffix(".json")
            raise UsageError(
                f"`ci-ml {needed_by}` needs the output of `ci-ml {stage}` in {self.out}",
                hint=f"run `ci-ml {stage}` first with the same --config and --out, or `ci-ml run`",
            )
        return read_json(path)  # begin() has checked it is sealed and current

    def optional(self, name: str) -> Any:
        """An artifact file (JSON) if an earlier stage wrote it, else None."""
        path = self.out / name
        return read_json(path) if path.is_file() else None

    def record_of(self, name: str) -> Any:
        """A stage record in _build/ (JSON) if the stage wrote it, else None."""
        path = self.state_path(name)
        return read_json(path) if path.is_file() else None

    def record(self, stage: str, data: Any, seconds: float) -> None:
        write_json(self.state_path(f"{stage}.json"), data)
        timings_path = self.state_path("timings.json")
        timings = read_json(timings_path) if timings_path.is_file() else {}
        timings[stage] = round(seconds, 4)
        write_json(timings_path, timings)

    @cached_property
    def dataset(self) -> Dataset:
        from ci_ml.data import load_dataset

        return load_dataset(self.cfg, self.data_shas)

    @cached_property
    def shared(self) -> Shared:
        """Statistics one stage computes and a later one of this process reuses
        (evaluate's bootstrap of the candidate, in compare); a build run one
        command at a time computes them again, to the same bits."""
        from ci_ml.stats.bootstrap import Shared

        return Shared()

    @cached_property
    def task(self) -> str:
        from ci_ml.data import infer_task

        if self.cfg.task != "auto":
            return self.cfg.task
        src = self.dataset.sources
        return infer_task(
            (src.get("train") if "train" in src else src["data"])[self.dataset.target]
        )

    @cached_property
    def metric_names(self) -> tuple[list[str], str]:
        from ci_ml.stats.metrics import select

        note = (
            f" (inferred from the target {self.dataset.target!r}; set `task:` if that is wrong)"
            if self.cfg.task == "auto"
            else ""
        )
        return select(
            self.task,
            self.cfg.metrics.names,
            self.cfg.metrics.primary,
            [g.metric for g in self.cfg.gates],
            note,
        )

    @cached_property
    def git(self) -> dict[str, Any] | None:
        return git_info(self.cfg.base_dir, self.run.github_sha, self.cfg.source.name)

    @cached_property
    def environment(self) -> dict[str, Any]:
        return environment(self.run.lock_file)

    @property
    def fingerprint(self) -> Fingerprint | None:
        """What the model is made of (None until validate has hashed the schema)."""
        validation = self.record_of("validate.json")
        if not isinstance(validation, dict):
            return None
        return fingerprint.make(
            self.data_shas,
            self.config_json,
            validation.get("schema_sha256"),
            fingerprint.code_files(self.cfg),
            fingerprint.package_versions(),
        )

    def model_facts(self) -> dict[str, str]:
        """What model.onnx says about itself (its metadata_props): the manifest's
        facts that belong to the model, none that changes from one build to the next."""
        from ci_ml import __version__

        d = self.dataset
        first = next(iter(d.sources.values()))
        facts = {
            "ci_ml.version": __version__,
            "ci_ml.name": self.cfg.display_name,
            "ci_ml.task": self.task,
            "ci_ml.target": json.dumps({"name": d.target, "dtype": str(first[d.target].dtype)}),
            "ci_ml.features": json.dumps(
                [{"name": str(c), "dtype": str(first[c].dtype)} for c in d.features]
            ),
            "ci_ml.config_sha256": fingerprint.config_sha256(self.config_json),
            "ci_ml.commit": (self.git or {}).get("commit") or "",
        }
        for role, sha in sorted(self.data_shas.items()):
            facts[f"ci_ml.data.{role}.sha256"] = sha
        fp = self.fingerprint
        if fp is not None:
            facts["ci_ml.fingerprint"] = fp.sha256
        return facts

    def write_manifest(self) -> dict[str, Any]:
        """The manifest, rebuilt from the stage records after every stage."""
        manifest = assemble_manifest(self)
        write_json(self.out / "manifest.json", manifest)
        return manifest


def assemble_manifest(b: Build) -> dict[str, Any]:
    """Lineage: what went into the build, from the config, the data and the stage records."""
    from ci_ml import __version__

    record = b.record_of
    validation, train, export = record("validate.json"), record("train.json"), record("export.json")
    d = b.dataset
    first = next(iter(d.sources.values()))
    return {
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
        "classes": train.get("classes") if train else None,
        "schema": {
            "source": b.cfg.schema_,
            "sha256": validation.get("schema_sha256") if validation else None,
        },
        "config": b.cfg.model_dump(mode="json", by_alias=True, exclude_none=True),
        "model": (
            {
                "estimator": train["estimator"],
                "params": train["params"],
                "seed": b.cfg.model.seed,
                "seeded": train["seeded"],
                "preprocess": train.get("preprocess"),
            }
            if train
            else None
        ),
        "metrics": {"names": b.metric_names[0], "primary": b.metric_names[1]},
        "export": export,
        "safeguards": _safeguards_summary(b.optional("safeguards.json")),
        "git": b.git,
        "provenance": {
            "run_url": b.run.run_url,
            "actor": b.run.actor,
            "pull_request": b.run.pull_request,
        },
        "fingerprint": fp.as_json() if (fp := b.fingerprint) else None,
        "environment": b.environment,
        "timings_seconds": record("timings.json") or {},
    }


def _safeguards_summary(record: Any) -> dict[str, Any] | None:
    """For audit: did the data checks pass, and which columns may hold personal
    data, with the reason the team gave."""
    if not isinstance(record, dict):
        return None
    return {
        "passed": record.get("passed"),
        "findings": len(record.get("findings") or []),
        "allowed_personal_data": record.get("allowed_personal_data") or {},
    }


# --- lineage facts -------------------------------------------------------------


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
