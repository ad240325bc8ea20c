"""The build's artifact directory: which files make it up, and their checksums."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ci_ml.data import sha256_file
from ci_ml.errors import BaselineError

# Published files, in the order a reader wants them. Anything else in the
# directory (the _build/ intermediates, a fetched baseline) is not part of it.
ARTIFACT_FILES = [
    "model.onnx",
    "metrics.json",
    "manifest.json",
    "schema.yaml",
    "validation.json",
    "comparison.json",
    "report.md",
    "model-card.md",
]
SUMS = "SHA256SUMS"
REQUIRED_FOR_BASELINE = ["model.onnx", "metrics.json", "manifest.json"]
BUILD_DIR = "_build"  # intermediates of one build; never published, never fetched

_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, so an interrupted stage never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=str, allow_nan=True)
        fh.write("\n")
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


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
    for n, line in enumerate(sums_path.read_text(encoding="utf-8").splitlines(), 1):
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
