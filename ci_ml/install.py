"""ci-ml's own install: the lock it is installed from, and what the manifest says
about it.

The action installs ci-ml's dependencies from `requirements.lock` (exact
versions with hashes, for every Python and runner the action supports) and
keeps the virtual environment in a cache. Before anything is installed it runs
this file with the runner's Python, as a script (`python ci_ml/install.py key
ACTION_PATH`), to name the install: ci-ml's version, the exact Python, the
runner's OS and architecture, and the lock's hash. A cached environment is
reused only when its recorded key is that name. So this module imports
nothing but the standard library, and parses on old Pythons, to say that they
are too old.

Regenerate the lock with `scripts/update-lock.sh` (see docs/development/index.md).
"""

from __future__ import annotations

import ast
import hashlib
import platform
import re
import sys
from pathlib import Path

LOCK = "requirements.lock"
# What the lock is resolved and checked for (scripts/update-lock.sh).
PYTHONS = ((3, 10), (3, 11), (3, 12), (3, 13), (3, 14))
PLATFORMS = {("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64")}
# What `ci-ml comment` imports (and setuptools, which builds ci-ml), each with the
# packages it needs: the fork-comment job installs just these from the lock (about
# 20 MB, seconds) instead of everything a build needs (600-800 MB, minutes).
# tests/e2e/test_light_install.py installs them into a fresh venv and posts a comment.
COMMENT_PACKAGES = (
    "annotated-types",
    "certifi",
    "charset-normalizer",
    "idna",
    "pydantic",
    "pydantic-core",
    "requests",
    "setuptools",
    "typing-extensions",
    "typing-inspection",
    "urllib3",
)
# The optional model libraries, by top-level module, and the extra of ci-ml that
# installs each (pyproject.toml). The lock pins them with everything else; a
# line `# extra NAME: dist dist ...` lists the distributions only that extra
# needs, which the action installs only for a config that names the library.
# `dask` is also the extra of `engine: {kind: dask}` (docs/guide/scale.md).
EXTRAS = {"xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost", "dask": "dask"}
# engine: {kind: dask}, in block or flow style (no other key of the config takes `dask`).
_ENGINE_DASK = re.compile(r"\bkind:\s*[\"']?dask\b")
_EXTRA_LINE = re.compile(r"^# extra ([a-z0-9-]+): (.*)$", re.MULTILINE)
_ESTIMATOR = re.compile(r"^\s*estimator:\s*[\"']?([A-Za-z_][\w.]*)", re.MULTILINE)
_FACTORY = re.compile(r"^\s*factory:\s*[\"']?([^\"'#\s]+)", re.MULTILINE)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def normalize(name: str) -> str:
    """A distribution name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock_text: str) -> dict[str, set[str]]:
    """{name: versions} pinned by a lock (a name has two versions where Pythons differ)."""
    out: dict[str, set[str]] = {}
    for name, version in _PIN.findall(lock_text):
        out.setdefault(normalize(name), set()).add(version)
    return out


def subset(lock_text: str, names: tuple[str, ...]) -> str:
    """The lock's entries (pin, markers, hashes, comments) for these distributions
    only: a lock of its own, installable with --require-hashes."""
    wanted = {normalize(n) for n in names}
    out: list[str] = []
    keep = False
    for line in lock_text.splitlines(keepends=True):
        pin = _PIN.match(line)
        if pin:
            keep = normalize(pin.group(1)) in wanted
        elif not line.startswith((" ", "\t")):
            keep = False  # a comment or blank line between entries
        if keep:
            out.append(line)
    return "".join(out)


def extra_packages(lock_text: str) -> dict[str, set[str]]:
    """{extra: the distributions only it needs}, from the lock's `# extra` lines."""
    return {
        m.group(1): {normalize(n) for n in m.group(2).split()}
        for m in _EXTRA_LINE.finditer(lock_text)
    }


def lock_for(lock_text: str, extras: list[str]) -> str:
    """The part of the lock to install for these extras: every entry but those
    only the other extras need."""
    needs = extra_packages(lock_text)
    unknown = sorted(set(extras) - set(needs))
    if unknown:
        raise ValueError(f"the lock has no extra {', '.join(unknown)}")
    wanted = set().union(*(needs[e] for e in extras)) if extras else set()
    left_out = set().union(*needs.values()) - wanted
    return subset(lock_text, tuple(sorted(set(pins(lock_text)) - left_out)))


