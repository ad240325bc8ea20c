"""One build: its config, its artifact folder, the stage protocol, and what
each stage recorded.

Every stage runs inside `with build.stage(name):`, which begins it (its inputs
must be sealed and current; its own earlier output and everything downstream
are removed), times it, and on success seals it with the digests of what it
consumed and wrote; a stage that raises is recorded as failed, keeps what it
wrote so far (the report shows it) and is never sealed. That is the one failure
policy of every stage. Files are written through the build, which hashes each
once, as it writes it. The manifest is written once per command: by the report
(before SHA256SUMS), or when the command ends without one.

Stages run in one process (`ci-ml run`) or one per command with the same
result: a stage reads what an earlier one of this process produced from
memory, else from its record file.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import fingerprint, lineage, outdir, records
from ci_ml.artifact import BUILD_DIR, read_json, sha256_file, write_text
from ci_ml.chain import CHAIN, Chain, config_digest
from ci_ml.config import Config
from ci_ml.data import data_digests, infer_task, load_dataset
from ci_ml.engine.dask import DaskEngine
from ci_ml.errors import ConfigError, UsageError
from ci_ml.records import ChainRecord, MetricPlan, RecordError, StageState, dump, load
from ci_ml.stats.bootstrap import Shared
from ci_ml.stats.metrics import METRICS, select

if TYPE_CHECKING:
    from ci_ml.data import Dataset
    from ci_ml.engine import Engine
    from ci_ml.fingerprint import Fingerprint
    from ci_ml.records import ChainRecord, MetricPlan, StageState
    from ci_ml.stats.bootstrap import Shared

MANIFEST = "manifest.json"  # written by ci_ml.manifest


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
    # The process's environment, read by the CLI: what a `model.command` inherits
    # (with ci-ml's CI_ML_* variables added).
    environment: dict[str, str] = field(default_factory=dict, repr=False)
    # What the user calls the data this build was made of (a retraining run's fresh
    # snapshot: a date, an export's name or URL); its files' hashes are in the manifest.
    data_snapshot: str | None = None
    # engine.address_env's value: the Dask scheduler to connect to (None: start a
    # LocalCluster, or, when the config names a variable, that it was not set).
    engine_address: str | None = None


@dataclass
class Build:
    """One build: its config, its artifact folder and its stages' state."""

    cfg: Config
    out: Path
    chain: Chain
    run: RunContext = field(default_factory=RunContext)
    # What stages of this process produced: by stage name, its typed record; by
    # "<stage>:<what>", what else it keeps for later stages (cleared with the stage).
    results: dict[str, Any] = field(default_factory=dict)
    # {file: ((mtime_ns, size, inode), sha256)}: each output hashed once, when written.
    _digests: dict[str, tuple[tuple[int, int, int], str]] = field(default_factory=dict)
    # A stage ran since the manifest was last written (ci_ml.manifest.write).
    manifest_due: bool = False
    _running: tuple[str, float] | None = None

    # --- the folder -------------------------------------------------------------------
    @contextlib.contextmanager
    def open(self, create: bool = True) -> Iterator[Build]:
        """Claim the artifact folder (ci-ml's own, new or empty) and hold its lock;
        with create=False it must already hold a build. On the way out the manifest
        is written by whoever ran the stages (ci_ml.pipeline.session)."""
        if not create and not outdir.is_ours(self.out, "build"):
            raise UsageError(
                f"{self.out} holds no ci-ml build",
                hint="run `ci-ml run` first, or pass the --out it built into",
            )
        outdir.claim(self.out, "build")
        with outdir.locked(self.out):
            (self.out / BUILD_DIR).mkdir(exist_ok=True)
            yield self

    def path(self, name: str) -> Path:
        return self.out / name

    def state_path(self, name: str) -> Path:
        """A build intermediate in _build/ (never published, never fetched)."""
        return self.out / BUILD_DIR / name

    def clear(self, names: list[str]) -> None:
        """Remove earlier outputs by their path in the artifact folder."""
        for name in names:
            (self.out / name).unlink(missing_ok=True)
            self._digests.pop(name, None)

    def clear_all(self) -> None:
        """A fresh build: nothing of an earlier one in this folder may mix in."""
        self.clear([*self.chain.outputs(), MANIFEST, f"{BUILD_DIR}/{CHAIN}"])
        self.__dict__.pop("state", None)
        self.results.clear()

    # --- writing: every output through here, hashed once ---------------------------------
    def _remember(self, name: str, data: bytes) -> None:
        import hashlib

        st = os.stat(self.out / name)
        self._digests[name] = (
            (st.st_mtime_ns, st.st_size, st.st_ino),
            hashlib.sha256(data).hexdigest(),
        )

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        self._remember(name, data)
        return path

    def write_text(self, name: str, text: str) -> Path:
        write_text(self.out / name, text)
        self._remember(name, text.encode("utf-8"))
        return self.out / name

    def write_record(self, name: str, record: Any) -> Path:
        """A record (ci_ml.records) as strict JSON, checked against its type first."""
        import json

        return self.write_text(name, json.dumps(dump(record), indent=2, allow_nan=False) + "\n")

    def digest(self, name: str) -> str | None:
        """A file's sha256 now (None: it is gone): from memory when the file is the
        one this process wrote, else hashed."""
        path = self.out / name
        try:
            st = os.stat(path)
        except OSError:
            return None
        known = self._digests.get(name)
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        if known and known[0] == key:
            return known[1]
        sha = sha256_file(path)
        self._digests[name] = (key, sha)
        return sha

    # --- the stage protocol ---------------------------------------------------------
    @cached_property
    def state(self) -> ChainRecord:

        path = self.state_path(CHAIN)
        if path.is_file():
            with contextlib.suppress(ValueError, RecordError, OSError):
                return load(ChainRecord, read_json(path))
        return ChainRecord(config_path=str(self.cfg.source.resolve()))

    def _save_state(self) -> None:
        self.state.config_path = str(self.cfg.source.resolve())
        self.write_record(f"{BUILD_DIR}/{CHAIN}", self.state)

    def problems(self, names: list[str]) -> list[str]:
        """Why the sealed output of these stages cannot be trusted now (empty: it can)."""
        return self.chain.problems(
            names, self.state.stages, self.config_json, self.data_shas, self.digest
        )

    def publish_problems(self) -> list[str]:
        """Why this folder is not a complete, current build (empty: it is)."""
        found = self.problems(self.chain.names)
        last = self.state.stages.get(self.chain.names[-1])
        if last is not None and last.status == "sealed" and last.complete is False:
            found.append("its report was written after a stage failed")
        return found

    def sealed(self, name: str) -> StageState | None:
        s = self.state.stages.get(name)
        return s if s is not None and s.status == "sealed" else None

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[StageState]:
        """Run one stage: begin, time, and seal it, or record that it failed."""

        stage = self.chain.get(name)
        found = self.problems(self.chain.ancestors(name))
        if found:
            text = " ".join(found)
            first = next(
                (s for s in self.chain.ancestors(name) if self.chain.command(s) in text), name
            )
            raise UsageError(
                f"{self.chain.command(name)} cannot use what is in {self.out}: " + "; ".join(found),
                hint=f"run {self.chain.command(first)} and the stages after it again, or `ci-ml run`",
            )
        # Its own earlier output and everything downstream is stale from now on: a
        # failed or interrupted stage leaves nothing a later one could take for current.
        for later in self.chain.descendants(name):
            self.state.stages.pop(later, None)
            for key in [k for k in self.results if k == later or k.startswith(f"{later}:")]:
                del self.results[key]
            self.clear(self.chain.outputs([later]))
        self._save_state()
        self.manifest_due = True
        state = StageState(status="failed")
        t0 = time.perf_counter()
        self._running = (name, t0)
        try:
            yield state
        except BaseException as e:
            self._running = None
            state.seconds = round(time.perf_counter() - t0, 4)
            state.error = (str(e).splitlines() or [type(e).__name__])[0][:300]
            self.state.stages[name] = state
            self._save_state()
            self.manifest_due = True
            raise
        self._running = None
        state.status = "sealed"
        state.seconds = round(time.perf_counter() - t0, 4)
        state.config = config_digest(self.config_json, stage.reads)
        state.data = dict(self.data_shas) if not stage.always else {}
        state.files = {n: sha for n in stage.outputs if (sha := self.digest(n)) is not None}
        self.state.stages[name] = state
        self._save_state()

    @property
    def timings_done(self) -> dict[str, float]:
        """Seconds per stage that has ended (sealed or failed)."""
        return {n: s.seconds for n, s in self.state.stages.items()}

    @property
    def timings(self) -> dict[str, float]:
        """Seconds per stage, the one running now included (the report writes the
        manifest before it ends)."""
        done = self.timings_done
        if self._running is not None:
            name, t0 = self._running
            done[name] = round(time.perf_counter() - t0, 4)
        return done

    # --- what earlier stages left -----------------------------------------------------
    def result(self, name: str) -> Any:
        """The record of stage `name`: what this process produced, else its record
        file (None when the stage has not written one)."""
        if name in self.results:
            return self.results[name]
        stage = self.chain.get(name)
        if (
            not stage.record
            or not stage.record_file
            or not (self.out / stage.record_file).is_file()
        ):
            return None

        cls = getattr(records, stage.record) if isinstance(stage.record, str) else stage.record
        value = records.load(cls, read_json(self.out / stage.record_file))
        self.results[name] = value
        return value

    def require(self, name: str, needed_by: str) -> Any:
        """The record of an earlier stage that `needed_by` cannot do without."""
        value = self.result(name)
        if value is None:
            cmd = self.chain.command(name)
            raise UsageError(
                f"{self.chain.command(needed_by)} needs the output of {cmd} in {self.out}",
                hint=f"run {cmd} first with the same --config and --out, or `ci-ml run`",
            )
        return value

    def optional(self, name: str) -> Any:
        """An artifact file (JSON) if an earlier stage wrote it, else None."""
        path = self.out / name
        return read_json(path) if path.is_file() else None

    # --- the inputs -------------------------------------------------------------------
    @cached_property
    def data_shas(self) -> dict[str, str]:

        return data_digests(self.cfg)

    @cached_property
    def config_json(self) -> dict[str, Any]:
        return self.cfg.model_dump(mode="json", by_alias=True)

    @property
    def data_loaded(self) -> bool:
        """Whether this process has read the data (what the manifest describes)."""
        return "dataset" in self.__dict__

    @cached_property
    def dataset(self) -> Dataset:

        return load_dataset(self.cfg, self.data_shas, self.engine)

    @cached_property
    def engine(self) -> Engine | None:
        """The engine the data are read on (None: local, pandas in this process);
        opened on first use, closed by `close_engine` when the command ends."""
        if self.cfg.engine.kind == "local":
            return None
        return DaskEngine(self.cfg, self.run.engine_address)

    def close_engine(self) -> None:
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.close()

    @cached_property
    def shared(self) -> Shared:
        """Statistics one stage computes and a later one of this process reuses
        (evaluate's bootstrap of the candidate, in compare); a build run one
        command at a time computes them again, to the same bits."""

        return Shared()

    @cached_property
    def task(self) -> str:

        if self.cfg.task != "auto":
            return self.cfg.task
        src = self.dataset.sources
        return infer_task(
            (src.get("train") if "train" in src else src["data"])[self.dataset.target]
        )

    def plan_metrics(self, probabilities: bool) -> MetricPlan:
        """Which metrics, and which one heads the report, for a model that does (or
        does not) give probabilities; a config error names the key to fix."""

        note = (
            f" (inferred from the target {self.dataset.target!r}; set `task:` if that is wrong)"
            if self.cfg.task == "auto"
            else ""
        )
        gates = [g.metric for g in self.cfg.gates]
        names, primary = select(
            self.task, self.cfg.metrics.names, self.cfg.metrics.primary, gates, note
        )
        if probabilities or not METRICS[primary].needs_proba:
            return MetricPlan(names, primary)
        if self.cfg.metrics.primary:
            raise ConfigError(
                f"metrics.primary: {primary} needs predicted probabilities, and the model "
                "has no predict_proba",
                hint="choose another primary metric, or a classifier with probabilities",
            )
        computed = [n for n in names if not METRICS[n].needs_proba]
        fallback = next((n for n in [*gates, "accuracy", *computed] if n in computed), None)
        if fallback is None:
            raise ConfigError(
                f"metrics.list: every metric listed needs predicted probabilities "
                f"({', '.join(names)}), and the model has no predict_proba",
                hint="add a metric computed from labels, such as accuracy",
            )
        return MetricPlan(names, fallback)

    @property
    def metric_plan(self) -> MetricPlan:
        """The metrics decided once, by export (it knows whether the model gives
        probabilities); before export, what the config asks for."""
        export = self.result("export")
        return self.plan_metrics(export.probabilities if export is not None else True)

    @cached_property
    def git(self) -> dict[str, Any] | None:
        return lineage.git_info(self.cfg.base_dir, self.run.github_sha, self.cfg.source.name)

    @cached_property
    def environment(self) -> dict[str, Any]:
        return lineage.environment(self.run.lock_file)

    @property
    def fingerprint(self) -> Fingerprint | None:
        """What the model is made of (None until validate has hashed the schema)."""
        validation = self.result("validate")
        if validation is None:
            return None
        return fingerprint.make(
            self.data_shas,
            self.config_json,
            validation.schema_sha256,
            fingerprint.code_files(self.cfg),
            fingerprint.package_versions(),
        )

    def save_arrays(self, name: str, **arrays: Any) -> None:
        """numpy arrays into the file `name` (an .npz), hashed as they are written."""
        import numpy as np

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        self.write_bytes(name, buf.getvalue())
