"""The templates' filters: one number format, markdown escaping for anything
that comes from the data or the PR, icons and words."""

from __future__ import annotations

import math
import re
from typing import Any

from ci_ml.report import charts, numbers

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md(value: Any) -> str:
    """Escape text for a markdown table cell or line: markdown, HTML and newlines."""
    from markupsafe import escape

    if value is None:
        return "—"
    # HTML first (so no tag or comment can open or close), then markdown syntax.
    s = _MD_SPECIAL.sub(r"\\\1", str(escape(str(value))))
    return re.sub(r"[\r\n]+", " ", s)


def code(value: Any) -> str:
    """Inline code: backslash escapes do not work inside backticks, so drop what could end it."""
    if value is None:
        return "—"
    s = re.sub(r"[`\r\n]+", " ", str(value)).strip()
    return f"`{s}`" if s else "—"


def num(value: Any, d: int | None = None, sig: int = 4) -> str:
    """A value: to `d` decimals when its interval chose them (numbers.places), else
    `sig` significant digits; positional, never an exponent."""
    return numbers.general(value, sig) if d is None else numbers.fixed(value, d)


def signed(value: Any, d: int | None = None) -> str:
    """A change, with its sign: to `d` decimals, else 3 significant digits."""
    if d is not None or not numbers.finite(value):
        return numbers.signed(value, d or 0)
    text = numbers.general(value, 3)
    return text if value == 0 or text.startswith(numbers.MINUS) else f"+{text}"


def sci(value: Any) -> str:
    """A tolerance or a round-off (parity): two significant digits, no exponent."""
    return numbers.general(value, 2)


def ci(low: Any, high: Any, d: int | None = None) -> str:
    """An interval: to `d` decimals, else to the decimals its own width supports."""
    return numbers.interval(low, high, numbers.places((low, high)) if d is None else d)


def pct(value: Any) -> str:
    """A share as a percentage: '0%', '1.25%', '—' when undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    v = 100 * float(value)
    return "0%" if v == 0 else f"{v:.3g}%"


def rows(n: Any) -> str:
    """'1 row', '1,234 rows'."""
    return f"{int(n):,} row{'' if int(n) == 1 else 's'}"


def p_equals(p: Any) -> str:
    """'p = 0.042', 'p < 0.001' (never 'p = < 0.001')."""
    text = pvalue(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def pvalue(p: Any) -> str:
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


VERDICT_ICON = charts.ICONS


GATE_ICON = {"pass": "✅", "fail": "❌", "skipped": "⏭️", "not evaluated": "⚠️"}


HEADLINE = {
    "pass": ("✅", "passes its gates"),
    "fail": ("❌", "fails its gates"),
    "tests-failed": ("❌", "fails its model tests"),
    "no-baseline": ("🆕", "first model, no baseline to compare with"),
    "incomplete": ("⚠️", "could not be compared with its baseline: relative gates not evaluated"),
    "invalid-data": ("🚫", "data broke the schema"),
    "unsafe-data": ("🚫", "a data safeguard stopped the build"),
    "failed": ("💥", "the build failed before the comparison"),
    "unchanged": ("♻️", "model unchanged: training skipped"),
}


def arrow(delta: Any) -> str:
    if delta is None or (isinstance(delta, float) and math.isnan(delta)) or delta == 0:
        return ""
    return "↑" if delta > 0 else "↓"


def seconds(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min"


def size(n: Any) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""
