"""One number format for everything the report prints.

A number that has an interval is printed to the decimals its interval's width
supports (two significant digits of the width: a Δ with interval
[−0.0069, +0.0136] reads −0.003 [−0.007, +0.014], and the metric's values beside
it 0.976 → 0.973), so no value claims more precision than its uncertainty. The
decimals are a function of the record that holds the interval (`places`), so
the same value gets the same text wherever it is shown: headline, table,
forest plot, history. A number without an interval (sizes, times, ratios,
tolerances) gets `general`: a few significant digits. Never an exponent; an
exact zero (identical predictions) is "0", a value that only rounds to zero
keeps its decimals ("+0.000").

Pure functions; the templates reach them through the filters of the same names.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeGuard

if TYPE_CHECKING:
    from ci_ml.records import Comparison, Evaluation, MetricRow, PairedEstimate

MINUS = "−"  # U+2212: the same width as "+", and what a reader sees as minus
MAX_DECIMALS = 6  # below a millionth, a metric's interval says nothing a reader uses
DEFAULT_DECIMALS = 4  # a value that has no interval at all
SMALLEST = 1e-12  # `general` shows anything smaller as "< 0.000000000001"


def finite(v: object) -> TypeGuard[float]:
    """A real number (not None, NaN, infinite or a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def decimals(width: object) -> int | None:
    """The decimals that show an interval of `width` to two significant digits
    (0.0205 → 3, 0.3 → 2, 5 → 1, 50 → 0), at most MAX_DECIMALS; None when there
    is no width to go by (undefined, or zero: an exact interval)."""
    if not finite(width) or float(width) <= 0:
        return None
    d = 1 - math.floor(math.log10(float(width)))
    return max(0, min(MAX_DECIMALS, d))


def width(low: object, high: object) -> float | None:
    if not (finite(low) and finite(high)):
        return None
    return abs(float(high) - float(low))


def places(*intervals: tuple[object, object]) -> int:
    """Decimals from the first of `intervals` ((low, high) pairs, the narrowest
    first: a paired Δ's, then the value's own) that has a width; DEFAULT_DECIMALS
    when none has."""
    for low, high in intervals:
        d = decimals(width(low, high))
        if d is not None:
            return d
    return DEFAULT_DECIMALS


def _positional(a: float, d: int) -> str:
    return f"{a:,.{d}f}" if a >= 10_000 else f"{a:.{d}f}"


def fixed(v: object, d: int) -> str:
    """A value to `d` decimals: 0.976, 54.3, −0.5; exact zero is "0"; "—" undefined."""
    if not finite(v):
        return "—"
    x = float(v)
    if x == 0:
        return "0"
    text = _positional(abs(x), d)
    return (MINUS if x < 0 else "") + text


def signed(v: object, d: int) -> str:
    """A change to `d` decimals, always with its sign (+0.003, −0.012); exact zero is "0"."""
    if not finite(v):
        return "—"
    x = float(v)
    if x == 0:
        return "0"
    return ("+" if x > 0 else MINUS) + _positional(abs(x), d)


def interval(low: object, high: object, d: int) -> str:
    """[−0.007, +0.014]; [0, 0] for an exact interval; "—" when undefined."""
    if not (finite(low) and finite(high)):
        return "—"
    return f"[{signed(low, d)}, {signed(high, d)}]"


def general(v: object, digits: int = 3) -> str:
    """A number without an interval: `digits` significant digits, positional, the
    whole integer part kept (311, 2.5, 0.0045, 0.00000005); never an exponent."""
    if not finite(v):
        return "—"
    x = float(v)
    if x == 0:
        return "0"
    a = abs(x)
    sign = MINUS if x < 0 else ""
    if a < SMALLEST:
        return f"{sign}< {_positional(SMALLEST, 12)}"
    d = max(0, digits - 1 - math.floor(math.log10(a)))
    text = _positional(a, d)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return sign + text


def times(ratio: object) -> str:
    """A ratio to a baseline: 66×, 1.1×, 0.0045× (two significant digits)."""
    return "—" if not finite(ratio) else f"{general(ratio, 2)}×"


# --- the decimals of a record's numbers ------------------------------------------


def row_places(r: MetricRow) -> int:
    """A compared metric: its paired Δ's interval, else the candidate's own."""
    return places((r.ci_low, r.ci_high), (r.candidate.ci_low, r.candidate.ci_high))


def estimate_places(m: PairedEstimate) -> int:
    """A slice's or calibration metric's numbers: the Δ's interval, else the value's."""
    return places((m.delta_ci_low, m.delta_ci_high), (m.ci_low, m.ci_high))


def metric_places(comparison: Comparison | None, metrics: Evaluation | None) -> dict[str, int]:
    """{metric: decimals} for every metric of the build: from the comparison's row
    when there is one, else from the metric's own interval. One dict for the
    whole report and the model card, so a metric reads the same everywhere."""
    out = {
        name: places((m.ci_low, m.ci_high))
        for name, m in (metrics.metrics.items() if metrics else [])
    }
    for r in comparison.metrics if comparison else []:
        out[r.metric] = row_places(r)
    return out
