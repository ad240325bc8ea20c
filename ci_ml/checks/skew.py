"""Train/holdout skew: is a column (or the label) distributed differently in the
holdout? A finding needs both statistical evidence and a shift large enough to
matter:

- evidence: the column's two-sample test (Kolmogorov–Smirnov for numbers,
  chi-squared for categories; ci_ml.stats.twosample) rejects at `alpha` once
  its p-value is corrected over all the columns tested (Benjamini–Hochberg), so
  that a split of one distribution warns in few builds however many columns;
- size: the distance moved, the KS statistic for numbers or the total variation
  distance for categories, is above its threshold (or, if set, the PSI above
  `max_psi`), so that a large sample does not warn about a shift nobody cares
  about.

A finding says which way the column moved (the means, in training standard
deviations; or the level whose share moved most), the test, the corrected
p-value, the distance with its threshold and the row counts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ci_ml.records import Finding, SkewMeasure
from ci_ml.stats.twosample import Shift, adjusted, categorical_shift, numeric_shifts

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import SkewCheck


def measure(
    numbers_train: pd.DataFrame,
    numbers_test: pd.DataFrame,
    categories_train: pd.DataFrame,
    categories_test: pd.DataFrame,
    check: SkewCheck,
) -> dict[str, SkewMeasure]:
    """Every column's comparison (numbers all at once, then categories, each as
    it came), its p-value corrected over all of them."""
    shifts: dict[str, Shift] = {}
    if len(numbers_train.columns):
        found = numeric_shifts(numbers_train.to_numpy(), numbers_test.to_numpy())
        shifts.update(zip(map(str, numbers_train.columns), found, strict=True))
    for c in categories_train.columns:
        shifts[str(c)] = categorical_shift(
            categories_train[c].to_numpy(), categories_test[c].to_numpy()
        )
    corrected = adjusted([s.p_value for s in shifts.values()])
    return {
        name: _record(s, p, check.max_ks if s.test == "ks" else check.max_share_shift)
        for (name, s), p in zip(shifts.items(), corrected, strict=True)
    }


def _record(s: Shift, p_adjusted: float, threshold: float) -> SkewMeasure:
    import pandas as pd

    level = s.level
    missing = s.test != "ks" and bool(pd.isna(level))  # None, NaN, pd.NA, NaT
    return SkewMeasure(
        test=s.test,
        statistic=s.statistic,
        p_value=s.p_value,
        psi=s.psi,
        p_adjusted=p_adjusted,
        distance=s.distance,
        threshold=threshold,
        rows=list(s.rows),
        before=s.before,
        after=s.after,
        spread=s.spread,
        level=None if missing else str(level),
    )


def beyond(m: SkewMeasure, check: SkewCheck) -> tuple[str, float, float] | None:
    """What makes the column a finding, as (what, value, threshold), or None: the
    corrected test must reject, and the distance (or the PSI) must be too large."""
    if not m.p_adjusted < check.alpha:
        return None
    if m.distance > m.threshold:
        return ("KS statistic" if m.test == "ks" else "share shift", m.distance, m.threshold)
    if check.max_psi is not None and m.psi > check.max_psi:
        return ("PSI", m.psi, check.max_psi)
    return None


def findings(measured: dict[str, SkewMeasure], target: str, check: SkewCheck) -> list[Finding]:
    out = []
    for name, m in measured.items():
        why = beyond(m, check)
        if why is None:
            continue
        what = f"the label ({name})" if name == target else name
        out.append(
            Finding(
                "skew",
                check.severity,
                describe(what, m, why, len(measured)),
                name,
                why[1],
                why[2],
                skew=m,
            )
        )
    return out


def describe(what: str, m: SkewMeasure, why: tuple[str, float, float], columns: int) -> str:
    """One line: which way and how far it moved, then the evidence."""
    test = "KS" if m.test == "ks" else m.test.replace("chi2", "chi-squared")
    n_train, n_test = (m.rows + [0, 0])[:2]
    unit = "values" if m.test == "ks" else "rows"
    return (
        f"{what} moved in the holdout: {direction(m)}; {why[0]} {why[1]:.2f} (threshold "
        f"{why[2]:g}), {test} {p_text(m.p_adjusted)} corrected over {columns} column(s); "
        f"{n_train:,} training and {n_test:,} holdout {unit}"
    )


def direction(m: SkewMeasure) -> str:
    """Numbers: 'mean 48.6 → 64.0 (+15.4, +0.9 SD)'. Categories: '“gold” 12.0 % →
    31.5 % of rows (+19.5 points)'."""
    if m.test == "ks":
        digits = _decimals(m.spread)
        change = m.after - m.before
        text = f"mean {m.before:.{digits}f} → {m.after:.{digits}f} ({change:+.{digits}f}"
        if m.spread > 0:
            text += f", {change / m.spread:+.1f} SD"
        return text + ")"
    level = "missing values" if m.level is None else f"“{m.level}”"
    points = 100 * (m.after - m.before)
    return f"{level} {100 * m.before:.1f} % → {100 * m.after:.1f} % of rows ({points:+.1f} points)"


def _decimals(spread: float) -> int:
    """Decimals that resolve a hundredth of the spread (at most 6)."""
    if not spread > 0 or not math.isfinite(spread):
        return 2
    return min(6, max(0, math.ceil(-math.log10(spread / 100))))


def p_text(p: float) -> str:
    """A p-value in words without an exponent."""
    if p < 0.0001:
        return "p < 0.0001"
    return f"p {p:.2g}" if p < 0.001 else f"p {p:.3f}".rstrip("0").rstrip(".")
