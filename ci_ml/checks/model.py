"""The declarative model tests other than slices, each run through onnxruntime
on the shipped model.onnx (and the baseline's, for comparison):

- golden: rows with the label (or the range) the model must predict;
- invariance: a perturbation of one column that must not change predictions
  (values redrawn from the column's training distribution, bounded noise, or
  category values swapped), reported as a flip rate;
- directional: a column moved by a step must move the score one way, reported
  as a violation rate;
- calibration: Brier score, ECE and the reliability table, paired with the baseline;
- budgets: the ONNX file's size and its inference latency (one row, 1,000 rows;
  median of repeats), measured in this run for the candidate and the baseline.

Every check returns a typed result saying whether it passed and why.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.checks.gates import evaluate_gate
from ci_ml.data import is_text
from ci_ml.errors import ConfigError, DataValidationError
from ci_ml.records import (
    BudgetsResult,
    CalibrationMetric,
    CalibrationResult,
    GoldenFailure,
    GoldenResult,
    Measure,
    RateCheck,
    ReliabilityRow,
)
from ci_ml.scoring.labels import class_index, encode_labels
from ci_ml.stats.calibration import LABELS
from ci_ml.stats.calibration import calibration as stats

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.config import BudgetsConfig, CalibrationConfig, DirectionalCheck, InvarianceCheck
    from ci_ml.scoring.model import OnnxModel
    from ci_ml.stats.metrics import Scored

MAX_LISTED = 50  # failing golden rows listed in model-tests.json and the report
MAX_EXAMPLES = 5  # rows shown per invariance or directional check


# --- golden rows ----------------------------------------------------------------


def read_golden(path: Path, text_columns: list[str], shown: str) -> pd.DataFrame:
    """The golden CSV, text columns read as text (so "01" stays "01")."""
    import pandas as pd

    if not path.is_file():
        raise ConfigError(
            f"model_tests.golden.path: {shown} not found",
            hint="paths are relative to the config file",
        )
    as_text = {c: str for c in [*text_columns, "expected", "note"]}
    try:
        return pd.read_csv(path, dtype=as_text)
    except Exception as e:  # pandas raises many kinds; all mean "this file is unreadable"
        raise DataValidationError(
            f"{shown}: could not be read as CSV: {str(e)[:300]}", file=str(path)
        ) from None


def model_frame(rows: pd.DataFrame, like: pd.DataFrame, what: str) -> pd.DataFrame:
    """`rows`' model columns with the types the model was trained on: text as text
    (missing as ""), numbers as numbers, or a data error naming the column."""
    import pandas as pd

    missing = [c for c in like.columns if c not in rows.columns]
    if missing:
        raise DataValidationError(
            f"{what} lacks the model's column(s): {', '.join(map(str, missing))}",
            hint="give every feature column (the model reads them all)",
        )
    out = {}
    for c in like.columns:
        s = rows[c]
        if is_text(like[c]):
            out[c] = s.astype(object).where(s.notna(), "").astype(str)
            continue
        try:
            out[c] = pd.to_numeric(s)
        except (TypeError, ValueError):
            raise DataValidationError(
                f"{what}: column {c!r} must hold numbers, like the training data",
                hint=f"first values: {', '.join(map(str, s.head(3)))}",
            ) from None
    return pd.DataFrame(out, index=rows.index)


def _bounds(frame: pd.DataFrame, shown: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    import pandas as pd

    if "expected_min" not in frame.columns and "expected_max" not in frame.columns:
        raise DataValidationError(
            f"{shown}: a regression's golden rows need expected_min and/or expected_max columns"
        )
    lo, hi = (
        pd.to_numeric(frame.get(c, pd.Series(np.nan, index=frame.index)), errors="coerce")
        for c in ("expected_min", "expected_max")
    )
    unbounded = lo.isna() & hi.isna()
    if unbounded.any():
        lines = ", ".join(str(i + 2) for i in np.flatnonzero(unbounded.to_numpy())[:10])
        raise DataValidationError(f"{shown}: rows without a bound (lines {lines})")
    return lo.fillna(-np.inf).to_numpy(), hi.fillna(np.inf).to_numpy()


def golden(
    model: OnnxModel, path: Path, like: pd.DataFrame, max_failures: int, shown: str
) -> GoldenResult:
    """Predict the golden rows; each must give its expected label or fall in its range."""
    import numpy as np

    frame = read_golden(path, [c for c in like.columns if is_text(like[c])], shown)
    if frame.empty:
        raise DataValidationError(f"{shown} has no rows")
    X = model_frame(frame, like, shown)
    got = model.predict(X)
    notes = frame["note"] if "note" in frame.columns else None
    if model.task == "classification":
        if "expected" not in frame.columns:
            raise DataValidationError(f"{shown}: give the expected class in a column `expected`")
        expected = frame["expected"].astype(str).to_numpy()
        classes = list(model.classes_ or [])
        want = class_index(expected, classes)
        unknown = sorted(set(expected[want < 0]))
        if unknown:
            raise DataValidationError(
                f"{shown}: expected class(es) the model does not know: {', '.join(unknown[:10])}",
                hint=f"classes: {', '.join(sorted(str(c) for c in classes))}",
            )
        bad = want != encode_labels(got, classes)
        shown_expected = expected
    else:
        lo, hi = _bounds(frame, shown)
        bad = (got < lo) | (got > hi)
        shown_expected = np.array([_range(a, b) for a, b in zip(lo, hi, strict=True)])
    failures = [
        GoldenFailure(
            int(i) + 2,
            str(shown_expected[i]),
            _shown(got[i]),
            None if notes is None or notes.iloc[i] != notes.iloc[i] else str(notes.iloc[i]),
        )
        for i in np.flatnonzero(bad)[:MAX_LISTED]
    ]
    n_bad = int(bad.sum())
    return GoldenResult(shown, len(frame), n_bad, max_failures, n_bad <= max_failures, failures)


def _range(lo: float, hi: float) -> str:
    import math

    if math.isinf(lo):
        return f"≤ {hi:g}"
    return f"≥ {lo:g}" if math.isinf(hi) else f"{lo:g} … {hi:g}"


def _shown(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


# --- invariance and directional ----------------------------------------------------


def _require_input(X: pd.DataFrame, column: str, key: str) -> None:
    if column not in X.columns:
        raise ConfigError(
            f"model_tests.{key}: {column!r} is not one of the model's input columns",
            hint=f"inputs: {', '.join(map(str, X.columns[:30]))}",
        )


def _numeric(X: pd.DataFrame, column: str, key: str, what: str) -> None:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(X[column]) or pd.api.types.is_bool_dtype(X[column]):
        raise ConfigError(
            f"model_tests.{key}: {what} needs a numeric column, and {column!r} holds text",
            hint="swap its category values instead: swap: {a: b}",
        )


def _swap_mapping(check: InvarianceCheck, text: bool, key: str) -> dict[Any, Any]:
    """The swap as values of the column's kind: text, or numbers."""
    assert check.swap is not None
    try:
        return {
            (str(k) if text else float(k)): (str(v) if text else float(v))
            for k, v in check.swap.items()
        }
    except (TypeError, ValueError):
        raise ConfigError(
            f"model_tests.{key}.swap: {check.column!r} holds numbers, so swap numbers",
            hint="swap: {1: 2}",
        ) from None


