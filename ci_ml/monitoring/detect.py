"""The drift check: new data streamed through a reference's profile, each column
(the label and the model's predictions too) compared with the reference's bins,
the model's metrics on labelled rows compared with the release's, and the
verdict by the skew safeguard's rule: a finding needs statistical evidence,
corrected over every test of the report (Benjamini–Hochberg), and an effect
beyond its threshold (ci_ml.config.DriftConfig)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.artifact import read_json
from ci_ml.baseline import Baseline
from ci_ml.checks.personal_data import holds_personal_data, mask
from ci_ml.checks.skew import _decimals, p_text
from ci_ml.errors import DataValidationError, ModelFileError, UsageError
from ci_ml.monitoring import reading
from ci_ml.monitoring.counting import Counter, Sample
from ci_ml.monitoring.profiles import numbers
from ci_ml.records import (
    ColumnDrift,
    ColumnProfile,
    DriftCurrent,
    DriftFinding,
    DriftReference,
    DriftReport,
    MetricDrift,
    PerformanceDrift,
    Profile,
    RecordError,
    load,
)
from ci_ml.scoring.labels import encode_labels
from ci_ml.scoring.model import OnnxModel
from ci_ml.stats.bootstrap import estimates
from ci_ml.stats.metrics import METRICS, Scored
from ci_ml.stats.twosample import BinnedShift, adjusted, binned_shift

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.config import DriftConfig, PersonalDataCheck
PROFILE = "profile.json"
SEVERITY = {"drift": 0, "warn": 1, "info": 2}
MAX_NAMED = 20  # new or vanished categories named per column


def read_profile(base: Baseline) -> Profile:
    """The reference's profile.json; one made before profiles existed is a usage
    error that says how to get one."""
    path = base.directory / PROFILE
    if PROFILE not in base.digests or not path.is_file():
        raise UsageError(
            f"{base.label} has no {PROFILE}: it was built by a ci-ml release older than the "
            "drift check, so there is nothing to compare new data with",
            hint="rebuild it with this ci-ml (`ci-ml run`) and publish it (`ci-ml publish`), "
            "or point --reference at a newer build's artifact folder",
        )
    try:
        return load(Profile, read_json(path))
    except (OSError, ValueError, RecordError) as e:
        raise UsageError(
            f"{path} is not a profile a ci-ml build writes: {str(e)[:300]}",
            hint="rebuild and publish the model with this ci-ml",
        ) from None


@dataclass
class Stream:
    """Everything counted from the new rows."""

    columns: dict[str, Counter]
    label: Counter | None
    prediction: Counter | None
    score: Counter | None
    sample: Sample
    rows: int = 0
    labelled: int = 0
    seen_columns: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    unknown_labels: dict[str, int] = field(default_factory=dict)


def stream(base: Baseline, profile: Profile, files: list[Path], cfg: DriftConfig) -> Stream:
    """Read the files a chunk at a time and count every column into the profile's bins;
    score each chunk with the reference's model.onnx."""
    model, problem = _model(base)
    s = empty_stream(profile, cfg, model is not None)
    if problem:
        s.notes.append(f"the predictions are not compared: {problem}")
    elif profile.predictions is None:
        s.notes.append("the predictions are not compared: the reference's profile has none")
    target = profile.target
    text = {c.name for c in profile.columns if c.kind != "numeric"}
    if profile.label is not None and profile.label.kind != "numeric":
        text.add(target)
    if model is not None:
        text |= {
            c for c, (_, kind) in zip(model.columns, model.spec, strict=False) if kind == "string"
        }
    wanted = list(dict.fromkeys([*s.columns, target, *(model.columns if model else [])]))
    for path in files:
        present = set(reading.header(path))
        absent = [c for c in s.columns if c not in present]
        if absent and len(files) > 1:
            s.notes.append(f"{path.name} lacks column(s) {', '.join(absent[:10])}")
        for chunk in reading.chunks(path, wanted, text, cfg.chunk_rows):
            _count(s, chunk, model, profile)
    return s


def empty_stream(profile: Profile, cfg: DriftConfig, scored: bool = True) -> Stream:
    """Counters for every column of the profile (and the predictions, when `scored`)."""
    return Stream(
        columns={c.name: Counter(c) for c in profile.columns},
        label=Counter(profile.label) if profile.label is not None else None,
        prediction=Counter(profile.predictions) if profile.predictions and scored else None,
        score=Counter(profile.scores) if profile.scores and scored else None,
        sample=Sample(cfg.sample_rows, cfg.seed),
    )


