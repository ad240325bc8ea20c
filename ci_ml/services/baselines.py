"""The baseline of a build from the registry: the model release it compares with,
fetched and verified into a folder, and the model's release history for the
report (the release list read once for both; each release's metrics.json read
once, the baseline's from the baseline just fetched).

The history never fails a build: any problem leaves it out, said in a notice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ci_ml import outdir
from ci_ml.artifact import loads_strict
from ci_ml.errors import CiMlError
from ci_ml.records import MAX_METRICS_BYTES, History, ReleasePoint, recorded_values
from ci_ml.registry.audit import model_releases
from ci_ml.registry.base import Check, Fetched, Listing, Registry, ReleaseFile

METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class BaselineOrder:
    into: Path
    prefix: str
    # The commit being built: its own release is never its baseline (a re-run on main).
    exclude_commit: str | None = None
    check: Check | None = None  # the signature check
    include_prereleases: bool = False
    history: int = 0  # how many past releases the report's chart shows (0: none)


@dataclass(frozen=True)
class ResolvedBaseline:
    fetched: Fetched | None  # None: the model has no release yet
    history: History | None = None
    notices: tuple[str, ...] = ()  # what the history leaves out, and why


def fetch_baseline(registry: Registry, order: BaselineOrder) -> ResolvedBaseline:
    """The model release a build compares with, fetched into `order.into`, then (if
    asked) the releases before it for the history chart."""
    outdir.check_replaceable(order.into, "baseline", "--into")  # before any download
    listing = registry.listing()
    release = registry.latest(
        order.prefix,
        include_prereleases=order.include_prereleases,
        exclude_commit=order.exclude_commit,
        listing=listing,
    )
    if release is None:
        return ResolvedBaseline(None)
    fetched = registry.fetch(release, order.into, order.check)
    if order.history <= 0:
        return ResolvedBaseline(fetched)
    history, notices = release_history(registry, listing, order.prefix, order.history, fetched)
    return ResolvedBaseline(fetched, history, tuple(notices))


def release_history(
    registry: Registry, listing: Listing, prefix: str, limit: int, baseline: Fetched | None
) -> tuple[History | None, list[str]]:
    """The last `limit` model releases' recorded metrics, oldest first, and notices;
    None when there are none or the registry would not give them."""
    chosen = model_releases(listing.releases, prefix, limit)
    if not chosen:
        return None, []
    have = {}
    if baseline is not None and (baseline.directory / METRICS_FILE).is_file():
        have[baseline.tag] = (baseline.directory / METRICS_FILE).read_bytes()
    try:
        files = registry.history(chosen, METRICS_FILE, MAX_METRICS_BYTES, have)
    except (CiMlError, OSError) as e:
        return None, [
            f"the report leaves out the model's history: could not fetch the releases' "
            f"{METRICS_FILE} ({getattr(e, 'message', e)})"
        ]
    points, skipped = _points(files)
    notices = ["the model's history leaves out: " + "; ".join(skipped)] if skipped else []
    return History(points, limit), notices


def _points(files: list[ReleaseFile]) -> tuple[list[ReleasePoint], list[str]]:
    """Each release that recorded readable metrics, and why the others are left out."""
    points, skipped = [], []
    for f in files:
        if f.data is None:
            skipped.append(f.problem or f"{f.tag} has no {METRICS_FILE}")
            continue
        try:
            values = recorded_values(loads_strict(f.data.decode("utf-8")))
        except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
            skipped.append(f"{f.tag}'s {METRICS_FILE} is unreadable: {e}")
            continue
        # A value the release did not record: NaN in memory, null on disk (records.Num).
        recorded = {k: math.nan if v is None else v for k, v in values.items()}
        points.append(ReleasePoint(f.tag, f.published_at, f.url, recorded))
    return points, skipped