def check_invariance(check: InvarianceCheck, i: int, X: pd.DataFrame, task: str) -> None:
    """The check's config against the data: a config error now, not a wrong rate later."""
    import pandas as pd

    key = f"invariance[{i}]"
    _require_input(X, check.column, key)
    if check.noise:
        _numeric(X, check.column, key, "noise")
    if check.swap:
        _swap_mapping(check, not pd.api.types.is_numeric_dtype(X[check.column]), key)
    if task == "regression" and check.tolerance is None:
        raise ConfigError(
            f"model_tests.{key}.tolerance: a regression's prediction always moves a little; "
            "say how far it may move (in the target's units) before it counts as a flip",
            hint="tolerance: 0.5",
        )


def check_directional(check: DirectionalCheck, i: int, X: pd.DataFrame) -> None:
    key = f"directional[{i}]"
    _require_input(X, check.column, key)
    _numeric(X, check.column, key, "a directional check")


def perturb(
    check: InvarianceCheck, X: pd.DataFrame, train: pd.DataFrame, rng: np.random.Generator, key: str
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """(perturbed rows, which rows changed, what was done)."""
    import numpy as np
    import pandas as pd

    col = X[check.column]
    out = X.copy()
    if check.resample:
        pool = train[check.column].to_numpy()
        out[check.column] = pool[rng.integers(0, pool.size, size=len(X))]
        new = out[check.column]
        changed = ~((new == col) | (new.isna() & col.isna())).to_numpy()
        return out, changed, "values redrawn from the training rows"
    if check.noise:
        noise = rng.uniform(-check.noise, check.noise, size=len(X))
        out[check.column] = col.to_numpy(dtype=np.float64) + noise
        return out, col.notna().to_numpy(), f"uniform noise within ±{check.noise:g}"
    assert check.swap is not None
    text = not pd.api.types.is_numeric_dtype(col)
    mapping = _swap_mapping(check, text, key)
    keys = col.astype(str) if text else col
    hit = keys.isin(list(mapping)).to_numpy()
    out[check.column] = np.where(hit, keys.map(mapping), col)
    if not text:
        out[check.column] = out[check.column].astype(np.float64)
    pairs = ", ".join(f"{k}→{v}" for k, v in check.swap.items())
    return out, hit & (out[check.column] != col).to_numpy(), f"swapped {pairs}"


def _flips(model: OnnxModel, X: pd.DataFrame, Y: pd.DataFrame, tolerance: float | None) -> Any:
    import numpy as np

    a, b = model.predict(X), model.predict(Y)
    if model.task == "classification":
        return a.astype(str) != b.astype(str)
    return np.abs(b - a) > (tolerance or 0.0)


def invariance(
    check: InvarianceCheck,
    i: int,
    X: pd.DataFrame,
    train: pd.DataFrame,
    models: list[OnnxModel | None],
    seed: int,
) -> RateCheck:
    """Flip rate of one perturbation, for the candidate (models[0]) and the baseline."""
    import numpy as np

    key = f"invariance[{i}]"
    check_invariance(check, i, X, models[0].task)  # type: ignore[union-attr]
    Y, changed, what = perturb(check, X, train, np.random.default_rng(seed + i), key)
    rates = []
    examples: list[str] = []
    for j, model in enumerate(models):
        flips = _rate_of(model, X, Y, changed, lambda m, a, b: _flips(m, a, b, check.tolerance))
        rates.append(None if flips is None else flips[0])
        if j == 0 and flips is not None:
            examples = flips[1]
    name = check.name or f"{check.column}: {check.perturbation}"
    return _verdict(
        "invariance",
        name,
        check.column,
        what,
        changed,
        rates,
        examples,
        check.max_flip_rate,
        "flip rate",
    )


def _rate_of(
    model: OnnxModel | None,
    X: pd.DataFrame,
    Y: pd.DataFrame,
    changed: np.ndarray,
    moved: Callable[[OnnxModel, pd.DataFrame, pd.DataFrame], np.ndarray],
) -> tuple[float, list[str]] | None:
    """(share of changed rows that moved, labels of the first few), or None when this
    model (a baseline) cannot predict these rows."""
    import numpy as np

    if model is None or not changed.any():
        return (float("nan"), []) if model is not None else None
    try:
        bad = moved(model, X[changed], Y[changed])
    except DataValidationError:
        return None  # a baseline that lacks a column of the current data
    labels = [str(v) for v in X.index[changed][np.flatnonzero(bad)[:MAX_EXAMPLES]]]
    return float(bad.mean()), labels


def _verdict(
    kind: str,
    name: str,
    column: str,
    what: str,
    changed: np.ndarray,
    rates: list[float | None],
    examples: list[str],
    threshold: float,
    label: str,
) -> RateCheck:
    import math

    rate = rates[0]
    base = rates[1] if len(rates) > 1 else None
    rows = int(changed.sum())
    if rate is None or math.isnan(rate):
        passed, reason = False, f"no holdout row was changed by it ({what}): nothing was tested"
    else:
        passed = rate <= threshold
        sign = "≤" if passed else ">"
        reason = f"{label} {rate:.2%} {sign} {threshold:.2%} on {rows:,} rows"
    return RateCheck(
        kind,
        name,
        column,
        what,
        rows,
        rate if rate is not None else math.nan,
        base,
        threshold,
        passed,
        reason,
        examples,
    )


def _score_column(model: OnnxModel, check: DirectionalCheck, key: str) -> int | None:
    """Which probability column is the score (None: the prediction itself)."""
    if model.task != "classification":
        return None
    if not model.has_proba:
        raise ConfigError(
            f"model_tests.{key}: a classifier's score is a class probability, and this "
            "model gives none",
            hint="use a classifier with predict_proba, or drop the check",
        )
    classes = [str(c) for c in model.classes_ or []]
    if check.class_ is None:
        if len(classes) != 2:
            raise ConfigError(
                f"model_tests.{key}.class: name the class whose probability must move "
                f"(classes: {', '.join(classes)})"
            )
        return 1
    at = int(class_index([str(check.class_)], list(model.classes_ or []))[0])
    if at < 0:
        raise ConfigError(
            f"model_tests.{key}.class: {check.class_!r} is not a class of the model",
            hint=f"classes: {', '.join(classes)}",
        )
    return at


def directional(
    check: DirectionalCheck, i: int, X: pd.DataFrame, models: list[OnnxModel | None]
) -> RateCheck:
    """Share of rows whose score moved against the stated direction after the step."""
    import numpy as np

    key = f"directional[{i}]"
    check_directional(check, i, X)
    column = _score_column(models[0], check, key)  # type: ignore[arg-type]
    Y = X.copy()
    Y[check.column] = X[check.column].to_numpy(dtype=np.float64) + check.step
    changed = X[check.column].notna().to_numpy()
    sign = 1.0 if check.direction == "increase" else -1.0

    def against(model: OnnxModel, a: pd.DataFrame, b: pd.DataFrame) -> np.ndarray:
        col = column
        if model is not models[0] and column is not None:
            target = list(models[0].classes_ or [])[column]  # type: ignore[union-attr]
            at = int(encode_labels([target], list(model.classes_ or []))[0])
            if at < 0 or not model.has_proba:
                raise DataValidationError("the baseline has no such class probability")
            col = at
        score = (
            (lambda m, rows: m.predict(rows))
            if col is None
            else (lambda m, rows: m.predict_proba(rows)[:, col])
        )
        return sign * (score(model, b) - score(model, a)) < -check.tolerance

    rates, examples = [], []
    for j, model in enumerate(models):
        moved = _rate_of(model, X, Y, changed, against)
        rates.append(None if moved is None else moved[0])
        if j == 0 and moved is not None:
            examples = moved[1]
    step = f"{check.step:+g}"
    name = check.name or f"{check.column} {step} → score {check.direction}s"
    what = f"{check.column} {step}, the score must not {'fall' if sign > 0 else 'rise'}"
    return _verdict(
        "directional",
        name,
        check.column,
        what,
        changed,
        rates,
        examples,
        check.max_violation_rate,
        "violation rate",
    )


# --- calibration --------------------------------------------------------------------


def calibration(
    cfg: CalibrationConfig,
    candidate: Scored,
    baseline: Scored | None,
    statistics_: tuple[int, float, int],
    missing: str | None,
    on_missing: str,
) -> CalibrationResult:
    """Brier score and ECE with intervals, deltas against the baseline (scored on the
    same rows), the reliability table, and the calibration gates."""

    if candidate.proba is None:
        raise ConfigError(
            "model_tests.calibration: the model gives no class probabilities to calibrate",
            hint="drop model_tests.calibration, or use a classifier with predict_proba",
        )
    resamples, confidence, seed = statistics_
    models = [candidate] if baseline is None or baseline.proba is None else [candidate, baseline]
    st = stats(models, cfg.bins, resamples, confidence, seed)
    rows = []
    for name, est in st.candidate.items():
        row = CalibrationMetric.of(est, metric=name, label=LABELS[name])
        d = st.deltas.get(name) if st.deltas else None
        if d is not None:
            row.baseline, row.delta, row.p_value, row.verdict = (
                d.baseline.value,
                d.delta,
                d.p_value,
                d.verdict,
            )
            row.delta_ci_low, row.delta_ci_high = d.ci_low, d.ci_high
        rows.append(row)
    gates = [
        evaluate_gate(
            g,
            st.candidate[g.metric].value,
            st.deltas.get(g.metric) if st.deltas else None,
            False,
            confidence,
            missing=missing,
            on_missing=on_missing,
        )
        for g in cfg.gates
    ]
    table = _reliability(st)
    binary = candidate.proba.shape[1] == 2
    what = "positive class's probability" if binary else "top label's probability"
    passed = all(g.status != "fail" for g in gates)
    return CalibrationResult(cfg.bins, confidence, what, rows, table, gates, passed)


def _reliability(st: Any) -> list[ReliabilityRow]:
    out = []
    base = st.baseline_reliability or [None] * len(st.reliability)
    for c, b in zip(st.reliability, base, strict=True):
        row = ReliabilityRow(c.low, c.high, c.rows, c.confidence, c.observed)
        if b is not None:
            row.baseline_rows, row.baseline_confidence, row.baseline_observed = (
                b.rows,
                b.confidence,
                b.observed,
            )
        out.append(row)
    return out


# --- budgets ------------------------------------------------------------------------


def latency_ms(
    model: OnnxModel, X: pd.DataFrame, rows: int, repeats: int, clock: Callable[[], float]
) -> float:
    """Median wall time (ms) of one inference on `rows` rows (holdout rows, repeated
    when there are fewer), after one warm-up run."""
    return latencies_ms([model], X, rows, repeats, clock)[0]


def measure(
    models: list[OnnxModel | None],
    X: pd.DataFrame,
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[dict[str, float] | None]:
    """Size and latencies of each model. The models take turns run by run, so a
    noisy neighbour on a shared runner slows both alike; a model whose file is
    byte for byte an earlier one's is that model, and gets its measurement (two
    timings of one model differ only by noise)."""
    out: list[dict[str, float] | None] = []
    first_of: dict[bytes, int] = {}
    same: dict[int, int] = {}
    for i, model in enumerate(models):
        if model is None:
            out.append(None)
            continue
        try:
            model.feeds(X.iloc[:1])
        except DataValidationError:
            out.append(None)  # a baseline that needs columns the data no longer has
            continue
        data = model.path.read_bytes()
        same[i] = first_of.setdefault(data, i)
        out.append({"bytes": float(len(data))})
    timed = [i for i, j in same.items() if i == j]
    for rows, key in ((1, "latency_1"), (1000, "latency_1k")):
        chosen = [m for i in timed if (m := models[i]) is not None]
        for i, ms in zip(timed, latencies_ms(chosen, X, rows, repeats, clock), strict=True):
            found = out[i]
            assert found is not None  # timed models are the ones measured above
            found[key] = ms
    for i, j in same.items():
        if i != j:
            found, first = out[i], out[j]
            assert found is not None and first is not None
            found.update({k: v for k, v in first.items() if k != "bytes"})
    return out


def latencies_ms(
    models: list[OnnxModel],
    X: pd.DataFrame,
    rows: int,
    repeats: int,
    clock: Callable[[], float],
) -> list[float]:
    """Median wall time (ms) of one inference on `rows` rows for each model, the
    models interleaved run by run, after one warm-up run each."""
    import numpy as np

    take = np.resize(np.arange(len(X)), rows)
    batch = X.iloc[take]
    feeds = []
    for model in models:
        feeds.append(model.feeds(batch))
        model.session.run(None, feeds[-1])
    times: list[list[float]] = [[] for _ in models]
    for _ in range(repeats):
        for model, feed, spent in zip(models, feeds, times, strict=True):
            t = clock()
            model.session.run(None, feed)
            spent.append((clock() - t) * 1000)
    return [float(statistics.median(t)) for t in times]


def budget_checks(cfg: BudgetsConfig, measured: list[dict[str, float] | None]) -> BudgetsResult:
    """Each measure against its absolute budget and its budget relative to the baseline."""
    cand = measured[0] or {}
    base = measured[1] if len(measured) > 1 else None
    rows = [
        ("model size", "bytes", "bytes", cfg.max_model_bytes, cfg.max_size_growth),
        ("latency, 1 row", "ms", "latency_1", cfg.max_latency_ms, cfg.max_slowdown),
        ("latency, 1,000 rows", "ms", "latency_1k", cfg.max_latency_ms_1k, cfg.max_slowdown),
    ]
    measures = []
    for name, unit, key, limit, ratio in rows:
        c = cand[key]
        b = base.get(key) if base else None
        problems = []
        if limit is not None and c > limit:
            problems.append(f"{_amount(c, unit)} > budget {_amount(limit, unit)}")
        if ratio is not None and b and c / b > ratio:
            problems.append(f"{_times(c / b)} the baseline's {_amount(b, unit)} > {ratio:g}×")
        reason = "; ".join(problems) or _within(c, b, unit, limit, ratio)
        measures.append(Measure(name, unit, c, b, limit, ratio, not problems, reason))
    return BudgetsResult(cfg.repeats, measures, all(m.passed for m in measures))


def _amount(v: float, unit: str) -> str:
    return f"{v:,.0f} bytes" if unit == "bytes" else f"{v:.3g} ms"


def _times(x: float) -> str:
    """A ratio to two significant digits, never rounded to 0 or written with an
    exponent: 0.0045×, 1.3×, 66×, 311×."""
    if not math.isfinite(x) or x <= 0:
        return f"{x:g}×"
    return f"{x:.{max(0, 1 - math.floor(math.log10(x)))}f}×"


def _within(c: float, b: float | None, unit: str, limit: float | None, ratio: float | None) -> str:
    parts = [_amount(c, unit)]
    if b:
        parts.append(f"{_times(c / b)} the baseline")
    if limit is None and ratio is None:
        parts.append("no budget set")
    return ", ".join(parts)


@dataclass
class Inputs:
    """What the checks run on: both models, the holdout and training rows, the
    candidate's and the baseline's predictions on the holdout aligned class by class."""

    candidate: OnnxModel
    X: pd.DataFrame  # holdout features, as the model reads them
    train_X: pd.DataFrame
    scored: Scored  # the candidate on the holdout (widened if the baseline knows more classes)
    # The holdout rows with every column of the files (data.drop's too): both models
    # read their own columns from them.
    rows: pd.DataFrame
    baseline: OnnxModel | None = None
    base_scored: Scored | None = None
    missing: str | None = None  # why a baseline that exists gives no comparable numbers
