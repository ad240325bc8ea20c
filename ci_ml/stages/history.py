"""The model's history: what its last releases recorded, for the report's chart.

The CLI fetches it from the registry next to the baseline and hands it to the
compare stage as plain data; compare keeps it in `_build/history.json` (a build
intermediate, never published) and the report reads it from there. Any problem
fetching it leaves the history out; it never fails a build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ci_ml.artifact import Num

FILE = "history.json"  # in _build/
MAX_METRICS_BYTES = 1 << 20  # a release's metrics.json is a few KiB


@dataclass
class ReleasePoint:
    """One release: its tag, when it was published, and its recorded metric values."""

    tag: str
    published_at: str | None
    url: str | None
    metrics: dict[str, Num] = field(default_factory=dict)


@dataclass
class History:
    """The last model releases, oldest first (the baseline is the last)."""

    releases: list[ReleasePoint]
    limit: int


def recorded_values(data: Any) -> dict[str, float | None]:
    """{metric: value} from a release's metrics.json; raises ValueError when it is not one."""
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if not isinstance(metrics, dict):
        raise ValueError("it has no 'metrics' mapping")
    out: dict[str, float | None] = {}
    for name, m in metrics.items():
        v = m.get("value") if isinstance(m, dict) else None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            v = None
        out[str(name)[:64]] = None if v is None else float(v)
    return out
