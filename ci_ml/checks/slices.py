"""Slices of the holdout rows, as `model_tests.slices` declares them: one per
value of a column, one per bin of a numeric column ([low, high), bins closed
on the left), and one per combination of two columns that occurs in the rows.
Missing values, and values outside every bin, form slices of their own, so
every row is in exactly one slice of each column or crossing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml import suggest
from ci_ml.checks.gates import ORDER, evaluate_gate
from ci_ml.errors import ConfigError
from ci_ml.records import SliceGate, SliceMetric, SliceRow, SlicesResult
from ci_ml.stats.metrics import METRICS
from ci_ml.stats.slices import resample_slices, slice_results

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.checks.model import Inputs
    from ci_ml.config import SliceConfig, StatisticsConfig
    from ci_ml.records import RowScope
    from ci_ml.stats.slices import SliceStats


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
            + suggest.hint(column, frame.columns, "Columns"),
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
        limit(kept, column, cfg.max_slices)
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
    limit(present, by, cfg.max_slices)
    return [
        Slice(f"{na[p // len(nb)]} & {nb[p % len(nb)]}", by, g)
        for p, g in zip(present, _groups(code.ravel(), present.size), strict=True)
    ]


def limit(found: Any, by: str, most: int) -> None:
    """A clear error for a column or crossing that makes more than `most` slices
    (`found`: them, or anything of their number)."""
    if len(found) > most:
        raise ConfigError(
            f"model_tests.slices: {by} makes {len(found):,} slices, more than max_slices "
            f"({most}): a slice per id or per exact number says little",
            hint="slice a numeric column by bins, e.g. `age: [0, 30, 60, .inf]`, or raise "
            "model_tests.slices.max_slices",
        )


def slice_metrics(cfg: SliceConfig, primary: str, task: str, has_proba: bool) -> list[str]:
    """The metrics computed per slice: the configured ones, else the gated ones and the
    primary metric; each must be one of the task's, and computable for this model."""

    names = list(cfg.metrics or dict.fromkeys([*(g.metric for g in cfg.gates), primary]))
    for name in names:
        m = METRICS.get(name)
        if m is None or m.task != task:
            valid = ", ".join(n for n, x in METRICS.items() if x.task == task)
            raise ConfigError(
                f"model_tests.slices: {name!r} is not a {task} metric", hint=f"one of: {valid}"
            )
        if m.needs_proba and not has_proba:
            raise ConfigError(
                f"model_tests.slices: {name} needs predicted probabilities, and the model has none"
            )
    gated = [g.metric for g in cfg.gates if g.metric not in names]
    if gated:
        raise ConfigError(
            f"model_tests.slices.gates: {', '.join(gated)} is not in model_tests.slices.metrics"
        )
    return names


def _slice_row(s: Any, rows: int, gated: bool, per_metric: dict[str, Any], i: int) -> SliceRow:
    out = {}
    for name, sm in per_metric.items():
        r = sm.results[i]
        if hasattr(r, "delta"):
            verdict = r.verdict if gated else "too small to test"
            out[name] = SliceMetric.paired(r, p_adjusted=float(sm.p_adjusted[i]), verdict=verdict)
        else:
            out[name] = SliceMetric.of(r)
    return SliceRow(s.name, s.by, rows, gated, out)


def _badness(row: SliceRow, metric: str, gib: bool) -> float:
    """How bad a slice looks: its worsening against the baseline, else its value."""
    m = row.metrics.get(metric)
    if m is None:
        return -math.inf
    worse = (-m.delta if gib else m.delta) if m.delta is not None else None
    value = worse if worse is not None else (-m.candidate if gib else m.candidate)
    return -math.inf if value is None or math.isnan(value) else value


def run_slices(
    cfg: SliceConfig, holdout: pd.DataFrame, ins: Inputs, st: StatisticsConfig,
    primary: str, on_missing: str, computed: Computed | None = None,
) -> SlicesResult:  # fmt: skip
    """The slices' statistics and gates, on the holdout rows of `ins`; or from
    `computed` (their slices and statistics, summed over every holdout row on
    the engine: ci_ml.checks.slice_sums)."""
    names = slice_metrics(cfg, primary, ins.scored.task, ins.scored.proba is not None)
    if computed is None:
        found = slices(holdout, cfg)
        models = [ins.scored] + ([ins.base_scored] if ins.base_scored is not None else [])
        stats = resample_slices(models, names, [s.rows for s in found], st.resamples, st.seed)
    else:
        found, stats = computed.slices, computed.stats
    tested = stats.rows >= cfg.min_rows
    per_metric = slice_results(stats, st.confidence, tested)
    rows = [
        _slice_row(s, int(n), bool(t), per_metric, i)
        for i, (s, n, t) in enumerate(zip(found, stats.rows, tested, strict=True))
    ]
    gates = []
    for i, row in enumerate(rows):
        if not row.gated:
            continue
        for g in cfg.gates:
            r = per_metric[g.metric].results[i]
            delta = r if hasattr(r, "delta") else None
            value = r.candidate.value if delta is not None else r.value
            result = evaluate_gate(
                g, value, delta, METRICS[g.metric].greater_is_better, st.confidence,
                missing=ins.missing, on_missing=on_missing,
            )  # fmt: skip
            # The reason is the gate's alone: the slice's name goes with it (SliceGate),
            # so a failure reads "slice channel=phone: accuracy = …", once.
            gates.append(SliceGate(row.name, result))
    gib = METRICS[names[0]].greater_is_better
    rows.sort(key=lambda r: (not r.gated, -_badness(r, names[0], gib)))
    worst = next((r.name for r in rows if r.gated and _badness(r, names[0], gib) > -math.inf), None)
    return SlicesResult(
        names, names[0], cfg.min_rows, st.confidence, st.resamples, rows,
        sorted(gates, key=lambda g: ORDER[g.gate.status]),
        all(g.gate.status != "fail" for g in gates), worst,
        ins.missing, None if computed is None else computed.scope,
    )  # fmt: skip


@dataclass
class Computed:
    """Slices and their statistics computed elsewhere (over every holdout row)."""

    slices: list[Slice]
    stats: SliceStats
    scope: RowScope
