"""A model registry in a folder: for teams without GitHub (air-gapped) and for tests.

    <folder>/
      registry.json       what the folder is, and which release is marked latest
      .lock               held by every write (shared by every read)
      releases/<tag>/     one release (its tag percent-encoded)
        record.json       tag, sequence number, commit, dates, prerelease, notes,
                          and which files-<n> folder holds its files now
        files-<n>/        its files; a re-publish writes files-<n+1>, then switches

Nobody ever sees half a release: the files land in a new folder, are checked
against the sources' sha256, and only then become visible, by one rename (a new
release) or one atomic rewrite of record.json (a re-publish). A write waits for
the lock, so two publishes never race. The decisions (tags, latest, rollback,
the log in the notes) are the ones GitHub's registry makes (ci_ml.registry.audit).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from ci_ml.artifact import read_json, sha256_file, write_json
from ci_ml.errors import UsageError
from ci_ml.registry.audit import pick_baseline, published_order
from ci_ml.registry.base import (
    Check,
    Fetched,
    Listing,
    Published,
    Release,
    ReleaseFile,
    Upload,
)
from ci_ml.registry.fetching import land

STAMP = "registry.json"
LOCK = ".lock"
RELEASES = "releases"
RECORD = "record.json"
FORMAT = 1
LOCK_WAIT = 600.0  # seconds a write waits for another one to finish
# What git refuses in a tag name (git check-ref-format), so a tag is a safe folder name.
_BAD_TAG = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^[.\-/]|/$|\.lock$|\.$|//|/\.")


class _Stamp(BaseModel):
    model_config = ConfigDict(extra="ignore")
    made_by: str
    kind: str
    format: int
    latest: int | None = None


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tag: str
    key: int
    commit: str | None = None
    title: str = ""
    created_at: str
    published_at: str
    prerelease: bool = False
    notes: str = ""
    files: str  # the files-<n> folder that holds the release's files now


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_tag(tag: str) -> None:
    """A tag git would accept, so it is also a safe folder name once encoded."""
    if not tag or _BAD_TAG.search(tag):
        raise UsageError(
            f"{tag[:80]!r} is not a valid release tag",
            hint="use letters, digits, '.', '-', '_', '+' or '/', as git tags allow",
        )


def _copy(src: Path, dest: Path) -> None:
    """Copy one file and flush it to disk before anything points at it."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())