def _imports(path: Path) -> set[str]:
    """The top-level modules a Python file imports (parsed, never run)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()  # the build says what is wrong with the file
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.partition(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.partition(".")[0])
    return out


def extras_for(config: Path) -> list[str]:
    """The extras a build with this config needs: the library its
    `model.estimator` names, or those its `model.factory`'s file imports, and
    `dask` for `engine: {kind: dask}`. Read without a YAML parser (nothing is
    installed yet) and without running anything: a line's value, and the
    factory's file parsed with `ast`. A library
    this misses (imported by another of the project's files) stops the build
    with the install command (ci_ml/modeling/libraries.py)."""
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # the build says the config is missing
    modules = {m.group(1).partition(".")[0] for m in _ESTIMATOR.finditer(text)}
    if _ENGINE_DASK.search(text):
        modules.add("dask")
    for m in _FACTORY.finditer(text):
        file_part = m.group(1).rpartition(":")[0]
        if file_part:
            modules |= _imports(config.parent / file_part)
    return sorted({EXTRAS[m] for m in modules if m in EXTRAS})


def lock_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def version_of(action_path: Path) -> str:
    """ci-ml's version from its one source, `__version__` in ci_ml/__init__.py (read,
    not imported: this runs before ci-ml's dependencies are installed)."""
    text = (action_path / "ci_ml" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return m.group(1) if m else "unknown"


def unsupported(version: tuple[int, int], system: str, machine: str) -> str | None:
    """Why the lock cannot serve this Python on this machine (None: it can)."""
    if version not in PYTHONS:
        names = ", ".join(f"{a}.{b}" for a, b in PYTHONS)
        return f"Python {version[0]}.{version[1]} is not one the lock covers ({names})"
    if (system, machine) not in PLATFORMS:
        names = ", ".join(f"{s} {m}" for s, m in sorted(PLATFORMS))
        return f"{system} {machine} is not a platform the lock covers ({names})"
    return None


def install_key(action_path: Path, runner_os: str, runner_arch: str) -> str:
    """The name of an install: equal names, identical packages."""
    return (
        f"ci-ml-install-{runner_os}-{runner_arch}-py{platform.python_version()}"
        f"-v{version_of(action_path)}-lock-{lock_sha256(action_path / LOCK)[:16]}"
    )


def report(lock: Path | None) -> dict[str, object]:
    """The manifest's `environment.install`: was this process installed from the
    lock, and does every installed package the lock pins have a pinned version?"""
    from importlib import metadata

    if lock is None or not lock.is_file():
        return {"locked": False, "lock_sha256": None, "differs": {}}
    differs = {}
    for name, versions in sorted(pins(lock.read_text(encoding="utf-8")).items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # pinned for another Python or platform
        if installed not in versions:
            differs[name] = {"installed": installed, "locked": sorted(versions)}
    return {"locked": not differs, "lock_sha256": lock_sha256(lock), "differs": differs}


def main(argv: list[str]) -> int:
    """`install.py key ACTION_PATH RUNNER_OS RUNNER_ARCH`: print the install's key, or
    say why this Python or machine is not covered (exit 2).
    `install.py comment-lock ACTION_PATH`: print the part of the lock `ci-ml comment` needs.
    `install.py extras CONFIG`: print the extras the config needs (space-separated).
    `install.py lock ACTION_PATH [EXTRA...]`: print the part of the lock a build with
    these extras installs."""
    if len(argv) == 2 and argv[0] == "comment-lock":
        text = (Path(argv[1]) / LOCK).read_text(encoding="utf-8")
        print(subset(text, COMMENT_PACKAGES), end="")
        return 0
    if len(argv) == 2 and argv[0] == "extras":
        print(" ".join(extras_for(Path(argv[1]))))
        return 0
    if len(argv) >= 2 and argv[0] == "lock":
        text = (Path(argv[1]) / LOCK).read_text(encoding="utf-8")
        try:
            print(lock_for(text, argv[2:]), end="")
        except ValueError as e:
            print(f"::error title=ci-ml::{e}", file=sys.stderr)
            return 2
        return 0
    if len(argv) != 4 or argv[0] != "key":
        print(
            "usage: install.py key ACTION_PATH RUNNER_OS RUNNER_ARCH | comment-lock ACTION_PATH"
            " | extras CONFIG | lock ACTION_PATH [EXTRA...]",
            file=sys.stderr,
        )
        return 2
    why = unsupported(sys.version_info[:2], platform.system(), platform.machine())
    if why:
        print(
            f"::error title=ci-ml::{why}: set actions/setup-python's python-version "
            "(and the action's python input) to a covered version, on a covered runner",
            file=sys.stderr,
        )
        return 2
    print(install_key(Path(argv[1]), argv[2], argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
