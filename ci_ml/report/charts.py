"""The report's pictures, drawn as text that GitHub shows without hosting an image.

- `forest`: each metric's Δ and its interval on an axis centred on zero, with
  "better" always to the right whatever the metric's direction, one monospace
  strip per metric in a ```diff block (GitHub colours a line starting with "+"
  green and one with "-" red, the only colour a comment can have without an
  image: improved rows are "+", regressed rows "-").
- `history`: the primary metric over the last model releases and the
  candidate, as the lines of a Mermaid xychart.
- `class_recall`: recall per class, the candidate's and the baseline's.

Pure functions of typed results; the templates only place what they return.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.report import numbers

if TYPE_CHECKING:
    from ci_ml.records import Comparison, Evaluation, History, MetricRow

HALF = 20  # cells on each side of zero
# Deltas share an axis only when they share a unit: every classification
# metric but log loss is a proportion; regression's errors are in the target's
# units. Anything else gets an axis of its own.
UNITS = {"log_loss": "log loss", "rmse": "target", "mae": "target", "r2": "R²"}
PREFIX = {"improved": "+", "regressed": "-"}
ICONS = {
    "improved": "🟢",
    "regressed": "🔴",
    "within noise": "🔘",  # ⚪ is near invisible on a white page
    "unreliable": "⚠️",
    "n/a": "·",
    "no baseline": "·",
}
NICE = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def _finite(v: Any) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _round(v: float, digits: int) -> float:
    """v to `digits` significant digits (a chart's coordinates)."""
    return 0.0 if v == 0 else round(v, digits - 1 - math.floor(math.log10(abs(v))))


def nice_ceiling(m: float) -> float:
    """The smallest 'round' number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k) ≥ m > 0."""
    e = math.floor(math.log10(m))
    f = m / 10**e
    step = next(n for n in NICE if n >= f * (1 - 1e-9))
    return step * 10**e


# --- the forest plot ---------------------------------------------------------


@dataclass
class _Row:
    label: str
    delta: float
    # In "improvement" units: positive is better whatever the metric's direction.
    gain: float
    low: float | None
    high: float | None
    verdict: str
    unit: str
    places: int  # the decimals of this metric everywhere in the report


def _rows(metrics: list[MetricRow]) -> list[_Row]:
    out = []
    for r in metrics:
        if not _finite(r.delta):
            continue
        s = 1.0 if r.greater_is_better else -1.0
        low = high = None
        if _finite(r.ci_low) and _finite(r.ci_high):
            low, high = sorted((s * r.ci_low, s * r.ci_high))
        arrow = "↑" if r.greater_is_better else "↓"
        out.append(
            _Row(
                f"{r.label} {arrow}",
                r.delta,
                s * r.delta,
                low,
                high,
                r.verdict,
                UNITS.get(r.metric, "proportion"),
                numbers.row_places(r),
            )
        )
    return out


MAX_CLASS_ROWS = 8  # classes drawn in the forest plot (the Classes table has them all)


def _class_rows(comparison: Comparison) -> list[_Row]:
    """Recall and precision per class, for a model of three classes or more (two
    classes' recalls are what balanced accuracy and the metrics already show)."""
    classes = comparison.per_class or []
    if len(classes) < 3:
        return []
    out = []
    for c in classes[:MAX_CLASS_ROWS]:
        for name, m in (("recall", c.recall), ("precision", c.precision)):
            if m is None or not _finite(m.delta):
                continue
            ends = (m.delta_ci_low, m.delta_ci_high)
            low, high = (
                (float(ends[0]), float(ends[1])) if all(map(_finite, ends)) else (None, None)
            )
            label = f"{name} {mermaid_text(c.label, 16)} ↑"
            out.append(
                _Row(label, float(m.delta), float(m.delta), low, high, m.verdict, "per class",
                     numbers.estimate_places(m))
            )  # fmt: skip
    return out


def cell(x: float, scale: float) -> int:
    """The column of value x, -HALF..HALF. A value that is not zero never lands on
    the zero column, so an interval that excludes zero never seems to touch it."""
    if x == 0:
        return 0
    n = max(1, min(HALF, round(abs(x) / scale * HALF)))
    return n if x > 0 else -n


def strip(gain: float, low: float | None, high: float | None, scale: float) -> str:
    """One metric's strip: ● the Δ, ├─┤ its interval, │ zero (┼ where the interval crosses it)."""
    cells = [" "] * (2 * HALF + 1)
    cells[HALF] = "│"
    if low is not None and high is not None:
        a, b = HALF + cell(low, scale), HALF + cell(high, scale)
        for i in range(a, b + 1):
            cells[i] = "┼" if i == HALF else "─"
        cells[a], cells[b] = ("├", "┤") if a != b else ("│", "│")
    cells[HALF + cell(gain, scale)] = "●"
    return "".join(cells)


def _axis(scale: float | None, pad: int) -> list[str]:
    line = "└" + "─" * (HALF - 1) + "┴" + "─" * (HALF - 1) + "┘"
    if scale is None:
        ticks = " " * HALF + "0"
    else:
        left, right = f"{numbers.general(scale, 2)} worse", f"{numbers.general(scale, 2)} better"
        mid = HALF - len(left)
        ticks = left + " " * max(1, mid) + "0" + " " * max(1, HALF - len(right)) + right
    return [" " * pad + line, " " * pad + ticks]


def forest(comparison: Comparison | None) -> str | None:
    """The text of the forest plot (a ```diff block's body), or None without deltas."""
    if comparison is None:
        return None
    rows = _rows(comparison.metrics) + _class_rows(comparison)
    if not rows:
        return None
    conf = round(comparison.statistics.confidence * 100)
    width = max(len(r.label) for r in rows)
    pad = 2 + width + 2 + 10 + 2
    lines = [
        f"  Δ = candidate − baseline, {conf}% interval: ● Δ  ├─┤ interval  │ no change",
        "  better is always to the right ▶",
        "",
    ]
    units = list(dict.fromkeys(r.unit for r in rows))
    for n, unit in enumerate(units):
        if n:
            lines.append("")
        group = [r for r in rows if r.unit == unit]
        ends = [abs(v) for r in group for v in (r.gain, r.low, r.high) if v is not None]
        scale = nice_ceiling(max(ends)) if max(ends) > 0 else None
        for r in group:
            drawn = strip(r.gain, r.low, r.high, scale or 1.0)
            icon = ICONS.get(r.verdict, "·")
            extra = "" if r.low is not None else " (no interval)"
            lines.append(
                f"{PREFIX.get(r.verdict, ' ')} {r.label:<{width}}  {numbers.signed(r.delta, r.places):>10}  "
                f"{drawn}  {icon} {r.verdict}{extra}"
            )
        lines += _axis(scale, pad)
    return "\n".join(lines)


# --- the history ----------------------------------------------------------------


_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-()/:,² ]")


