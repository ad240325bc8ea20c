"""The model's release history for the report, fetched at the edge next to the
baseline: the recorded metrics of the last `release.history` model releases,
each release's `metrics.json` downloaded once (the baseline's is read from the
baseline just fetched), turned into plain data for the compare stage.

Never fails a build: any problem with GitHub leaves the history out, with a notice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from ci_ml.github.actions import Actions
    from ci_ml.github.client import GitHubClient
    from ci_ml.records import History

METRICS_FILE = "metrics.json"


def fetch_history(
    client: GitHubClient,
    releases: list[dict[str, Any]],
    prefix: str,
    limit: int,
    baseline: tuple[str, Path] | None,
    actions: Actions,
) -> History | None:
    """The last `limit` model releases' recorded metrics, oldest first; None when
    there are none or GitHub would not give them (said in a notice)."""
    from ci_ml.errors import GitHubError
    from ci_ml.github.registry import fetch_release_files, model_releases
    from ci_ml.records import MAX_METRICS_BYTES, History

    chosen = model_releases(releases, prefix, limit)
    if not chosen:
        return None
    have = {}
    if baseline is not None and (baseline[1] / METRICS_FILE).is_file():
        have[baseline[0]] = (baseline[1] / METRICS_FILE).read_bytes()
    try:
        files = fetch_release_files(client, chosen, METRICS_FILE, MAX_METRICS_BYTES, have)
    except (GitHubError, OSError) as e:
        actions.notice(
            f"the report leaves out the model's history: could not fetch the releases' "
            f"{METRICS_FILE} ({getattr(e, 'message', e)})"
        )
        return None
    return History(_points(files, actions), limit)


def _points(files: list[Any], actions: Actions) -> list[Any]:
    """Each release that recorded readable metrics; the others are named in a notice."""
    from ci_ml.artifact import loads_strict
    from ci_ml.records import ReleasePoint, recorded_values

    points, skipped = [], []
    for f in files:
        if f.data is None:
            skipped.append(f.problem)
            continue
        try:
            values = recorded_values(loads_strict(f.data.decode("utf-8")))
        except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
            skipped.append(f"{f.tag}'s {METRICS_FILE} is unreadable: {e}")
            continue
        points.append(ReleasePoint(f.tag, f.published_at, f.url, values))
    if skipped:
        actions.notice("the model's history leaves out: " + "; ".join(skipped))
    return points
