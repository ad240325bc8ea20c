"""`ci-ml reproduce`: rebuild a model from its record and say whether it came out
the same. The recorded commit is checked out into a temporary git worktree, the
data files are checked against their recorded sha256, the whole pipeline runs
there (no baseline, no cache), and the result is compared with the record:
model.onnx byte for byte, every metric, and the package versions.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_ml.artifact import read_json, sha256_file
from ci_ml.errors import NotReproduced, UsageError
from ci_ml.fingerprint import package_versions
from ci_ml.records import Evaluation, Manifest, load


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120, check=False
    )


def recorded_source(manifest: Manifest) -> tuple[str, str]:
    """(commit, config path from the repository root) the record names."""
    commit = manifest.git.commit if manifest.git else None
    config = manifest.git.config_path if manifest.git else None
    if not commit:
        raise UsageError(
            "the manifest records no git commit: this model was not built in a git checkout",
            hint="only a build made inside a git repository can be reproduced",
        )
    if not config:
        raise UsageError(
            "the manifest does not record where the config is in the repository",
            hint="it was built by an older ci-ml; rebuild it with this one first",
        )
    return commit, config


def toplevel(repo: Path) -> Path:
    r = _git(repo, "rev-parse", "--show-toplevel")
    if r.returncode != 0:
        raise UsageError(
            f"{repo} is not inside a git clone", hint="run it in the model's repository (--repo)"
        )
    return Path(r.stdout.strip())


@contextlib.contextmanager
def worktree(repo: Path, commit: str) -> Iterator[Path]:
    """The commit checked out in a temporary worktree, removed afterwards."""
    if _git(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        raise UsageError(
            f"commit {commit[:12]} is not in the clone at {repo}",
            hint="fetch it first (git fetch origin, or actions/checkout with fetch-depth: 0)",
        )
    parent = Path(tempfile.mkdtemp(prefix="ci-ml-reproduce-"))
    path = parent / "src"
    r = _git(repo, "worktree", "add", "--detach", str(path), commit)
    if r.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
        raise UsageError(f"git could not check out {commit[:12]}: {r.stderr.strip()[:300]}")
    try:
        yield path
    finally:
        _git(repo, "worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)


def data_problems(manifest: Manifest, config_dir: Path, fallback_dir: Path) -> list[str]:
    """Bring each recorded data file into the worktree (a file git does not track is
    taken from the current checkout) and compare its sha256 with the record."""
    problems = []
    files = manifest.data.files if manifest.data else {}
    for role, info in sorted(files.items()):
        rel, want = info.path, info.sha256
        target = config_dir / rel
        if not target.is_file() and (fallback_dir / rel).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fallback_dir / rel, target)
        if not target.is_file():
            problems.append(f"data file {rel} ({role}) is neither in the commit nor in the clone")
            continue
        got = sha256_file(target)
        if got != want:
            problems.append(
                f"data file {rel} ({role}) has sha256 {got[:12]}…, the record says {str(want)[:12]}…"
            )
    return problems


@dataclass
class Outcome:
    matched: bool
    model: dict[str, Any]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    error: str | None = None


def package_changes(manifest: Manifest) -> list[dict[str, Any]]:
    recorded = dict(manifest.environment.packages) if manifest.environment else {}
    py = manifest.environment.python if manifest.environment else None
    if py:
        recorded["python"] = ".".join(str(py).split(".")[:2])
    now = package_versions(tuple(k for k in recorded if k != "python"))
    return [
        {"package": k, "recorded": recorded.get(k), "now": now.get(k)}
        for k in sorted(recorded)
        if recorded.get(k) != now.get(k)
    ]


def _shown(v: float | None) -> float | None:
    """A metric's number as the record writes it (undefined: null)."""
    return None if v is None or math.isnan(v) else v


def metric_changes(recorded: Evaluation, rebuilt: Evaluation) -> list[dict[str, Any]]:
    out = []
    a, b = recorded.metrics, rebuilt.metrics
    for name in dict.fromkeys([*a, *b]):
        x, y = a.get(name), b.get(name)
        for key in ("value", "ci_low", "ci_high"):
            xv = _shown(getattr(x, key)) if x is not None else None
            yv = _shown(getattr(y, key)) if y is not None else None
            if xv != yv:
                out.append({"metric": name, "field": key, "recorded": xv, "rebuilt": yv})
    return out


def compare(record: Path, rebuilt: Path, manifest: Manifest) -> Outcome:
    want = sha256_file(record / "model.onnx")
    got = sha256_file(rebuilt / "model.onnx") if (rebuilt / "model.onnx").is_file() else None
    metrics = metric_changes(
        load(Evaluation, read_json(record / "metrics.json")),
        load(Evaluation, read_json(rebuilt / "metrics.json")),
    )
    model = {"recorded": want, "rebuilt": got, "equal": want == got}
    return Outcome(want == got and not metrics, model, metrics, package_changes(manifest))


def markdown(label: str, o: Outcome) -> str:
    icon = "✅" if o.matched else "❌"
    lines = [
        f"## {icon} ci-ml reproduce `{label}`: {'matches' if o.matched else 'does not match'}",
        "",
    ]
    if o.error:
        lines += [f"The rebuild failed: {o.error}", ""]
    for p in o.data:
        lines.append(f"- {p}")
    if o.model:
        m = o.model
        same = "identical" if m.get("equal") else "different"
        lines.append(
            f"**model.onnx** sha256: {same} (recorded {str(m.get('recorded'))[:12]}, "
            f"rebuilt {str(m.get('rebuilt'))[:12]})"
        )
    if o.metrics:
        lines += ["", "| metric | field | recorded | rebuilt |", "| --- | --- | ---: | ---: |"]
        lines += [
            f"| {r['metric']} | {r['field']} | {r['recorded']} | {r['rebuilt']} |"
            for r in o.metrics
        ]
    elif o.model and not o.error:
        lines.append("**metrics**: identical")
    if o.packages:
        lines += ["", "Package versions that differ from the record:", ""]
        lines += [f"- {p['package']}: recorded {p['recorded']}, now {p['now']}" for p in o.packages]
    else:
        lines.append("**packages**: the recorded versions")
    return "\n".join(lines) + "\n"


def fail(o: Outcome) -> NotReproduced:
    if o.data:
        what = "the data no longer match the record: " + "; ".join(o.data)
    elif o.error:
        what = f"the rebuild failed: {o.error}"
    else:
        parts = []
        if not o.model.get("equal"):
            parts.append("model.onnx differs")
        if o.metrics:
            parts.append(f"{len({m['metric'] for m in o.metrics})} metric(s) differ")
        what = ", ".join(parts)
    hint = "see reproduce.md"
    if o.packages:
        hint += "; package versions differ from the record: " + ", ".join(
            p["package"] for p in o.packages
        )
    return NotReproduced(f"the rebuild does not match the record: {what}", hint=hint)
