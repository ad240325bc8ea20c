"""The baseline: an earlier build's artifact folder, resolved once per command
into a verified object that every stage needing it is handed.

Its SHA256SUMS are checked once, when it is loaded; its manifest and metrics are
typed records (read tolerantly: a baseline released by an earlier ci-ml loads);
its model is scored on the current holdout rows once and the scores are kept.
Never unpickled: a baseline can come from a download, and an ONNX file cannot
run code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import ORIGIN, read_json, verify_sums
from ci_ml.errors import BaselineError
from ci_ml.records import Evaluation, Manifest, RecordError, SafeguardsResult, load
from ci_ml.scoring import every_row
from ci_ml.scoring.onnx import model_file_problem, model_metadata, session_for
from ci_ml.scoring.pairing import BaselineScores, score

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.records import Evaluation, History, Manifest, SafeguardsResult


@dataclass
class Baseline:
    """A verified baseline. `history`: the model's release history, when the CLI
    fetched the baseline from the registry (for the report's chart)."""

    directory: Path
    source: str  # "dir" or "release"
    label: str  # what the report calls it: a path or a tag
    manifest: Manifest
    metrics: Evaluation
    schema_text: str | None
    digests: dict[str, str]  # {file: sha256}, as SHA256SUMS listed and the files proved
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    history: History | None = None
    # Scores on a holdout, with the frame they are of: a build scores its baseline once.
    _scores: list[tuple[pd.DataFrame, BaselineScores]] = field(default_factory=list, repr=False)

    @property
    def task(self) -> str:
        return self.manifest.task

    @property
    def model_path(self) -> Path:
        return self.directory / "model.onnx"

    @property
    def identity(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "label": self.label,
            "url": self.url,
            "commit": self.manifest.commit,
            "created": self.manifest.created,
            "name": self.manifest.name,
            **self.extra,
        }

    def safeguards(self) -> SafeguardsResult | None:
        """Its safeguards record (leakage scores to compare with), if it has a
        readable one; older or damaged ones give None."""

        path = self.directory / "safeguards.json"
        if "safeguards.json" not in self.digests:
            return None
        try:
            return load(SafeguardsResult, read_json(path))
        except (OSError, ValueError, RecordError):
            return None

    def model_problem(self) -> str | None:
        """Why its model.onnx cannot be taken as a new build's own (the build cache;
        None: it can): it must be the file its SHA256SUMS listed, of the size its
        manifest records, an ONNX model with nothing outside it, whose metadata
        names the build the manifest describes, and load in onnxruntime."""
        import hashlib

        data = self.model_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != self.digests.get("model.onnx"):
            return "it changed since its SHA256SUMS were checked"
        export = self.manifest.export
        if export is None or export.bytes != len(data):
            recorded = "no size" if export is None else f"{export.bytes:,} bytes"
            return f"it is {len(data):,} bytes and its manifest records {recorded}"
        problem = model_file_problem(data)
        if problem is not None:
            return problem
        recorded_fp = self.manifest.fingerprint.sha256 if self.manifest.fingerprint else None
        if model_metadata(data).get("ci_ml.fingerprint") != recorded_fp:
            return "its metadata names another build than its manifest (a model put in its place)"
        try:
            session_for(data)
        except Exception as e:  # onnxruntime's errors are not typed
            return f"onnxruntime cannot load it ({str(e).splitlines()[0][:200]})"
        return None

    def scores(self, X: pd.DataFrame, task: str) -> BaselineScores:
        """Its predictions on the holdout rows X (scored once per holdout: the frame
        is kept with its scores, so its identity cannot be reused by another)."""
        for frame, found in self._scores:
            if frame is X:
                return found
        found = score(self.model_path, self.manifest, X, task)
        self._scores.append((X, found))
        return found


def every_row_scorer(
    b: Build, base: Baseline | None, needed_by: str
) -> tuple[str, every_row.Scorer] | None:
    """The baseline as the passes over every holdout row score it beside the
    candidate (ci_ml.scoring.every_row), with its folder: None without a baseline,
    or when it cannot score the holdout's sample or does not predict the
    candidate's classes (a class only one model knows widens the component
    columns wherever it is predicted), so the comparison stays on the sample."""
    if base is None:
        return None
    scores = base.scores(b.dataset.holdout_rows, b.task)
    if scores.problem is not None:
        return None
    if b.task == "classification":
        mine = b.require("train", needed_by).classes
        if not every_row.same_keys(list(mine or []), list(scores.classes or [])):
            return None
    return str(base.directory), every_row.Scorer.of_build(base.model_path, base.manifest)


def load_baseline(
    path: Path, history: History | None = None, check: Callable[[Path], None] | None = None
) -> Baseline:
    """A verified baseline from an artifact folder (its SHA256SUMS, then `check`: the
    signature policy); one that `ci-ml baseline fetch` filled says which release
    it holds."""
    origin = path / ORIGIN
    if origin.is_file():
        try:
            info = read_json(origin)
            return load_directory(
                path,
                source="release",
                label=str(info["tag"]),
                url=info.get("url"),
                extra={"tag": info["tag"], "published_at": info.get("published_at")},
                history=history,
                check=check,
            )
        except (ValueError, KeyError, TypeError):
            pass  # only a label: fall back to the path
    return load_directory(path, source="dir", label=str(path), history=history, check=check)


def load_directory(
    path: Path,
    *,
    source: str,
    label: str,
    url: str | None = None,
    extra: dict[str, Any] | None = None,
    history: History | None = None,
    check: Callable[[Path], None] | None = None,
) -> Baseline:
    if not path.is_dir():
        raise BaselineError(
            f"baseline directory {path} not found",
            hint="pass --baseline with the --out directory of an earlier build, or 'release'",
        )
    digests = verify_sums(path)
    if check is not None:
        check(path)
    manifest = _checked(path / "manifest.json", Manifest)
    metrics = _checked(path / "metrics.json", Evaluation)
    schema = path / "schema.yaml"
    try:
        schema_text = schema.read_text(encoding="utf-8") if schema.is_file() else None
    except (OSError, ValueError):
        schema_text = None  # only shown, never trusted
    return Baseline(
        path, source, label, manifest, metrics, schema_text, digests, url, extra or {}, history
    )


def _checked(path: Path, cls: type) -> Any:
    """A baseline file as its record: a baseline can come from a download, so its
    shape is not taken on trust."""

    try:
        data = read_json(path)
    except (OSError, ValueError) as e:  # unreadable, not UTF-8, not JSON
        raise BaselineError(f"baseline {path} is not readable JSON: {str(e)[:200]}") from None
    try:
        return load(cls, data)
    except RecordError as e:
        raise BaselineError(
            f"baseline {path} is not what a ci-ml build writes: {e}",
            file=str(path),
            hint="point --baseline at the artifact folder of a ci-ml build",
        ) from None