def count(s: Stream, chunk: pd.DataFrame, profile: Profile, model: OnnxModel | None = None) -> None:
    """One chunk of new rows into the counters (and scored by `model`)."""
    _count(s, chunk, model, profile)


def _model(base: Baseline) -> tuple[OnnxModel | None, str | None]:
    try:
        return OnnxModel(base.model_path, base.manifest), None
    except ModelFileError as e:
        return None, e.message
    except Exception as e:  # onnxruntime's errors are not typed
        return None, f"onnxruntime cannot load model.onnx ({str(e).splitlines()[0][:200]})"


def _count(s: Stream, chunk: pd.DataFrame, model: OnnxModel | None, profile: Profile) -> None:
    import numpy as np

    s.rows += len(chunk)
    s.seen_columns |= {str(c) for c in chunk.columns}
    for name, counter in s.columns.items():
        if name in chunk.columns:
            counter.add(chunk[name])
    target = profile.target
    has_label = target in chunk.columns and s.label is not None
    if has_label and s.label is not None:
        s.label.add(chunk[target])
    if model is None or (s.prediction is None and s.score is None):
        return
    lacking = [c for c in model.columns if c not in chunk.columns]
    if lacking:
        _stop_scoring(s, f"the data lacks column(s) the model reads: {', '.join(lacking[:10])}")
        return
    try:
        labels, pred, proba = _predict(model, chunk)
    except Exception as e:  # onnxruntime's errors are not typed: the model cannot read these rows
        _stop_scoring(s, f"the model cannot score the data: {str(e).strip().splitlines()[0][:200]}")
        return
    if s.prediction is not None:
        if profile.task == "classification":
            s.prediction.add_texts(_texts(labels))
        else:
            s.prediction.add_numbers(pred.astype(np.float64))
    if s.score is not None and proba is not None and proba.shape[1] == 2:
        s.score.add_numbers(proba[:, 1])
    if has_label:
        _offer(s, chunk[target], pred, proba, model, profile.task)


def _stop_scoring(s: Stream, why: str) -> None:
    s.prediction = s.score = None
    s.notes.append(f"the predictions are not compared: {why}")


def _texts(values: np.ndarray) -> pd.Series:
    import pandas as pd

    return pd.Series(values, dtype=object).astype(str)


