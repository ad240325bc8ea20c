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


@dataclass(frozen=True)
class Side:
    label: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    model_sha256: str | None

    @classmethod
    def read(cls, directory: Path, label: str) -> Side:
        try:
            manifest = read_json(directory / "manifest.json")
            metrics = read_json(directory / "metrics.json")
        except (OSError, ValueError) as e:
            raise BaselineError(f"{label}: cannot read its manifest or metrics: {e}") from None
        if not isinstance(manifest, dict) or not isinstance(metrics, dict):
            raise BaselineError(f"{label}: manifest.json and metrics.json must be objects")
        model = directory / "model.onnx"
        return cls(label, manifest, metrics, sha256_file(model) if model.is_file() else None)


def _changes(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": k, "a": a.get(k), "b": b.get(k)}
        for k in sorted(set(a) | set(b), key=str)
        if a.get(k) != b.get(k)
    ]


def _value(metrics: dict[str, Any], name: str) -> float | None:
    m = (metrics.get("metrics") or {}).get(name)
    v = m.get("value") if isinstance(m, dict) else None
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def metric_rows(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys([*(a.get("metrics") or {}), *(b.get("metrics") or {})]))
    rows = []
    for name in names:
        x, y = _value(a, name), _value(b, name)
        delta = None if x is None or y is None else y - x
        rows.append({"metric": name, "a": x, "b": y, "delta": delta})
    return rows


def _data(m: dict[str, Any]) -> dict[str, Any]:
    files = (m.get("data") or {}).get("files") or {}
    return {
        role: {"path": f.get("path"), "sha256": f.get("sha256"), "rows": f.get("rows")}
        for role, f in files.items()
        if isinstance(f, dict)
    }


def _features(m: dict[str, Any]) -> dict[str, str]:
    return {f.get("name"): f.get("dtype") for f in m.get("features") or [] if isinstance(f, dict)}


def diff(a: Side, b: Side) -> dict[str, Any]:
    """Everything that differs from A to B (B − A for metrics)."""
    ma, mb = a.manifest, b.manifest
    model_a, model_b = ma.get("model") or {}, mb.get("model") or {}
    env_a = (ma.get("environment") or {}).get("packages") or {}
    env_b = (mb.get("environment") or {}).get("packages") or {}
    fa, fb = _features(ma), _features(mb)
    return {
        "a": a.label,
        "b": b.label,
        "model": {
            "a": a.model_sha256,
            "b": b.model_sha256,
            "same": a.model_sha256 == b.model_sha256,
        },
        "commits": {
            "a": (ma.get("git") or {}).get("commit"),
            "b": (mb.get("git") or {}).get("commit"),
        },
        "fingerprint": differences(
            (ma.get("fingerprint") or {}).get("parts"), (mb.get("fingerprint") or {}).get("parts")
        ),
        "metrics": metric_rows(a.metrics, b.metrics),
        "estimator": {"a": model_a.get("estimator"), "b": model_b.get("estimator")},
        "params": _changes(model_a.get("params") or {}, model_b.get("params") or {}),
        "data": _changes(_data(ma), _data(mb)),
        "rows": {
            k: {"a": (ma.get("data") or {}).get(k), "b": (mb.get("data") or {}).get(k)}
            for k in ("train_rows", "test_rows")
        },
        "schema": {
            "a": (ma.get("schema") or {}).get("sha256"),
            "b": (mb.get("schema") or {}).get("sha256"),
            "columns_added": sorted(set(fb) - set(fa), key=str),
            "columns_removed": sorted(set(fa) - set(fb), key=str),
            "columns_retyped": sorted((c for c in set(fa) & set(fb) if fa[c] != fb[c]), key=str),
        },
        "packages": _changes(env_a, env_b),
        "python": {
            "a": (ma.get("environment") or {}).get("python"),
            "b": (mb.get("environment") or {}).get("python"),
        },
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
