"""What `ci-ml reproduce`, `diff` and `verify` work on: an artifact folder as it is
(checksums verified), or a release tag fetched from the registry (checksums and
signature verified)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci_ml.artifact import verify_sums
from ci_ml.errors import UsageError
from ci_ml.registry.base import Check, Registry


@dataclass(frozen=True)
class Source:
    directory: Path
    label: str  # what reports call it: the folder, or the tag


def resolve_source(
    source: str, into: Path, open_registry: Callable[[], Registry], check: Check | None = None
) -> Source:
    """A folder, verified; else the release `source` fetched into `into`. The
    registry is opened only for a tag (a folder needs no token)."""
    path = Path(source)
    if path.is_dir():
        verify_sums(path)
        if check is not None:  # a folder goes through the signature policy too
            check(path)
        return Source(path, str(path))
    registry = open_registry()
    release = registry.find(source)
    if release is None:
        raise UsageError(
            f"{source} is neither a folder nor a release tag of {registry.where}",
            hint="`ci-ml registry list` shows the model's releases",
        )
    registry.fetch(release, into, check, kind="release")
    return Source(into, source)
