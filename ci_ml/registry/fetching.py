"""Landing a fetched release in a folder: every registry downloads into a fresh
folder first, checks it (SHA256SUMS, then the signature), records where it came
from, and only then puts it in place. A half-fetched or unverified release is
never left where a build could use it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from ci_ml import outdir
from ci_ml.artifact import ORIGIN, verify_sums, write_json
from ci_ml.registry.base import Check, Fetched, Release


def land(
    release: Release,
    where: str,
    into: Path,
    fill: Callable[[Path], None],
    check: Check | None = None,
    kind: str = "baseline",
) -> Fetched:
    """`fill` the release's files into a fresh folder next to `into`, verify them,
    write `release.json` (its origin), then replace `into` with it, only if ci-ml
    made `into` (never a user's folder)."""
    outdir.check_replaceable(into, kind, "--into")
    tmp = outdir.fresh_sibling(into)
    try:
        fill(tmp)
        verify_sums(tmp)
        if check is not None:
            check(tmp)
        origin = {
            "tag": release.tag,
            "url": release.url,
            "published_at": release.published_at,
            "repository": where,
        }
        write_json(tmp / ORIGIN, origin)
        outdir.put_in_place(tmp, into, kind, "--into")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Fetched(release.tag, release.url, into)
