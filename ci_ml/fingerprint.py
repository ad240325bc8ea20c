"""What a model is made of, as one digest: the data files, the config sections
that shape the model, the schema, the user's training code and the versions
of the packages that fit and export it. Two builds with one fingerprint make
the same `model.onnx`, so a pull request whose fingerprint equals its
baseline's reuses the baseline's model instead of training noise.

Everything here is a pure function of file digests and plain values, except
`code_files`, which reads the files a config names.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import sha256_file

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.records import Manifest

# The config sections whose change can change model.onnx (gates, metrics and
# statistics change the report, not the model).
MODEL_SECTIONS = ("data", "schema", "task", "model", "export")
# The packages whose version can change what is fitted or how it is written.
PACKAGES = ("ci-ml", "scikit-learn", "skl2onnx", "onnx", "numpy", "scipy", "protobuf")


def digest(value: Any) -> str:
    """sha256 of a JSON value written canonically (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def config_sha256(config: dict[str, Any]) -> str:
    """The digest of the config sections that shape the model."""
    return digest({k: config.get(k) for k in MODEL_SECTIONS})


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = ".".join(platform.python_version_tuple()[:2])
    return out


def _files_under(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return [path]


# What `model.command_inputs` is when the config leaves it out: the Python files
# beside the config (the command's own script and what it imports from there).
COMMAND_INPUTS = ("*.py",)


def command_code(cfg: Config) -> list[str]:
    """The files a `model.command` is made of, relative to the config: every
    relative argument that names a file (its script), and what `command_inputs`
    (default COMMAND_INPUTS) matches. Placeholders name no code and are skipped."""
    import shlex

    if cfg.model.command is None:
        return []
    base = cfg.base_dir.resolve()
    found: set[Path] = set()
    for arg in shlex.split(cfg.model.command):
        value = arg.split("=", 1)[-1] if arg.startswith("--") else arg
        # A placeholder names no code; an absolute path names the machine's (an
        # interpreter), not the project's, and would tie the cache to one machine.
        if "{" in value or Path(value).is_absolute():
            continue
        p = cfg.resolve(value)
        if p.is_file():
            found.add(p.resolve())
    globs = COMMAND_INPUTS if cfg.model.command_inputs is None else cfg.model.command_inputs
    for pattern in globs:
        found.update(p.resolve() for p in base.glob(pattern) if p.is_file())
    out = []
    for p in found:
        if "__pycache__" in p.parts:
            continue
        try:
            out.append(p.relative_to(base).as_posix())
        except ValueError:
            out.append(p.as_posix())  # a script outside the config's folder: by its path
    return sorted(out)


def code_files(cfg: Config) -> dict[str, str | None]:
    """{path relative to the config: sha256} of the training code the config names:
    the factory file and every file or folder in `model.code`, or the command's
    files (`command_code`); None: missing."""
    named: list[str] = []
    if cfg.model.factory:
        named.append(cfg.model.factory.rpartition(":")[0])
    named += cfg.model.code
    named += command_code(cfg)
    out: dict[str, str | None] = {}
    for name in named:
        path = cfg.resolve(name)
        for p in _files_under(path):
            try:
                rel = p.relative_to(cfg.base_dir).as_posix()
            except ValueError:
                rel = p.as_posix()
            out[rel] = sha256_file(p) if p.is_file() else None
    return out


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    parts: dict[str, Any]

    @classmethod
    def of(cls, parts: dict[str, Any]) -> Fingerprint:
        return cls(digest(parts), parts)

    def as_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "parts": self.parts}


def make(
    data: dict[str, str],
    config: dict[str, Any],
    schema_sha256: str | None,
    code: dict[str, str | None],
    packages: dict[str, str | None],
) -> Fingerprint:
    return Fingerprint.of(
        {
            "data": dict(sorted(data.items())),
            "config": config_sha256(config),
            "schema": schema_sha256,
            "code": dict(sorted(code.items())),
            "packages": dict(sorted(packages.items())),
        }
    )


def differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """What differs between two fingerprints' parts, in words (empty: nothing)."""
    a, b = a or {}, b or {}
    out = []
    for key in ("data", "config", "schema", "code", "packages"):
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            names = sorted(n for n in set(x) | set(y) if x.get(n) != y.get(n))
            out.append(f"{key}: {', '.join(names)}")
        else:
            out.append(key)
    return out


@dataclass(frozen=True)
class CacheDecision:
    reuse: bool
    reason: str
    # The fingerprints matched but the baseline's model failed its checks: trained
    # instead, and the log says so as a warning.
    warning: bool = False


def decide(
    candidate: Fingerprint, baseline: Manifest | None, enabled: bool = True
) -> CacheDecision:
    """Reuse the baseline's model when, and only when, it was made of exactly
    what this build is made of. Pure."""
    if not enabled:
        return CacheDecision(False, "the build cache is off (--no-cache)")
    if baseline is None:
        return CacheDecision(False, "no baseline")
    recorded = baseline.fingerprint
    if recorded is None:
        return CacheDecision(False, "the baseline records no fingerprint")
    if recorded.sha256 != candidate.sha256:
        changed = differences(recorded.parts, candidate.parts)
        return CacheDecision(False, "changed: " + ("; ".join(changed) or "fingerprint"))
    if recorded.parts != candidate.parts:  # a digest that lies about its parts
        return CacheDecision(False, "the baseline's fingerprint does not match its parts")
    return CacheDecision(True, "same data, config, schema, code and packages as the baseline")