def _model_frame(model: OnnxModel, chunk: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns as it reads them: numbers as float, text as text."""
    import pandas as pd

    kinds = dict(zip(model.columns, (k for _, k in model.spec), strict=False))
    if model.spec == [("input", "numeric")]:
        kinds = dict.fromkeys(model.columns, "numeric")
    frame = {}
    for c in model.columns:
        if kinds.get(c) == "numeric":
            frame[c] = numbers(chunk[c])[0]
        else:
            frame[c] = chunk[c]
    return pd.DataFrame(frame, index=chunk.index)


def _predict(
    model: OnnxModel, chunk: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(labels, class indexes or values, probabilities) of one chunk, one session run."""
    import numpy as np

    outs = model.run(_model_frame(model, chunk))
    raw = np.asarray(outs[0]).ravel()
    if model.task != "classification":
        values = raw.astype(np.float64)
        return values, values, None
    classes = model.classes_ or []
    idx = encode_labels(raw, classes)
    names = np.empty(len(classes), dtype=object)
    names[:] = classes
    labels = np.where(idx >= 0, names[np.maximum(idx, 0)], raw.astype(object)) if classes else raw
    proba = np.asarray(outs[1], dtype=np.float64) if model.has_proba and len(outs) > 1 else None
    return labels, idx, proba


def _offer(
    s: Stream,
    y: pd.Series,
    pred: np.ndarray,
    proba: np.ndarray | None,
    model: OnnxModel,
    task: str,
) -> None:
    """Labelled rows into the bounded sample the metrics are computed on."""
    import numpy as np

    present = y.notna().to_numpy()
    if task == "classification":
        truth = encode_labels(y.where(y.notna(), "").to_numpy(dtype=object), model.classes_ or [])
        unknown = present & (truth < 0)
        for v, n in y[unknown].astype(str).value_counts().items():
            s.unknown_labels[str(v)] = s.unknown_labels.get(str(v), 0) + int(n)
        keep = present & (truth >= 0)
        arrays = {"y": truth, "pred": pred}
    else:
        truth, _ = numbers(y)
        keep = present & ~np.isnan(truth)
        arrays = {"y": truth, "pred": pred}
    if proba is not None:
        arrays["proba"] = proba
    s.labelled += int(keep.sum())
    s.sample.add(keep, **arrays)


# --- the comparison ---------------------------------------------------------------------


def compare_column(
    ref: ColumnProfile, cur: Counter, cfg: DriftConfig, role: str = "feature"
) -> ColumnDrift:
    """One column's tests and distances (its corrected p-values come later)."""
    import numpy as np

    d = ColumnDrift(column=ref.name, kind=ref.kind, role=role, rows=[ref.rows, cur.rows])
    _missing(d, ref, cur)
    if ref.kind == "numeric":
        quantiles = ref.binning == "quantiles"
        shift = binned_shift(np.asarray(ref.counts or [0]), _counts(cur), quantile_bins=quantiles)
        _shift(d, shift, cfg.min_ks)
        d.effect = shift.cdf_gap
        d.before = _num(ref.mean)
        d.after = cur.mean
        d.spread = _num(ref.std)
        d.spread_after = cur.std
        d.direction = numeric_direction(d)
    elif ref.kind == "categorical":
        names = list((ref.categories or {}).keys())
        counts = [*(ref.categories or {}).values(), ref.other or 0]
        shift = binned_shift(np.asarray(counts), _counts(cur))
        _shift(d, shift, cfg.min_share_shift)
        d.effect = shift.tvd
        ref_n, cur_n = sum(counts), int(_counts(cur).sum())
        if ref_n and cur_n:
            d.level = names[shift.moved] if shift.moved < len(names) else None
            d.before = counts[shift.moved] / ref_n
            d.after = int(_counts(cur)[shift.moved]) / cur_n
            d.direction = category_direction(d)
    return d


def _counts(cur: Counter) -> np.ndarray:
    import numpy as np

    return cur.counts if cur.counts is not None else np.zeros(1, dtype=np.int64)


def _num(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _shift(d: ColumnDrift, shift: BinnedShift, threshold: float) -> None:
    d.test = shift.test
    d.statistic = shift.statistic
    d.p = shift.p_value if shift.test != "none" else math.nan
    d.psi = shift.psi
    d.threshold = threshold


def _missing(d: ColumnDrift, ref: ColumnProfile, cur: Counter) -> None:
    """The missing-value rates and their two-proportion test (a 2 × 2 chi-squared,
    Monte Carlo when small), when either side has a missing value."""
    import numpy as np

    if ref.rows == 0 or cur.rows == 0:
        return
    d.missing_before = ref.missing / ref.rows
    d.missing_after = cur.missing / cur.rows
    d.missing_change = d.missing_after - d.missing_before
    if ref.missing or cur.missing:
        test = binned_shift(
            np.asarray([ref.missing, ref.rows - ref.missing]),
            np.asarray([cur.missing, cur.rows - cur.missing]),
        )
        d.missing_p = test.p_value if test.test != "none" else math.nan


def categories_named(
    ref: ColumnProfile, cur: Counter, personal: PersonalDataCheck
) -> tuple[list[str], list[str]]:
    """New categories (only when the reference stored every value it had: otherwise a
    value outside its top may have been in its "other"), most frequent first, masked
    when they hold personal data; and vanished ones (absent although the reference's
    share predicts at least 5 rows of them)."""
    if ref.kind != "categorical" or cur.rows == 0:
        return [], []
    new: list[str] = []
    if not ref.other and not ref.withheld:
        ranked = sorted(cur.new.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_NAMED]
        new = [mask(v) if holds_personal_data(v, personal) else v for v, _ in ranked]
    present = cur.rows - cur.missing
    ref_present = ref.rows - ref.missing
    counts = _counts(cur)
    vanished = [
        name
        for i, (name, n) in enumerate((ref.categories or {}).items())
        if n and counts[i] == 0 and ref_present and present * n / ref_present >= 5
    ][:MAX_NAMED]
    return new, vanished


def numeric_direction(d: ColumnDrift) -> str:
    """'mean 48.6 → 64.0 (+15.4, +0.9 SD), SD 10.1 → 12.0'."""
    if not (math.isfinite(d.before) and math.isfinite(d.after)):
        return ""
    digits = _decimals(d.spread)
    change = d.after - d.before
    text = f"mean {d.before:.{digits}f} → {d.after:.{digits}f} ({change:+.{digits}f}"
    if d.spread > 0:
        text += f", {change / d.spread:+.1f} SD"
    text += ")"
    if math.isfinite(d.spread) and math.isfinite(d.spread_after):
        text += f", SD {d.spread:.{digits}f} → {d.spread_after:.{digits}f}"
    return text


def category_direction(d: ColumnDrift) -> str:
    level = "values outside the reference categories" if d.level is None else f"“{d.level}”"
    points = 100 * (d.after - d.before)
    return f"{level} {100 * d.before:.1f} % → {100 * d.after:.1f} % of rows ({points:+.1f} points)"


# --- the verdict ------------------------------------------------------------------------


def correct(entries: list[ColumnDrift]) -> None:
    """Every p-value of the report corrected together (Benjamini–Hochberg)."""
    slots: list[tuple[ColumnDrift, str]] = []
    for d in entries:
        if math.isfinite(d.p):
            slots.append((d, "p"))
        if math.isfinite(d.missing_p):
            slots.append((d, "missing_p"))
    corrected = adjusted([getattr(d, attr) for d, attr in slots])
    for (d, attr), p in zip(slots, corrected, strict=True):
        setattr(d, f"{attr}_adjusted", p)


def decide(d: ColumnDrift, cfg: DriftConfig) -> None:
    """Drifted: evidence (corrected) and an effect beyond its threshold, for the
    distribution or for the missing-value rate."""
    reasons = []
    if d.p_adjusted < cfg.alpha:
        if d.effect > d.threshold:
            what = "KS statistic on the bins" if d.kind == "numeric" else "share shift"
            reasons.append(f"{what} {d.effect:.2f} (threshold {d.threshold:g})")
        elif cfg.min_psi is not None and d.psi > cfg.min_psi:
            reasons.append(f"PSI {d.psi:.2f} (threshold {cfg.min_psi:g})")
    if d.missing_p_adjusted < cfg.alpha and abs(d.missing_change) > cfg.min_missing_change:
        reasons.append(
            f"missing values {100 * d.missing_before:.1f} % → {100 * d.missing_after:.1f} % "
            f"(threshold ±{100 * cfg.min_missing_change:g} points)"
        )
    d.drifted = bool(reasons)
    d.why = "; ".join(reasons) or None


def severity_key(d: ColumnDrift, min_missing_change: float) -> tuple[bool, float]:
    """Drifted first, then how far past its threshold a column went (larger: worse)."""
    ratios = [0.0]
    if math.isfinite(d.effect) and d.threshold > 0:
        ratios.append(d.effect / d.threshold)
    if math.isfinite(d.missing_change):
        ratios.append(abs(d.missing_change) / min_missing_change)
    return d.drifted, max(ratios)


def finding_line(d: ColumnDrift) -> str:
    what = {
        "label": "the label",
        "prediction": "the model's predictions",
        "score": "the model's scores",
    }
    name = f"{what[d.role]} ({d.column})" if d.role in what else d.column
    p = min((x for x in (d.p_adjusted, d.missing_p_adjusted) if math.isfinite(x)), default=math.nan)
    evidence = f"{p_text(p)} corrected" if math.isfinite(p) else "no test"
    moved = f": {d.direction}" if d.direction else ""
    return (
        f"{name} drifted{moved}; {d.why}; {evidence}; {d.rows[0]:,} reference and "
        f"{d.rows[1]:,} current rows"
    )


def findings(
    entries: list[ColumnDrift], perf: PerformanceDrift | None, absent: list[str], notes: list[str]
) -> list[DriftFinding]:
    moved = [d for d in entries if d.drifted]  # in the order given: most moved first
    out = [DriftFinding(severity="drift", column=d.column, message=finding_line(d)) for d in moved]
    for name in absent:
        out.append(
            DriftFinding(
                severity="drift",
                column=name,
                message=f"{name} is missing from the current data (the model reads it)",
            )
        )
    if perf is not None:
        for m in perf.metrics:
            if m.drifted:
                out.append(
                    DriftFinding(
                        severity="drift",
                        column=None,
                        message=f"{m.label} on the labelled current rows is {m.current:.4g} against "
                        f"the release's {m.release:.4g} (Δ {m.delta:+.4g}, interval "
                        f"[{m.delta_ci_low:+.4g}, {m.delta_ci_high:+.4g}])",
                    )
                )
    for d in entries:
        if d.new_categories:
            shown = ", ".join(f"“{v}”" for v in d.new_categories[:5])
            more = f" and {len(d.new_categories) - 5} more" if len(d.new_categories) > 5 else ""
            out.append(
                DriftFinding(
                    severity="warn" if d.drifted else "info",
                    column=d.column,
                    message=f"{d.column} has value(s) the reference never had: {shown}{more}",
                )
            )
        if d.vanished_categories:
            shown = ", ".join(f"“{v}”" for v in d.vanished_categories[:5])
            out.append(
                DriftFinding(
                    severity="info",
                    column=d.column,
                    message=f"{d.column} no longer has value(s) the reference had: {shown}",
                )
            )
    out += [DriftFinding(severity="warn", column=None, message=n) for n in notes]
    return sorted(out, key=lambda f: SEVERITY.get(f.severity, 9))


# --- the model's metrics on labelled rows ------------------------------------------------


def performance(base: Baseline, s: Stream, cfg: DriftConfig) -> PerformanceDrift | None:
    """The reference model's metrics on the sampled labelled rows, each against the
    release's value on its own holdout: the difference of two independent estimates
    (other rows, so not paired), its interval from both intervals (normal
    approximation: each interval's half-width over z is its standard error)."""
    from statistics import NormalDist

    sample = s.sample
    if sample.keys is None or sample.keys.size == 0:
        return None
    rel = base.metrics
    cols = sample.columns
    if base.task == "classification":
        classes: list[object] = list(base.manifest.classes or [])
        scored = Scored("classification", cols["y"], cols["pred"], cols.get("proba"), classes)
    else:
        scored = Scored("regression", cols["y"], cols["pred"])
    names = [n for n in rel.metrics if n in _computable(scored)]
    est = estimates(scored, names, cfg.resamples, cfg.confidence, cfg.seed)
    z_cur = NormalDist().inv_cdf(0.5 + cfg.confidence / 2)
    z_rel = NormalDist().inv_cdf(0.5 + rel.confidence / 2)
    out = []
    for name, e in est.items():
        r = rel.metrics[name]
        m = MetricDrift(
            metric=name,
            label=r.label,
            greater_is_better=r.greater_is_better,
            release=r.value,
            release_ci_low=r.ci_low,
            release_ci_high=r.ci_high,
            current=e.value,
            ci_low=e.ci_low,
            ci_high=e.ci_high,
        )
        se_cur = (e.ci_high - e.ci_low) / (2 * z_cur)
        se_rel = (r.ci_high - r.ci_low) / (2 * z_rel)
        if all(math.isfinite(v) for v in (e.value, r.value, se_cur, se_rel)):
            m.delta = e.value - r.value
            half = z_cur * math.sqrt(se_cur**2 + se_rel**2)
            m.delta_ci_low, m.delta_ci_high = m.delta - half, m.delta + half
            gain_low = m.delta_ci_low if r.greater_is_better else -m.delta_ci_high
            gain_high = m.delta_ci_high if r.greater_is_better else -m.delta_ci_low
            m.verdict = "better" if gain_low > 0 else "worse" if gain_high < 0 else "within noise"
            m.drifted = (
                name == rel.primary
                and m.verdict == "worse"
                and abs(m.delta) >= cfg.min_metric_change
            )
        out.append(m)
    return PerformanceDrift(
        rows=s.labelled,
        sampled=int(sample.keys.size),
        primary=rel.primary,
        confidence=cfg.confidence,
        method=(
            f"the model's metrics on the labelled current rows (a seeded sample of at most "
            f"{cfg.sample_rows:,}; percentile bootstrap, {cfg.resamples:,} resamples) against the "
            "release's on its own holdout; not paired (other rows): the difference's interval "
            "treats the two estimates as independent (normal approximation from both intervals)"
        ),
        metrics=out,
    )


def _computable(scored: object) -> set[str]:
    has_proba = getattr(scored, "proba", None) is not None
    task = getattr(scored, "task", "")
    return {n for n, m in METRICS.items() if m.task == task and (has_proba or not m.needs_proba)}


# --- all of it ------------------------------------------------------------------------


def check(
    base: Baseline,
    files: list[Path],
    cfg: DriftConfig,
    personal: PersonalDataCheck,
) -> DriftReport:
    """The whole drift check of `files` against the reference `base`."""
    profile = read_profile(base)
    s = stream(base, profile, files, cfg)
    if s.rows == 0:
        # "No drift" on no data would close the drift issue of a data step that
        # wrote nothing: no rows is no answer.
        shown = ", ".join(str(f) for f in files)
        raise DataValidationError(
            f"the current data hold no rows ({shown}): there is nothing to compare with "
            "the reference",
            file=str(files[0]),
            hint="check the step that prepares the fresh data; a drift check needs their rows",
        )
    compared = compare(profile, s, cfg, personal)
    perf = performance(base, s, cfg)
    found = findings(compared.tested, perf, compared.absent, s.notes)
    drifted = any(f.severity == "drift" for f in found)
    manifest = base.manifest
    return DriftReport(
        drifted=drifted,
        reference=DriftReference(
            source=base.source,
            label=base.label,
            model=manifest.name,
            tag=base.extra.get("tag"),
            commit=manifest.commit,
            created=manifest.created,
        ),
        current=DriftCurrent(files=[str(f) for f in files], rows=s.rows, labelled=s.labelled),
        settings={
            "alpha": cfg.alpha,
            "min_ks": cfg.min_ks,
            "min_share_shift": cfg.min_share_shift,
            "min_psi": cfg.min_psi,
            "min_missing_change": cfg.min_missing_change,
            "min_metric_change": cfg.min_metric_change,
            "confidence": cfg.confidence,
        },
        columns=compared.columns,
        prediction=compared.prediction,
        prediction_score=compared.score,
        performance=perf,
        findings=found,
        notes=list(s.notes),
    )


@dataclass
class Compared:
    columns: list[ColumnDrift]  # features and the label, most moved first
    prediction: ColumnDrift | None
    score: ColumnDrift | None
    absent: list[str]  # features the current data does not have

    @property
    def tested(self) -> list[ColumnDrift]:
        return self.columns + [x for x in (self.prediction, self.score) if x is not None]


def compare(profile: Profile, s: Stream, cfg: DriftConfig, personal: PersonalDataCheck) -> Compared:
    """Every column counted in `s` against the profile, corrected together and decided."""
    entries: list[ColumnDrift] = []
    absent = []
    for ref in profile.columns:
        if ref.name not in s.seen_columns:
            absent.append(ref.name)
            continue
        cur = s.columns[ref.name]
        d = compare_column(ref, cur, cfg)
        d.new_categories, d.vanished_categories = categories_named(ref, cur, personal)
        if cur.invalid:
            s.notes.append(
                f"{ref.name}: {cur.invalid:,} value(s) are not numbers (counted as missing)"
            )
        entries.append(d)
    if profile.label is not None and s.label is not None and profile.target in s.seen_columns:
        d = compare_column(profile.label, s.label, cfg, role="label")
        d.new_categories, d.vanished_categories = categories_named(profile.label, s.label, personal)
        entries.append(d)
    prediction = score = None
    if profile.predictions is not None and s.prediction is not None and s.prediction.rows:
        prediction = compare_column(profile.predictions, s.prediction, cfg, role="prediction")
    if profile.scores is not None and s.score is not None and s.score.rows:
        score = compare_column(profile.scores, s.score, cfg, role="score")
    tested = entries + [x for x in (prediction, score) if x is not None]
    correct(tested)
    for d in tested:
        decide(d, cfg)
    if s.unknown_labels:
        shown = ", ".join(sorted(s.unknown_labels)[:10])
        s.notes.append(
            f"labelled rows with class(es) the model does not know are left out of the metrics: {shown}"
        )
    entries.sort(key=lambda d: severity_key(d, cfg.min_missing_change), reverse=True)
    return Compared(entries, prediction, score, absent)
