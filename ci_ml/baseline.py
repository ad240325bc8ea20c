"""The baseline: an earlier build's artifact directory, verified, then scored
as ONNX on the candidate's holdout rows. Never unpickled: a baseline can come
from a download, and an ONNX file cannot run code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ci_ml.artifact import read_json, verify_sums
from ci_ml.errors import BaselineError

ORIGIN = "release.json"  # written by `ci-ml baseline fetch`; not part of the artifact

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class Baseline:
    directory: Path
    source: str  # "dir" or "release"
    label: str  # what the report calls it: a path or a tag
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    schema_text: str | None
    url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> dict[str, Any]:
        git = self.manifest.get("git") or {}
        return {
            "source": self.source,
            "label": self.label,
            "url": self.url,
            "commit": git.get("commit"),
            "created": self.manifest.get("created"),
            "name": self.manifest.get("name"),
            **self.extra,
        }


class BaselineSource(Protocol):
    """Where a baseline comes from; returns a verified Baseline, or None if there is none yet."""

    def fetch(self) -> Baseline | None: ...


@dataclass
class DirectorySource:
    path: Path

    def fetch(self) -> Baseline | None:
        # A directory that `ci-ml baseline fetch` filled says which release it holds.
        origin = self.path / ORIGIN
        if origin.is_file():
            try:
                info = read_json(origin)
                return load_directory(
                    self.path,
                    source="release",
                    label=str(info["tag"]),
                    url=info.get("url"),
                    extra={"tag": info["tag"], "published_at": info.get("published_at")},
                )
            except (ValueError, KeyError, TypeError):
                pass  # only a label: fall back to the path
        return load_directory(self.path, source="dir", label=str(self.path))


def load_directory(
    path: Path,
    *,
    source: str,
    label: str,
    url: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Baseline:
    if not path.is_dir():
        raise BaselineError(
            f"baseline directory {path} not found",
            hint="pass --baseline with the --out directory of an earlier build, or 'release'",
        )
    verify_sums(path)
    try:
        manifest = read_json(path / "manifest.json")
        metrics = read_json(path / "metrics.json")
    except ValueError as e:
        raise BaselineError(f"baseline {path}: unreadable JSON: {e}") from None
    schema = path / "schema.yaml"
    return Baseline(
        path,
        source,
        label,
        manifest,
        metrics,
        schema.read_text(encoding="utf-8") if schema.is_file() else None,
        url,
        extra or {},
    )


@dataclass
class BaselineScores:
    """The baseline's predictions on the current holdout rows, or why there are none."""

    pred: np.ndarray | None = None
    proba: np.ndarray | None = None
    classes: list[Any] | None = None
    problem: str | None = None


def _onnx_feeds(session: Any, X: pd.DataFrame, manifest: dict[str, Any]) -> dict[str, Any] | str:
    """Feeds for the baseline's own inputs from the current frame, or a string saying
    why that cannot be done (columns gone or retyped)."""
    import numpy as np

    inputs = session.get_inputs()
    features = [f["name"] for f in manifest.get("features", [])]
    if len(inputs) == 1 and inputs[0].name == "input" and features:
        missing = [c for c in features if c not in X.columns]
        if missing:
            return f"the baseline needs column(s) the data no longer has: {', '.join(missing)}"
        dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
        try:
            return {"input": X[features].to_numpy(dtype=dtype)}
        except (TypeError, ValueError) as e:
            return f"the baseline's numeric inputs cannot be built from the current data: {e}"
    feeds: dict[str, Any] = {}
    missing = [i.name for i in inputs if i.name not in X.columns]
    if missing:
        return f"the baseline needs column(s) the data no longer has: {', '.join(missing)}"
    for i in inputs:
        s = X[i.name]
        if i.type == "tensor(string)":
            feeds[i.name] = np.array(
                ["" if v is None or v != v else str(v) for v in s], dtype=object
            ).reshape(-1, 1)
        else:
            dtype = np.float64 if i.type == "tensor(double)" else np.float32
            try:
                feeds[i.name] = s.to_numpy(dtype=dtype).reshape(-1, 1)
            except (TypeError, ValueError):
                return f"column {i.name!r} is no longer numeric, as the baseline expects"
    return feeds


def score(baseline: Baseline, X: pd.DataFrame, task: str) -> BaselineScores:
    import numpy as np

    from ci_ml.export import session_for

    try:
        session = session_for(baseline.directory / "model.onnx")
    except Exception as e:  # onnxruntime's errors are not typed
        return BaselineScores(
            problem=f"the baseline's model.onnx cannot be loaded by onnxruntime: {e}"
        )
    feeds = _onnx_feeds(session, X, baseline.manifest)
    if isinstance(feeds, str):
        return BaselineScores(problem=feeds)
    try:
        outs = session.run(None, feeds)
    except Exception as e:
        return BaselineScores(
            problem=f"the baseline model failed on the current data: {str(e).splitlines()[0]}"
        )
    if task == "classification":
        classes = baseline.manifest.get("classes")
        if len(outs) < 2 or not classes:
            return BaselineScores(problem="the baseline is not a classifier with probabilities")
        return BaselineScores(
            pred=np.asarray(outs[0]).ravel(),
            proba=np.asarray(outs[1], dtype=np.float64),
            classes=list(classes),
        )
    return BaselineScores(pred=np.asarray(outs[0], dtype=np.float64).ravel())
