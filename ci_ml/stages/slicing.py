"""Slices of the holdout rows, as `model_tests.slices` declares them: one per
value of a column, one per bin of a numeric column ([low, high), bins closed
on the left), and one per combination of two columns that occurs in the rows.
Missing values, and values outside every bin, form slices of their own, so
every row is in exactly one slice of each column or crossing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.config import SliceConfig


@dataclass
class Slice:
    name: str  # plan=basic · age ∈ [0, 30) · plan=basic & region=north
    by: str  # the column or crossing it belongs to: plan · age · plan × region
    rows: np.ndarray  # positions of its rows in the holdout


def _edge(e: float) -> str:
    if math.isinf(e):
        return "∞" if e > 0 else "−∞"
    return f"{e:g}"


def _value(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return f"{v:g}"
    text = str(v)
    return text if text else '""'


def codes(frame: pd.DataFrame, column: str, spec: Any) -> tuple[np.ndarray, list[str]]:
    """Each row's slice code within one column (0..m-1) and the m slice names."""
    import numpy as np
    import pandas as pd

    values = frame[column]
    if isinstance(spec, list):
        if not (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)):
            raise ConfigError(
                f"model_tests.slices.columns.{column}: bins need a numeric column, and "
                f"{column!r} holds {values.dtype}",
                hint=f"slice it by its values: `{column}: values`",
            )
        edges = np.asarray(spec, dtype=np.float64)
        x = values.to_numpy(dtype=np.float64)
        code = np.searchsorted(edges, x, side="right") - 1
        names = [
            f"{column} ∈ [{_edge(a)}, {_edge(b)})" for a, b in zip(edges, edges[1:], strict=False)
        ]
        bins = len(names)
        outside = (code < 0) | (code >= bins)
        code = np.where(outside, bins, code)
        names.append(f"{column} outside [{_edge(edges[0])}, {_edge(edges[-1])})")
        code = np.where(np.isnan(x), bins + 1, code)
        names.append(f"{column} missing")
        return code.astype(np.int64), names
    code, uniques = pd.factorize(values, sort=True)
    names = [f"{column}={_value(v)}" for v in uniques]
    code = np.where(code < 0, len(names), code)
    names.append(f"{column} missing")
    return code.astype(np.int64), names


def _check_column(frame: pd.DataFrame, column: str, key: str) -> None:
    if column not in frame.columns:
        raise ConfigError(
            f"model_tests.slices.{key}: the holdout has no column {column!r}",
            hint="slice by a feature or the target; columns in data.drop are gone by now. "
            f"Columns: {', '.join(map(str, list(frame.columns)[:30]))}",
        )


def _groups(code: np.ndarray, m: int) -> list[np.ndarray]:
    """Row positions of each code 0..m-1, in one stable sort."""
    import numpy as np

    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(m + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(m)]


def slices(frame: pd.DataFrame, cfg: SliceConfig) -> list[Slice]:
    """Every slice the config declares, column by column, then crossing by crossing.
    A bin with no rows is kept (reported, never gated); an absent value, missing
    values or an unused 'outside' slot is not."""
    out: list[Slice] = []
    for column, spec in cfg.columns.items():
        _check_column(frame, column, f"columns.{column}")
        code, names = codes(frame, column, spec)
        groups = _groups(code, len(names))
        binned = isinstance(spec, list)
        kept = [
            Slice(names[i], column, g)
            for i, g in enumerate(groups)
            if g.size or (binned and i < len(names) - 2)
        ]
        _limit(kept, column, cfg.max_slices)
        out += kept
    for a, b in cfg.crossings:
        _check_column(frame, a, "crossings")
        _check_column(frame, b, "crossings")
        out += _crossing(frame, a, b, cfg)
    return out


def _crossing(frame: pd.DataFrame, a: str, b: str, cfg: SliceConfig) -> list[Slice]:
    import numpy as np

    ca, na = codes(frame, a, cfg.columns.get(a, "values"))
    cb, nb = codes(frame, b, cfg.columns.get(b, "values"))
    combined = ca * len(nb) + cb
    present, code = np.unique(combined, return_inverse=True)
    by = f"{a} × {b}"
    _limit(present, by, cfg.max_slices)
    return [
        Slice(f"{na[p // len(nb)]} & {nb[p % len(nb)]}", by, g)
        for p, g in zip(present, _groups(code.ravel(), present.size), strict=True)
    ]


def _limit(found: Any, by: str, limit: int) -> None:
    if len(found) > limit:
        raise ConfigError(
            f"model_tests.slices: {by} makes {len(found):,} slices, more than max_slices "
            f"({limit}): a slice per id or per exact number says little",
            hint="slice a numeric column by bins, e.g. `age: [0, 30, 60, .inf]`, or raise "
            "model_tests.slices.max_slices",
        )