def mermaid_text(s: str, limit: int = 60) -> str:
    """Text for a quoted Mermaid label: no quotes, brackets, '#' (Mermaid's entity
    codes) or anything else that could end it (tags come from GitHub)."""
    return _UNSAFE.sub("_", s)[:limit]


def _y_range(values: list[float], bounded: bool, span: float = 0.0) -> tuple[float, float]:
    """The axis: every value with a margin, and never narrower than `span` (the
    candidate's own interval), so noise is not drawn as a steep rise or fall."""
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.25 or max(abs(hi) * 0.01, 1e-3)
    lo, hi = lo - pad, hi + pad
    if hi - lo < span:
        grow = (span - (hi - lo)) / 2
        lo, hi = lo - grow, hi + grow
        if bounded and lo < 0.0:
            lo, hi = 0.0, min(1.0, hi - lo)
        if bounded and hi > 1.0:
            lo, hi = max(0.0, lo - (hi - 1.0)), 1.0
    if bounded:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return _round(lo, 3), _round(hi, 3)


def _releases(n: int) -> str:
    return "release" if n == 1 else f"{n} releases"


def history(
    hist: History | None, metrics: Evaluation | None, label: str = "this PR"
) -> dict[str, Any] | None:
    """The primary metric over the last releases, oldest first, then the candidate;
    None when no release recorded it (first model, history unavailable)."""
    if hist is None or metrics is None or metrics.primary not in metrics.metrics:
        return None
    name = metrics.primary
    points = [
        (mermaid_text(r.tag, 30), float(r.metrics[name]))
        for r in hist.releases
        if _finite(r.metrics.get(name))
    ]
    candidate = metrics.metrics[name]
    if not points or not _finite(candidate.value):
        return None
    points.append((label, float(candidate.value)))
    values = [v for _, v in points]
    ends = (candidate.ci_low, candidate.ci_high)
    span = abs(float(ends[1]) - float(ends[0])) if all(map(_finite, ends)) else 0.0
    lo, hi = _y_range(values, UNITS.get(name, "proportion") == "proportion", span)
    direction = "higher" if candidate.greater_is_better else "lower"
    return {
        "metric": name,
        "label": candidate.label,
        "title": mermaid_text(
            f"{candidate.label} over the last {_releases(len(points) - 1)} and {label}"
        ),
        "y_title": mermaid_text(f"{candidate.label} ({direction} is better)"),
        "x": [x for x, _ in points],
        "y": [_round(v, 6) for v in values],
        "y_min": lo,
        "y_max": hi,
        "releases": len(points) - 1,
        "points": [{"tag": x, "value": v} for x, v in points],
        "interval": ends if span else None,  # the candidate's own, drawn by the axis
    }


# --- classes -----------------------------------------------------------------


def bar(v: float, width: int = 10) -> str:
    """A value in 0..1 as a bar of block characters (eighths)."""
    eighths = round(max(0.0, min(1.0, v)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width, "·")


def class_recall(metrics: Evaluation | None, comparison: Comparison | None) -> list[dict]:
    """Recall per class: the candidate's from its confusion matrix, the baseline's
    (re-scored on the same rows) from the comparison when it has one."""
    if metrics is None or not metrics.confusion_matrix:
        return []
    cm = metrics.confusion_matrix
    base = {c.label: c for c in (comparison.per_class if comparison else None) or []}
    out = []
    for i, label in enumerate(cm.labels):
        row = cm.rows_true_cols_pred[i]
        n = sum(row)
        recall = row[i] / n if n else None
        b = base.get(label)
        b_recall = b.baseline if b else None
        out.append(
            {
                "label": label,
                "rows": n,
                "recall": recall,
                "bar": bar(recall) if recall is not None else "",
                "baseline": b_recall,
                "delta": None if recall is None or b_recall is None else recall - b_recall,
                # Paired intervals of the class's recall and precision (comparisons).
                "recall_est": b.recall if b else None,
                "precision_est": b.precision if b else None,
            }
        )
    return out
