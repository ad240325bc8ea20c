"""The reference profile: each column's distribution in the training rows, small
whatever the rows (bins and counts, never rows), so that new data can be binned
into the same bins and compared without the training data.

What may be stored follows the personal-data rules: a column the safeguards
flag as personal data (`masked`) and a text column of mostly distinct values
(`text`: free text or an identifier) keep no value at all, only their missing
rate; so does a column listed in `safeguards.allow_personal_data` (which lets a
build go on, not raw values into a published file); and a category's value that
holds personal data is never among the stored categories (it is counted in "other").
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ci_ml.checks.personal_data import holds_personal_data
from ci_ml.data import is_text
from ci_ml.records import ColumnProfile

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.config import PersonalDataCheck

BINS = 20  # a numeric histogram's bins: the training data's 5 % quantiles as edges
TOP_K = 50  # categories kept per column (the one-hot encoder's cap, MAX_CATEGORIES)
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
# A text column with more distinct values than this share of its rows (and more
# than TOP_K) is free text or an identifier: none of its values is stored.
MOSTLY_DISTINCT = 0.5


def numbers(s: pd.Series) -> tuple[np.ndarray, int]:
    """A column as float64 (NaN: missing), and how many present values are no
    number at all (counted as missing). Booleans are 0 and 1, also written as text."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(s):
        return s.astype(np.float64).to_numpy(), 0
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan), 0
    text = s.astype(object)
    words = {"true": 1.0, "false": 0.0}
    lowered = text.where(text.isna(), text.astype(str).str.strip().str.lower())
    as_bool = lowered.map(words)
    parsed = pd.to_numeric(lowered.where(as_bool.isna()), errors="coerce")
    out = as_bool.fillna(parsed).to_numpy(dtype=np.float64, na_value=np.nan)
    return out, int((s.notna().to_numpy() & np.isnan(out)).sum())


def category_texts(s: pd.Series) -> pd.Series:
    """A category column's present values as the text they are compared by."""
    return s.dropna().astype(str)


def bin_edges(present: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The interior edges: the distinct `bins`-quantiles of the finite values, each a
    value of the column (the inverted CDF: the smallest value with at least k / bins
    of the values at or below it), so a bin's count is exactly the number of values
    up to its edge, which the test on the bins relies on; a column of few distinct
    values gets fewer bins (one per value at most)."""
    import numpy as np

    ordered = np.sort(present[np.isfinite(present)])
    return _edges_of_sorted(ordered, bins)


def _edges_of_sorted(ordered: np.ndarray, bins: int) -> np.ndarray:
    import numpy as np

    n = ordered.size
    if n == 0:
        return np.zeros(0)
    k = np.arange(1, bins)
    return np.unique(ordered[(n * k + bins - 1) // bins - 1])  # ceil(n k / bins), 1-based


def _quantiles_of_sorted(ordered: np.ndarray) -> list[float]:
    """np.quantile's linear quantiles of a sorted array, read off it (no partition)."""
    import numpy as np

    h = (ordered.size - 1) * np.asarray(QUANTILES)
    lo = np.floor(h).astype(np.intp)
    hi = np.minimum(lo + 1, ordered.size - 1)
    return [float(v) for v in ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])]


def bin_counts(edges: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Counts of the present values in the bins (-inf, e0], (e0, e1], …, (e_last, inf)."""
    import numpy as np

    return np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)


def numeric(name: str, values: np.ndarray, dtype: str, bins: int = BINS) -> ColumnProfile:
    """A number's profile: its bins (edges at its quantiles) and counts, quantiles,
    mean, spread and range; one sort, everything read from it."""
    import numpy as np

    ordered = np.sort(values)  # NaN sort last
    present = ordered[: int(np.count_nonzero(~np.isnan(values)))]
    finite = present[np.isfinite(present)]
    edges = _edges_of_sorted(finite, bins)
    at_or_below = np.searchsorted(present, edges, "right")
    below = np.searchsorted(present, edges, "left")
    counts = np.diff(np.concatenate([[0], at_or_below, [present.size]]))
    profile = ColumnProfile(
        name=name,
        kind="numeric",
        dtype=dtype,
        rows=int(values.size),
        missing=int(values.size - present.size),
        edges=[float(e) for e in edges],
        counts=[int(c) for c in counts],
        # every edge a value the column holds once (continuous data): the bins are its
        # quantiles; with ties (few distinct values) each bin is a set of values
        binning="quantiles" if edges.size and bool((at_or_below - below == 1).all()) else "values",
    )
    if finite.size:
        q = _quantiles_of_sorted(finite)
        profile.quantiles = {f"p{round(p * 100):02d}": v for p, v in zip(QUANTILES, q, strict=True)}
        profile.mean = float(finite.mean())
        profile.std = float(finite.std(ddof=1)) if finite.size > 1 else 0.0
        profile.min, profile.max = float(finite[0]), float(finite[-1])
    return profile


def categorical(
    name: str,
    s: pd.Series,
    top_k: int = TOP_K,
    personal: PersonalDataCheck | None = None,
    everything: bool = False,
) -> ColumnProfile:
    """The `top_k` most frequent values' counts (ties broken by value), the rest in
    `other`; with `personal`, a value holding personal data is never stored.
    `everything`: keep every value (class labels)."""
    texts = category_texts(s)
    counts = texts.value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = ranked if everything else ranked[:top_k]
    kept = [(v, c) for v, c in top if personal is None or not holds_personal_data(v, personal)]
    stored = {str(v): int(c) for v, c in kept}
    return ColumnProfile(
        name=name,
        kind="categorical",
        dtype=str(s.dtype),
        rows=int(s.size),
        missing=int(s.size - texts.size),
        categories=stored,
        other=int(texts.size - sum(stored.values())),
        distinct=int(counts.size),
        withheld=len(top) - len(kept),
    )


def without_values(name: str, s: pd.Series, kind: str, reason: str) -> ColumnProfile:
    missing = int(s.isna().sum())
    return ColumnProfile(
        name=name,
        kind="masked" if kind == "masked" else "text",
        dtype=str(s.dtype),
        rows=int(s.size),
        missing=missing,
        reason=reason,
    )


def mostly_distinct(s: pd.Series) -> bool:
    texts = category_texts(s)
    distinct = texts.nunique()
    return bool(distinct > TOP_K and distinct > MOSTLY_DISTINCT * len(texts))


def column(
    name: str,
    s: pd.Series,
    masked: Collection[str] = (),
    personal: PersonalDataCheck | None = None,
) -> ColumnProfile:
    """A feature's profile, its kind decided from its values and the safeguards'
    verdict (`masked`: columns flagged as personal data)."""
    if name in masked:
        return without_values(
            name, s, "masked", "the safeguards flag it as personal data: no value is stored"
        )
    if not is_text(s):
        values, _ = numbers(s)
        return numeric(name, values, str(s.dtype))
    if mostly_distinct(s):
        return without_values(
            name,
            s,
            "text",
            "free text or an identifier (mostly distinct values): no value is stored",
        )
    return categorical(name, s, personal=personal)


def data_profile(
    frame: pd.DataFrame,
    features: list[str],
    target: str,
    task: str,
    masked: Collection[str] = (),
    personal: PersonalDataCheck | None = None,
) -> tuple[list[ColumnProfile], ColumnProfile]:
    """The features' and the label's profiles from the training rows."""
    cols = [column(c, frame[c], masked, personal) for c in features]
    y = frame[target]
    if task == "classification":
        label = categorical(target, y, everything=True)
    else:
        values, _ = numbers(y)
        label = numeric(target, values, str(y.dtype))
    return cols, label
