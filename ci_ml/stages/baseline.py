"""The baseline of the compare stage: an earlier build's artifact directory,
verified, then scored as ONNX on the candidate's holdout rows. Never unpickled: a baseline can come
from a download, and an ONNX file cannot run code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from ci_ml.artifact import ORIGIN, read_json, verify_sums
from ci_ml.errors import BaselineError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Column(_Open):
    name: str
    dtype: str


class _Manifest(_Open):
    """The fields of a baseline's manifest.json that compare reads."""

    task: Literal["classification", "regression"]
    features: list[_Column]
    target: _Column | None = None
    classes: list[str | int | float | bool] | None = None
    data: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    git: dict[str, Any] | None = None
    export: dict[str, Any] | None = None


class _Value(_Open):
    value: float | None


class _Metrics(_Open):
    """The fields of a baseline's metrics.json that compare reads."""

    rows: int | None = None
    metrics: dict[str, _Value]
    class_balance: dict[str, int] | None = None


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
    def task(self) -> str | None:
        task = self.manifest.get("task")
        return task if isinstance(task, str) else None

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


def load_baseline(path: Path) -> Baseline:
    """A verified baseline from an artifact directory; one that `ci-ml baseline
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
            )
        except (ValueError, KeyError, TypeError):
            pass  # only a label: fall back to the path
    return load_directory(path, source="dir", label=str(path))


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
    manifest = _checked(path / "manifest.json", _Manifest)
    metrics = _checked(path / "metrics.json", _Metrics)
    schema = path / "schema.yaml"
    try:
        schema_text = schema.read_text(encoding="utf-8") if schema.is_file() else None
    except (OSError, ValueError):
        schema_text = None  # only shown, never trusted
    return Baseline(path, source, label, manifest, metrics, schema_text, url, extra or {})


def _checked(path: Path, model: Any) -> dict[str, Any]:
    """A baseline file as a dict, after checking the fields compare reads: a
    baseline can come from a download, so its shape is not taken on trust."""
    from pydantic import ValidationError

    try:
        data = read_json(path)
    except (OSError, ValueError) as e:  # unreadable, not UTF-8, not JSON
        raise BaselineError(f"baseline {path} is not readable JSON: {str(e)[:200]}") from None
    try:
        model.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise BaselineError(
            f"baseline {path} is not what a ci-ml build writes: {where}: {first['msg']}",
            file=str(path),
            hint="point --baseline at the artifact folder of a ci-ml build",
        ) from None
    return data


@dataclass
class BaselineScores:
    """The baseline's predictions on the current holdout rows, or why there are none."""

    pred: np.ndarray | None = None
    proba: np.ndarray | None = None
    classes: list[Any] | None = None
    problem: str | None = None


def _input_spec(
    session: Any, X: pd.DataFrame, manifest: dict[str, Any]
) -> tuple[list[str], list[tuple[str, str]], str] | str:
    """(columns, input spec, precision) for the baseline's own ONNX inputs, or a
    string saying why the current frame cannot feed them (columns gone)."""
    inputs = session.get_inputs()
    precision = "double" if any(i.type == "tensor(double)" for i in inputs) else "float"
    features = [f["name"] for f in manifest.get("features", [])]
    if len(inputs) == 1 and inputs[0].name == "input" and features:
        columns, spec = features, [("input", "numeric")]
    else:
        columns = [i.name for i in inputs]
        spec = [(i.name, "string" if i.type == "tensor(string)" else "numeric") for i in inputs]
    missing = [c for c in columns if c not in X.columns]
    if missing:
        return f"the baseline needs column(s) the data no longer has: {', '.join(missing)}"
    return columns, spec, precision


def score(baseline: Baseline, X: pd.DataFrame, task: str) -> BaselineScores:
    import numpy as np

    from ci_ml.stages.export import feeds, session_for

    try:
        session = session_for(baseline.directory / "model.onnx")
    except Exception as e:  # onnxruntime's errors are not typed
        return BaselineScores(
            problem=f"the baseline's model.onnx cannot be loaded by onnxruntime: {e}"
        )
    spec = _input_spec(session, X, baseline.manifest)
    if isinstance(spec, str):
        return BaselineScores(problem=spec)
    columns, inputs, precision = spec
    try:
        data = feeds(X[columns], inputs, precision)
    except (TypeError, ValueError) as e:
        return BaselineScores(
            problem=f"the baseline's inputs cannot be built from the current data: {e}"
        )
    try:
        outs = session.run(None, data)
    except Exception as e:
        return BaselineScores(
            problem=f"the baseline model failed on the current data: {str(e).splitlines()[0]}"
        )
    if task == "classification":
        classes = baseline.manifest.get("classes")
        if not classes or not isinstance(classes, list):
            return BaselineScores(
                problem="the baseline is not a classifier (its manifest lists no classes)"
            )
        recorded = (baseline.manifest.get("export") or {}).get("probabilities")
        has_proba = len(outs) > 1 if recorded is None else bool(recorded)
        return BaselineScores(
            pred=np.asarray(outs[0]).ravel(),
            proba=np.asarray(outs[1], dtype=np.float64) if has_proba and len(outs) > 1 else None,
            classes=list(classes),
        )
    return BaselineScores(pred=np.asarray(outs[0], dtype=np.float64).ravel())
