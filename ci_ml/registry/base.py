"""What a model release is, and what every registry can do with releases.

A registry holds releases tagged `<prefix><N>`, each a set of artifact files and
notes (the model card, then the registry log), one of them marked latest. The
decisions (which tag, which release a build compares with, what a rollback does)
are pure functions in `ci_ml.registry.audit`; a registry only stores and moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Checks a fetched folder before it is used (its signature); raises to refuse it.
Check = Callable[[Path], None]


@dataclass(frozen=True)
class Release:
    """One release as any registry lists it."""

    tag: str
    key: int  # unique and increasing: GitHub's release id, the folder registry's sequence
    created_at: str  # ISO-8601 UTC: such strings sort chronologically
    commit: str | None = None
    published_at: str | None = None  # None for a draft
    draft: bool = False
    prerelease: bool = False
    notes: str = ""
    url: str | None = None
    assets: tuple[str, ...] = ()  # the names of its files


@dataclass(frozen=True)
class Listing:
    """Every release of a registry (drafts included where the token may see them),
    and the key of the one it marks latest."""

    releases: tuple[Release, ...]
    latest: int | None = None

    def by_tag(self, tag: str) -> Release | None:
        """The release with this tag; of several drafts with one tag (GitHub allows
        it) the oldest is the canonical one."""
        same = [r for r in self.releases if r.tag == tag]
        return min(same, key=lambda r: r.key) if same else None


@dataclass(frozen=True)
class Fetched:
    """A release downloaded and verified into `directory`."""

    tag: str
    url: str | None
    directory: Path


@dataclass(frozen=True)
class ReleaseFile:
    """One release's copy of a file: its bytes, or why there are none."""

    tag: str
    published_at: str | None
    url: str | None
    data: bytes | None
    problem: str | None = None


@dataclass(frozen=True)
class Upload:
    """What `publish` makes release `tag` hold."""

    tag: str
    commit: str
    title: str
    files: tuple[Path, ...]
    # The notes, given the names of the files that differed and were sent (for the log line).
    notes: Callable[[Sequence[str]], str]
    # True or False: mark it latest or not; None: leave "latest" where it is.
    make_latest: bool | None = True
    # A prerelease is never latest, and builds compare with it only when asked to.
    prerelease: bool = False


@dataclass(frozen=True)
class Published:
    tag: str
    url: str
    created: bool  # a new release (False: an existing one reused)
    sent: tuple[str, ...]  # the files uploaded this time (unchanged ones are not)
    assets: tuple[str, ...]  # every file the release holds now


class Registry(Protocol):
    """Where model releases live: GitHub Releases (`ci_ml.github.registry`) or a
    folder (`ci_ml.registry.folder`)."""

    @property
    def where(self) -> str:
        """What messages call the registry: `owner/name`, or the folder."""
        ...

    def lock(self) -> AbstractContextManager[None]:
        """Hold the registry for one writer while a use-case reads, decides and
        writes, so two publishes never pick the same new tag. GitHub has no such
        lock (workflows use a `concurrency` group); a folder's is a file lock."""
        ...

    def listing(self) -> Listing:
        """Every release, and which is marked latest."""
        ...

    def find(self, tag: str) -> Release | None:
        """The release with this tag, drafts included."""
        ...

    def marked_latest(self) -> Release | None:
        """The release marked latest (None: none is)."""
        ...

    def latest(
        self,
        prefix: str,
        *,
        include_prereleases: bool = False,
        exclude_commit: str | None = None,
        listing: Listing | None = None,
    ) -> Release | None:
        """The model release a build compares with (`audit.pick_baseline`)."""
        ...

    def fetch(
        self, release: Release, into: Path, check: Check | None = None, kind: str = "baseline"
    ) -> Fetched:
        """Download `release` into `into`, verified against its SHA256SUMS and by
        `check`, with its origin in `release.json`. `into` is replaced only when the
        new copy is complete and verified, and only if ci-ml made it."""
        ...

    def publish(self, upload: Upload) -> Published:
        """Create or reuse release `upload.tag` and make its files exactly
        `upload.files`, sending only what differs; nobody ever sees it half-made."""
        ...

    def promote(self, release: Release, notes: str) -> Release:
        """Mark `release` latest, with new notes (its log line); a prerelease
        becomes a full release first (a prerelease is never latest)."""
        ...

    def rollback(
        self, source: Release, source_notes: str, target: Release, target_notes: str
    ) -> None:
        """Make `target` latest (with its notes) first, then give `source` its notes:
        if the second write fails, a re-run does it again; nothing is half-promoted."""
        ...

    def history(
        self,
        releases: Sequence[Release],
        name: str,
        max_bytes: int,
        have: Mapping[str, bytes] | None = None,
    ) -> list[ReleaseFile]:
        """The file `name` of each release, read once; `have` holds copies already
        on disk, by tag. A release without it, or with one over `max_bytes`, gets a
        problem instead."""
        ...
