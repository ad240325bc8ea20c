"""Folders ci-ml writes into: it only ever clears or replaces a folder it made
itself, recognised by a stamp file, and holds a lock on it for a whole command.

A non-empty folder without the stamp belongs to someone else: ci-ml refuses
it (exit 2) rather than empty it, so `--out .` or `--into ~/notes` can never
destroy the user's files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ci_ml.errors import UsageError

STAMP = ".ci-ml-owned"
LOCK = ".ci-ml-lock"


def _stamp_text(kind: str) -> str:
    return json.dumps({"made_by": "ci-ml", "kind": kind}) + "\n"


def is_ours(path: Path, kind: str | None = None) -> bool:
    """True if `path` is a folder ci-ml made (of this kind, if given)."""
    try:
        stamp = json.loads((path / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("made_by") == "ci-ml"
        and (kind is None or stamp.get("kind") == kind)
    )


def _refuse(path: Path, what: str, flag: str) -> UsageError:
    return UsageError(
        f"{flag} {path} {what}",
        hint=f"point {flag} at a new or empty folder (ci-ml only clears folders it made itself)",
    )


def claim(path: Path, kind: str, flag: str = "--out") -> Path:
    """Make `path` a folder of ci-ml's: create and stamp it if it is new or
    empty; accept it if it already carries our stamp; refuse anything else."""
    if path.exists() and not path.is_dir():
        raise _refuse(path, "is a file, not a folder", flag)
    if path.is_dir():
        if is_ours(path, kind):
            if not os.access(path, os.W_OK):
                raise _refuse(path, "is not writable", flag)
            return path
        if is_ours(path):
            raise _refuse(path, "holds another kind of ci-ml output", flag)
        if any(p.name not in (STAMP, LOCK) for p in path.iterdir()):
            raise _refuse(
                path, "is not empty and was not made by ci-ml: refusing to write into it", flag
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / STAMP).write_text(_stamp_text(kind), encoding="utf-8")
    except OSError as e:
        raise UsageError(
            f"cannot write to {flag} {path}: {e.strerror or e}",
            hint=f"choose a {flag} folder you can write to",
        ) from None
    return path


@contextlib.contextmanager
def locked(path: Path, flag: str = "--out") -> Iterator[None]:
    """Hold an exclusive lock on a claimed folder for the whole command, so two
    runs can never mix their files in one folder."""
    import fcntl

    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(
                f"another ci-ml command is using {flag} {path}",
                hint=f"wait for it to finish, or give this one another {flag}",
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


def overlaps(a: Path, b: Path) -> bool:
    """True if one folder is, or is inside, the other."""
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def fresh_sibling(path: Path) -> Path:
    """A new empty folder next to `path` (same file system, so a rename moves it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))


def check_replaceable(path: Path, kind: str, flag: str) -> None:
    """Refuse, before any work, a `path` that put_in_place would not replace."""
    if not path.exists():
        return
    if not path.is_dir():
        raise _refuse(path, "is a file, not a folder", flag)
    if not is_ours(path, kind) and any(path.iterdir()):
        raise _refuse(path, "is not empty and was not made by ci-ml: refusing to replace it", flag)


def put_in_place(new: Path, path: Path, kind: str, flag: str) -> None:
    """Move the complete folder `new` to `path`. An existing `path` is replaced
    only if ci-ml made it (or it is empty); a user's folder is never removed."""
    (new / STAMP).write_text(_stamp_text(kind), encoding="utf-8")
    check_replaceable(path, kind, flag)
    old = None
    if path.exists():
        old = fresh_sibling(path)
        os.replace(path, old / "previous")
    os.replace(new, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
