"""The baseline: an earlier build's artifact folder, resolved once per command
into a verified object that every stage needing it is handed.

Its SHA256SUMS are checked once, when it is loaded; its manifest and metrics are
typed records (read tolerantly: a baseline released by an earlier ci-ml loads);
its model is scored on the current holdout rows once and the scores are kept.
Never unpickled: a baseline can come from a download, and an ONNX file cannot
run code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import ORIGIN, read_json, verify_sums
from ci_ml.errors import BaselineError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.records import Evaluation, History, Manifest, SafeguardsResult


@dataclass
class BaselineScores:
    """The baseline's predictions on the current holdout rows, or why there are none."""

    pred: np.ndarray | None = None
    proba: np.ndarray | None = None
    classes: list[Any] | None = None
    problem: str | None = None


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
    # Scores on a holdout, by the holdout's identity: a build scores its baseline once.
    _scores: dict[int, BaselineScores] = field(default_factory=dict, repr=False)

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
        from ci_ml.records import RecordError, SafeguardsResult, load

        path = self.directory / "safeguards.json"
        if "safeguards.json" not in self.digests:
            return None
        try:
            return load(SafeguardsResult, read_json(path))
        except (OSError, ValueError, RecordError):
            return None

    def scores(self, X: pd.DataFrame, task: str) -> BaselineScores:
        """Its predictions on the holdout rows X (scored once per holdout)."""
        key = id(X)
        if key not in self._scores:
            self._scores[key] = score(self, X, task)
        return self._scores[key]


def load_baseline(path: Path, history: History | None = None) -> Baseline:
    """A verified baseline from an artifact folder; one that `ci-ml baseline
    fetch` filled says which release it holds."""
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
            )
        except (ValueError, KeyError, TypeError):
            pass  # only a label: fall back to the path
    return load_directory(path, source="dir", label=str(path), history=history)


def load_directory(
    path: Path,
    *,
    source: str,
    label: str,
    url: str | None = None,
    extra: dict[str, Any] | None = None,
    history: History | None = None,
) -> Baseline:
    from ci_ml.records import Evaluation, Manifest

    if not path.is_dir():
        raise BaselineError(
            f"baseline directory {path} not found",
            hint="pass --baseline with the --out directory of an earlier build, or 'release'",
        )
    digests = verify_sums(path)
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
    from ci_ml.records import RecordError, load

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


def score(baseline: Baseline, X: pd.DataFrame, task: str) -> BaselineScores:
    """The baseline's model on the holdout rows, through onnxruntime, with its own
    inputs; or why it cannot be."""
    import numpy as np

    from ci_ml.scoring.model import OnnxModel

    try:
        model = OnnxModel(baseline.model_path, baseline.manifest)
    except Exception as e:  # onnxruntime's errors are not typed
        return BaselineScores(
            problem=f"the baseline's model.onnx cannot be loaded by onnxruntime: {e}"
        )
    missing = [c for c in model.columns if c not in X.columns]
    if missing:
        return BaselineScores(
            problem=f"the baseline needs column(s) the data no longer has: {', '.join(missing)}"
        )
    try:
        data = model.feeds(X)
    except (TypeError, ValueError) as e:
        return BaselineScores(
            problem=f"the baseline's inputs cannot be built from the current data: {e}"
        )
    try:
        outs = model.session.run(None, data)
    except Exception as e:
        return BaselineScores(
            problem=f"the baseline model failed on the current data: {str(e).splitlines()[0]}"
        )
    if task == "classification":
        classes = baseline.manifest.classes
        if not classes:
            return BaselineScores(
                problem="the baseline is not a classifier (its manifest lists no classes)"
            )
        recorded = baseline.manifest.export.probabilities if baseline.manifest.export else None
        has_proba = len(outs) > 1 if recorded is None else bool(recorded)
        return BaselineScores(
            pred=np.asarray(outs[0]).ravel(),
            proba=np.asarray(outs[1], dtype=np.float64) if has_proba and len(outs) > 1 else None,
            classes=list(classes),
        )
    return BaselineScores(pred=np.asarray(outs[0], dtype=np.float64).ravel())
