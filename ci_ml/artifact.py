"""The build's artifact directory: which files make it up, how they are
written (atomically, as strict JSON that any parser accepts) and their checksums."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ci_ml.errors import BaselineError

# Field metadata: what a result holds in memory but never writes (a fitted
# estimator), and optional parts written only when present.
TRANSIENT = "ci_ml_transient"
OMIT_NONE = "ci_ml_omit_none"


# Published files, in the order a reader wants them. Anything else in the
# directory (the _build/ intermediates, a fetched baseline) is not part of it.
ARTIFACT_FILES = [
    "model.onnx",
    "metrics.json",
    "manifest.json",
    "schema.yaml",
    "validation.json",
    "safeguards.json",
    "profile.json",
    "comparison.json",
    "model-tests.json",
    "report.md",
    "model-card.md",
]
SUMS = "SHA256SUMS"
REQUIRED_FOR_BASELINE = ["model.onnx", "metrics.json", "manifest.json"]
REQUIRED_FOR_PUBLISH = [*REQUIRED_FOR_BASELINE, "model-card.md"]
BUILD_DIR = "_build"  # intermediates of one build; never published, never fetched
# Build intermediates the stages hand on: the fitted model (pickled, for `ci-ml
# export` run alone; never published, and nothing downloaded is ever unpickled),
# the candidate's holdout predictions, the release history for the report.
FITTED_MODEL = f"{BUILD_DIR}/model.joblib"
PREDICTIONS = f"{BUILD_DIR}/predictions.npz"
HISTORY = f"{BUILD_DIR}/history.json"  # the model's release history, for the report
ORIGIN = "release.json"  # which release a fetched baseline came from; not part of the artifact

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def plain(value: Any) -> Any:
    """Plain Python for JSON: numpy scalars and arrays, dataclasses and paths
    converted, recursively (the one place that knows how)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get(TRANSIENT)
            and not (f.metadata.get(OMIT_NONE) and getattr(value, f.name) is None)
        }
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # strict JSON has no NaN or Infinity
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return plain(value.tolist())
    if hasattr(value, "isoformat"):  # timestamps in data examples
        return value.isoformat()
    return str(value)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, so an interrupted stage never leaves half a file."""
    text = json.dumps(plain(data), indent=2, allow_nan=False) + "\n"
    write_text(path, text)


def write_text(path: Path, text: str) -> None:
    """Write atomically: a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; artifact files are for everyone
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def loads_strict(text: str) -> Any:
    """Parse JSON as strictly as JavaScript's JSON.parse: NaN and Infinity are errors."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def present_files(out: Path) -> list[str]:
    return [name for name in ARTIFACT_FILES if (out / name).is_file()]


def write_sums(out: Path) -> list[str]:
    """SHA256SUMS over every artifact file present (sha256sum -c compatible)."""
    names = present_files(out)
    write_text(out / SUMS, "".join(f"{sha256_file(out / n)}  {n}\n" for n in names))
    return names


def verify_sums(directory: Path, required: list[str] = REQUIRED_FOR_BASELINE) -> dict[str, str]:
    """Check a (baseline) artifact against its SHA256SUMS; any problem is a BaselineError
    naming the file. Returns {file: sha256}."""
    sums_path = directory / SUMS
    if not sums_path.is_file():
        raise BaselineError(
            f"baseline {directory} has no {SUMS}: cannot prove its files are the ones that were published",
            file=str(sums_path),
            hint="point --baseline at the artifact directory of a ci-ml build (it writes SHA256SUMS)",
        )
    listed: dict[str, str] = {}
    try:
        text = sums_path.read_text(encoding="utf-8")
    except (OSError, ValueError) as e:  # unreadable or not UTF-8
        raise BaselineError(
            f"{sums_path} is not a readable sha256sum file: {str(e)[:200]}", file=str(sums_path)
        ) from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if not m:
            raise BaselineError(
                f"{sums_path}:{n}: not a sha256sum line: {line[:80]!r}", file=str(sums_path)
            )
        digest, name = m.groups()
        if "/" in name or "\\" in name or name.startswith("."):
            raise BaselineError(
                f"{sums_path}:{n}: file name {name!r} is not a plain artifact file name",
                file=str(sums_path),
            )
        listed[name] = digest
    for name in required:
        if name not in listed:
            raise BaselineError(
                f"baseline {SUMS} does not list {name}",
                file=str(sums_path),
                hint="the baseline is incomplete; rebuild or republish it",
            )
    for name, digest in listed.items():
        path = directory / name
        if not path.is_file():
            raise BaselineError(
                f"baseline file {name} is listed in {SUMS} but missing", file=str(path)
            )
        actual = sha256_file(path)
        if actual != digest:
            raise BaselineError(
                f"baseline file {name} does not match {SUMS} (sha256 {actual[:12]}…, expected {digest[:12]}…): "
                "it was modified or corrupted after the build",
                file=str(path),
                hint="fetch the baseline again; never edit a published artifact",
            )
    return listed