class FolderRegistry:
    """Releases kept in `root`; made on the first publish (a new or empty folder)."""

    def __init__(self, root: Path, lock_wait: float = LOCK_WAIT) -> None:
        self.root = Path(root)
        self.lock_wait = lock_wait
        # One file lock per process can be held: threads take turns, and a write
        # inside `lock()` reuses the lock its thread holds.
        self._mutex = threading.RLock()
        self._depth = 0

    @property
    def where(self) -> str:
        return str(self.root)

    # --- the folder, its stamp and its lock ------------------------------------------

    def _stamp(self) -> _Stamp | None:
        """The folder's stamp; None if there is no folder (no release yet). A folder
        that is neither empty nor a registry is refused: it is someone else's."""
        path = self.root / STAMP
        if not path.is_file():
            # Only the lock and a stamp being written (another publish making the
            # registry right now) may be in a folder that is not a registry yet.
            making = (LOCK, f".{STAMP}.")
            if self.root.is_dir() and any(
                not p.name.startswith(making) for p in self.root.iterdir()
            ):
                raise UsageError(
                    f"{self.root} is not a ci-ml model registry (it has no {STAMP})",
                    hint="point release.registry.path at a new or empty folder, or at a registry",
                )
            if self.root.exists() and not self.root.is_dir():
                raise UsageError(f"the model registry {self.root} is a file, not a folder")
            return None
        try:
            stamp = _Stamp.model_validate(read_json(path))
        except (OSError, ValueError, ValidationError) as e:
            raise UsageError(f"{path} is damaged: {str(e)[:200]}") from None
        if stamp.made_by != "ci-ml" or stamp.kind != "model-registry":
            raise UsageError(f"{self.root} is not a ci-ml model registry ({STAMP} says otherwise)")
        if stamp.format > FORMAT:
            raise UsageError(
                f"the model registry {self.root} was made by a newer ci-ml (format {stamp.format})",
                hint="upgrade ci-ml",
            )
        return stamp

    def _write_stamp(self, latest: int | None) -> None:
        stamp = _Stamp(made_by="ci-ml", kind="model-registry", format=FORMAT, latest=latest)
        write_json(self.root / STAMP, stamp.model_dump())

    def _wait(self, fd: int, how: int, what: str) -> None:
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                fcntl.flock(fd, how | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UsageError(
                        f"another ci-ml command has been {what} the model registry "
                        f"{self.root} for {self.lock_wait:g} s",
                        hint="wait for it to finish (a publish, promote or rollback), then re-run",
                    ) from None
                time.sleep(0.05)

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Hold the registry for one writer while a use-case reads, decides and
        writes (two publishes must not both pick `<prefix><N+1>`)."""
        return self._writing()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """The registry, made if need be, locked for one writer; re-entrant within
        the thread that holds it (a publish inside `lock()`)."""
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._stamp()  # refuse someone else's folder before creating anything
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise UsageError(
                    f"cannot write to the model registry {self.root}: {e.strerror or e}",
                    hint="give the job write access to release.registry.path",
                ) from None
            try:
                self._wait(fd, fcntl.LOCK_EX, "writing to")
                if self._stamp() is None:
                    self._write_stamp(None)
                (self.root / RELEASES).mkdir(exist_ok=True)
                self._tidy()
                self._depth = 1
                yield
            finally:
                self._depth = 0
                os.close(fd)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Readers share the lock, so a re-publish never removes files being copied
        (inside this thread's own write lock they need no other). A registry on
        read-only storage is read without it."""
        with self._mutex:
            if self._depth:
                yield
                return
            try:
                fd = os.open(self.root / LOCK, os.O_RDONLY)
            except OSError:
                yield
                return
            try:
                self._wait(fd, fcntl.LOCK_SH, "writing to")
                yield
            finally:
                os.close(fd)

    def _tidy(self) -> None:
        """Remove what an interrupted write left: staging folders and files-<n>
        folders no record points at (only under the write lock)."""
        base = self.root / RELEASES
        for d in base.iterdir():
            if d.name.startswith(".") or not (d / RECORD).is_file():
                shutil.rmtree(d, ignore_errors=True)  # never made visible: not a release
                continue
            current = self._record(d).files
            for sub in d.iterdir():
                if sub.is_dir() and sub.name != current:
                    shutil.rmtree(sub, ignore_errors=True)

    # --- records -------------------------------------------------------------------

    def _dir(self, tag: str) -> Path:
        return self.root / RELEASES / quote(tag, safe="")

    def _record(self, d: Path) -> _Record:
        try:
            record = _Record.model_validate(read_json(d / RECORD))
        except (OSError, ValueError, ValidationError) as e:
            raise UsageError(
                f"the model registry's {d / RECORD} is damaged: {str(e)[:200]}",
                hint="restore it from a backup, or remove that release's folder",
            ) from None
        if self._dir(record.tag) != d or not re.fullmatch(r"files-\d{1,9}", record.files):
            raise UsageError(f"the model registry's {d / RECORD} does not match its folder")
        return record

    def _records(self) -> list[tuple[Path, _Record]]:
        base = self.root / RELEASES
        if not base.is_dir():
            return []
        return [
            (d, self._record(d))
            for d in sorted(base.iterdir())
            if d.is_dir() and not d.name.startswith(".") and (d / RECORD).is_file()
        ]

    def _release(self, d: Path, record: _Record) -> Release:
        files = d / record.files
        names = tuple(sorted(p.name for p in files.iterdir())) if files.is_dir() else ()
        return Release(
            tag=record.tag,
            key=record.key,
            created_at=record.created_at,
            commit=record.commit,
            published_at=record.published_at,
            prerelease=record.prerelease,
            notes=record.notes,
            url=d.resolve().as_uri(),
            assets=names,
        )

    def _found(self, tag: str) -> tuple[Path, _Record]:
        d = self._dir(tag)
        if not (d / RECORD).is_file():
            raise UsageError(f"release {tag} is not in the model registry {self.root}")
        return d, self._record(d)

    @staticmethod
    def _latest_key(stamp: _Stamp | None, releases: Sequence[Release]) -> int | None:
        """The release marked latest; unmarked, the newest that is not a prerelease
        (what GitHub does)."""
        usable = [r for r in releases if not r.prerelease]
        if stamp is not None and any(r.key == stamp.latest for r in usable):
            return stamp.latest
        return max(usable, key=published_order).key if usable else None

    # --- reading -------------------------------------------------------------------

    def listing(self) -> Listing:
        stamp = self._stamp()
        with self._reading():
            releases = tuple(self._release(d, rec) for d, rec in self._records())
        return Listing(releases, self._latest_key(stamp, releases))

    def find(self, tag: str) -> Release | None:
        return self.listing().by_tag(tag)

    def marked_latest(self) -> Release | None:
        listing = self.listing()
        return next((r for r in listing.releases if r.key == listing.latest), None)

    def latest(
        self,
        prefix: str,
        *,
        include_prereleases: bool = False,
        exclude_commit: str | None = None,
        listing: Listing | None = None,
    ) -> Release | None:
        listing = listing or self.listing()
        return pick_baseline(
            listing.releases,
            listing.latest,
            prefix,
            include_prereleases=include_prereleases,
            exclude_commit=exclude_commit,
        )

    def fetch(
        self, release: Release, into: Path, check: Check | None = None, kind: str = "baseline"
    ) -> Fetched:
        def fill(tmp: Path) -> None:
            with self._reading():
                d, record = self._found(release.tag)
                for f in sorted((d / record.files).iterdir()):
                    if f.is_symlink() or not f.is_file() or f.name.startswith("."):
                        raise UsageError(
                            f"refusing {f}: a release holds plain files only",
                            hint="the registry folder was changed by hand; publish the model again",
                        )
                    _copy(f, tmp / f.name)

        return land(release, self.where, into, fill, check, kind)

    def history(
        self,
        releases: Sequence[Release],
        name: str,
        max_bytes: int,
        have: Mapping[str, bytes] | None = None,
    ) -> list[ReleaseFile]:
        have = have or {}
        out = []
        with self._reading():
            for r in releases:
                info = (r.tag, r.published_at, r.url)
                d = self._dir(r.tag)
                path = d / self._record(d).files / name if (d / RECORD).is_file() else None
                if r.tag in have:
                    out.append(ReleaseFile(*info, have[r.tag]))
                elif path is None or path.is_symlink() or not path.is_file():
                    out.append(ReleaseFile(*info, None, f"{r.tag} has no {name}"))
                elif (size := path.stat().st_size) > max_bytes:
                    out.append(ReleaseFile(*info, None, f"{r.tag}'s {name} is {size} bytes"))
                else:
                    out.append(ReleaseFile(*info, path.read_bytes()))
        return out

    # --- writing -------------------------------------------------------------------

    def publish(self, upload: Upload) -> Published:
        check_tag(upload.tag)
        files = {p.name: p for p in upload.files}
        if len(files) != len(upload.files):
            raise ValueError("two files share a name; release files are flat")
        digests = {name: sha256_file(p) for name, p in files.items()}
        try:
            with self._writing():
                return self._publish(upload, files, digests)
        except OSError as e:
            raise UsageError(
                f"publishing {upload.tag} to the model registry {self.root} failed: "
                f"{e.strerror or e}",
                hint="check the folder's free space and permissions, then re-run: "
                "the release is as it was before",
            ) from None

    def _publish(
        self, upload: Upload, files: dict[str, Path], digests: dict[str, str]
    ) -> Published:
        d = self._dir(upload.tag)
        current = self._record(d) if (d / RECORD).is_file() else None
        old = d / current.files if current else None
        sent = sorted(
            n
            for n in files
            if not (old and (old / n).is_file() and sha256_file(old / n) == digests[n])
        )
        gone = {p.name for p in old.iterdir()} - set(files) if old and old.is_dir() else set()
        keys = [rec.key for _, rec in self._records()]
        record = _Record(
            tag=upload.tag,
            key=current.key if current else max(keys, default=0) + 1,
            commit=current.commit if current else upload.commit,
            title=upload.title,
            created_at=current.created_at if current else _now(),
            published_at=current.published_at if current else _now(),
            prerelease=upload.prerelease or bool(current and current.prerelease),
            notes=upload.notes(sent),
            files=current.files if current else "files-1",
        )
        if current is not None and (sent or gone):
            record = record.model_copy(update={"files": f"files-{int(current.files[6:]) + 1}"})
        if current is None or sent or gone:
            self._stage(d, record, files, digests, current is None)
        elif record != current:
            write_json(d / RECORD, record.model_dump())
        if current is not None and record.files != current.files:
            shutil.rmtree(d / current.files, ignore_errors=True)
        make_latest = False if record.prerelease else upload.make_latest
        if make_latest:
            self._write_stamp(record.key)
        names = tuple(sorted(files))
        url = d.resolve().as_uri()
        return Published(upload.tag, url, current is None, tuple(sent), names)

    def _stage(
        self,
        d: Path,
        record: _Record,
        files: dict[str, Path],
        digests: dict[str, str],
        new: bool,
    ) -> None:
        """Write the files into a folder nobody reads, check them, then make them
        the release's: a new release by renaming its folder into place, a re-publish
        by switching record.json to the new files-<n>."""
        staging = Path(tempfile.mkdtemp(prefix=".new-", dir=self.root / RELEASES))
        target = staging / record.files
        target.mkdir()
        for name, src in files.items():
            _copy(src, target / name)
            if sha256_file(target / name) != digests[name]:
                raise UsageError(
                    f"{name} changed while it was copied into the model registry",
                    hint="re-run the publish; nothing was changed in the registry",
                )
        if new:
            write_json(staging / RECORD, record.model_dump())
            os.rename(staging, d)
        else:
            os.rename(target, d / record.files)
            shutil.rmtree(staging)
            write_json(d / RECORD, record.model_dump())

    def promote(self, release: Release, notes: str) -> Release:
        with self._writing():
            d, record = self._found(release.tag)
            update = {"notes": notes, "prerelease": False}  # a promoted prerelease: a release
            write_json(d / RECORD, record.model_copy(update=update).model_dump())
            self._write_stamp(record.key)
        return replace(release, notes=notes, prerelease=False)

    def rollback(
        self, source: Release, source_notes: str, target: Release, target_notes: str
    ) -> None:
        with self._writing():
            td, trecord = self._found(target.tag)
            sd, srecord = self._found(source.tag)
            write_json(td / RECORD, trecord.model_copy(update={"notes": target_notes}).model_dump())
            self._write_stamp(trecord.key)
            write_json(sd / RECORD, srecord.model_copy(update={"notes": source_notes}).model_dump())
