"""What differs between two builds (artifact folders or fetched releases):
metrics, parameters, data, schema, package versions and the model file itself.
Pure functions of the two folders' manifest and metrics, plus file digests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ml.artifact import read_json, sha256_file
from ci_ml.errors import BaselineError
from ci_ml.fingerprint import differences
from ci_ml.records import Evaluation, Manifest, load


@dataclass(frozen=True)
class Side:
    label: str
    manifest: Manifest
    metrics: Evaluation
    model_sha256: str | None

    @classmethod
    def read(cls, directory: Path, label: str) -> Side:
        """Its manifest and metrics as records (read tolerantly: a build made by an
        earlier ci-ml compares too)."""
        try:
            manifest = load(Manifest, read_json(directory / "manifest.json"))
            metrics = load(Evaluation, read_json(directory / "metrics.json"))
        except (OSError, ValueError) as e:  # RecordError is a ValueError
            raise BaselineError(f"{label}: cannot read its manifest or metrics: {e}") from None
        model = directory / "model.onnx"
        return cls(label, manifest, metrics, sha256_file(model) if model.is_file() else None)


def _changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": k, "a": a.get(k), "b": b.get(k)}
        for k in sorted(set(a) | set(b), key=str)
        if a.get(k) != b.get(k)
    ]


def _value(metrics: Evaluation, name: str) -> float | None:
    m = metrics.metrics.get(name)
    return float(m.value) if m is not None and math.isfinite(m.value) else None


def metric_rows(a: Evaluation, b: Evaluation) -> list[dict[str, Any]]:
    names = list(dict.fromkeys([*a.metrics, *b.metrics]))
    rows = []
    for name in names:
        x, y = _value(a, name), _value(b, name)
        delta = None if x is None or y is None else y - x
        rows.append({"metric": name, "a": x, "b": y, "delta": delta})
    return rows


def _data(m: Manifest) -> dict[str, Any]:
    files = m.data.files if m.data else {}
    return {role: {"path": f.path, "sha256": f.sha256, "rows": f.rows} for role, f in files.items()}


def _features(m: Manifest) -> dict[str, str]:
    return {f.name: f.dtype for f in m.features}


def _pair(a: object, b: object) -> dict[str, object]:
    return {"a": a, "b": b}


def diff(a: Side, b: Side) -> dict[str, Any]:
    """Everything that differs from A to B (B − A for metrics)."""
    ma, mb = a.manifest, b.manifest
    env_a = ma.environment.packages if ma.environment else {}
    env_b = mb.environment.packages if mb.environment else {}
    fa, fb = _features(ma), _features(mb)
    return {
        "a": a.label,
        "b": b.label,
        "model": {
            "a": a.model_sha256,
            "b": b.model_sha256,
            "same": a.model_sha256 == b.model_sha256,
        },
        "commits": _pair(ma.commit, mb.commit),
        "fingerprint": differences(
            ma.fingerprint.parts if ma.fingerprint else None,
            mb.fingerprint.parts if mb.fingerprint else None,
        ),
        "metrics": metric_rows(a.metrics, b.metrics),
        "estimator": _pair(
            ma.model.estimator if ma.model else None, mb.model.estimator if mb.model else None
        ),
        "params": _changes(
            ma.model.params if ma.model else {}, mb.model.params if mb.model else {}
        ),
        "data": _changes(_data(ma), _data(mb)),
        "rows": {
            k: _pair(getattr(ma.data, k, None), getattr(mb.data, k, None))
            for k in ("train_rows", "test_rows")
        },
        "schema": {
            "a": ma.schema.sha256,
            "b": mb.schema.sha256,
            "columns_added": sorted(set(fb) - set(fa), key=str),
            "columns_removed": sorted(set(fa) - set(fb), key=str),
            "columns_retyped": sorted((c for c in set(fa) & set(fb) if fa[c] != fb[c]), key=str),
        },
        "packages": _changes(env_a, env_b),
        "python": _pair(
            ma.environment.python if ma.environment else None,
            mb.environment.python if mb.environment else None,
        ),
    }


def _n(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).replace("|", "\\|").replace("\n", " ")[:120]


def markdown(d: dict[str, Any]) -> str:
    lines = [f"## ci-ml diff: `{d['a']}` → `{d['b']}`", ""]
    same = "identical" if d["model"]["same"] else "different"
    lines.append(
        f"**model.onnx**: {same} ({_n(d['model']['a'])[:12]} → {_n(d['model']['b'])[:12]})"
    )
    lines.append(f"**commit**: {_n(d['commits']['a'])[:12]} → {_n(d['commits']['b'])[:12]}")
    if d["fingerprint"]:
        lines.append("**what changed**: " + "; ".join(d["fingerprint"]))
    lines += ["", "| metric | A | B | Δ |", "| --- | ---: | ---: | ---: |"]
    lines += [
        f"| {r['metric']} | {_n(r['a'])} | {_n(r['b'])} | {_n(r['delta'])} |" for r in d["metrics"]
    ]
    sections = [("parameters", d["params"]), ("data", d["data"]), ("packages", d["packages"])]
    for title, rows in sections:
        lines += ["", f"### {title}", ""]
        if not rows:
            lines.append("no difference")
            continue
        lines += ["| | A | B |", "| --- | --- | --- |"]
        lines += [f"| {_n(r['key'])} | {_n(r['a'])} | {_n(r['b'])} |" for r in rows]
    s = d["schema"]
    lines += ["", "### schema", ""]
    lines.append(f"schema sha256: {_n(s['a'])[:12]} → {_n(s['b'])[:12]}")
    for key in ("columns_added", "columns_removed", "columns_retyped"):
        if s[key]:
            lines.append(f"{key.replace('_', ' ')}: {', '.join(map(_n, s[key]))}")
    rows = d["rows"]
    lines.append(
        f"rows: train {_n(rows['train_rows']['a'])} → {_n(rows['train_rows']['b'])}, "
        f"holdout {_n(rows['test_rows']['a'])} → {_n(rows['test_rows']['b'])}"
    )
    return "\n".join(lines) + "\n"
