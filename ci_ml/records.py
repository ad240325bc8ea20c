"""The artifact's records: one typed class per JSON file a build writes, and the
parts they share. Stages import their results from here instead of from each
other; the report, the registry and the pytest plugin read them back by attribute.

Writing is strict: a record is checked against its type before it is written
(`write`). Reading is tolerant (`read`): a record made by an earlier ci-ml
release loads as long as its `schema_version` is one this release knows, with
fields added since taking their defaults and fields it no longer has ignored.
The rule (docs/guide/artifact.md, "Compatibility"): within a major `schema_version`, fields are
only added, with defaults; a baseline released by the previous minor ci-ml
version must load and be compared. A file with a newer major version than this
release knows is refused with a message saying to upgrade ci-ml.

Numbers that may be undefined are `Num`: NaN in memory, null in JSON (strict
JSON has no NaN).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, TypeAdapter, ValidationError
from typing_extensions import Self

from ci_ml.artifact import OMIT_NONE, TRANSIENT, plain, read_json
from ci_ml.errors import UsageError

T = TypeVar("T")


def _nan_for_null(v: Any) -> Any:
    return math.nan if v is None else v


# A number that may be undefined: NaN in memory, null in JSON (strict JSON has no NaN).
Num = Annotated[float, BeforeValidator(_nan_for_null)]


# The major version of the records' shapes (the compatibility rule is in the docstring).
SCHEMA_VERSION = 1


def optional() -> Any:
    """A dataclass field that defaults to None and is left out of the JSON while None."""
    return field(default=None, metadata={OMIT_NONE: True})


@dataclass
class SchemaFailure:
    """One broken rule: which column, which check, how many rows, a few examples."""

    dataset: str
    column: str | None
    check: str
    failing_rows: int
    examples: list[Any] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)
    # The example rows' lines in the file (1-based, the header is line 1), when it is text.
    lines: list[int] | None = optional()

    def line(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        ex = ", ".join(repr(v) for v in self.examples)
        rows = ", ".join(str(r) for r in self.rows)
        s = f"[{self.dataset}] {where}: {self.check} failed on {self.failing_rows} row(s)"
        if ex:
            s += f"; e.g. {ex}"
        if self.lines:
            word = "line" if len(self.lines) == 1 else "lines"
            s += f" ({word} {', '.join(map(str, self.lines))} of the file, the header is line 1)"
        elif rows:
            s += f" (rows {rows})"
        return s


@dataclass
class ValidationResult:
    """validation.json: did the data pass, against which schema, and every failure."""

    passed: bool
    schema: str | None
    schema_sha256: str | None
    rows: dict[str, int]
    broken_columns: list[str]
    failures: list[SchemaFailure]
    schema_version: int = SCHEMA_VERSION


@dataclass
class SkewMeasure:
    """One column's train/holdout comparison (safeguards.json `skew`), whether or
    not it is a finding. The fields after `psi` came with issue 23: an older
    record has the first four only."""

    test: str  # ks | chi2 | chi2 monte carlo
    statistic: float
    p_value: Num
    psi: float
    p_adjusted: Num = math.nan  # corrected over the columns (Benjamini–Hochberg)
    # KS statistic (numbers) or total variation distance (categories), and the
    # distance a finding needs.
    distance: Num = math.nan
    threshold: Num = math.nan
    rows: list[int] = field(default_factory=list)  # values compared: train, holdout
    # Numbers: the means (train, holdout) and the training standard deviation.
    # Categories: the share, in train and in the holdout, of the level that moved
    # most (`level`; None with a chi2 test: the missing values).
    before: Num = math.nan
    after: Num = math.nan
    spread: Num = math.nan
    level: str | None = optional()


@dataclass
class Finding:
    check: str  # contamination | duplicates | conflicting_labels | leakage | skew | personal_data
    severity: str  # error | warn
    message: str
    column: str | None = None
    value: float | None = None
    threshold: float | None = None
    examples: list[Any] = field(default_factory=list)  # row numbers, or masked values
    skew: SkewMeasure | None = optional()  # a skew finding's test, distance and direction
    # Row checks: the example rows' lines in `file` (1-based, the header is line 1).
    lines: list[int] | None = optional()
    file: str | None = optional()
    rows: int | None = optional()  # how many rows the finding is about
    of_rows: int | None = optional()  # out of how many


@dataclass
class SafeguardsResult:
    """safeguards.json: every finding (errors first) and what later builds compare with."""

    passed: bool
    findings: list[Finding]
    leakage_scores: dict[str, float]
    skew: dict[str, SkewMeasure]
    allowed_personal_data: dict[str, str]
    rows: dict[str, int]
    seconds: float = 0.0
    # What the row checks (contamination, duplicates, conflicting labels) measured,
    # found or not: rows, share, threshold. Leakage and skew keep theirs above.
    measured: dict[str, dict[str, float]] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION


@dataclass
class SearchTrial:
    """One candidate of a search: its params and cross-validated score."""

    params: dict[str, Any]
    mean: Num  # mean over the folds, in the metric's own units (an error is positive)
    std: Num
    rank: int


@dataclass
class SearchResult:
    """model.search: what was tried on the training rows, what was chosen and how long it took."""

    method: str  # grid | random | halving
    metric: str  # the metric the folds were scored by
    greater_is_better: bool
    cv: int
    planned: int  # candidates the space and max_trials allow
    trials: int  # candidates evaluated
    seconds: float
    best: dict[str, Any]  # the params the final model was refitted with
    top: list[SearchTrial] = field(default_factory=list)  # best first
    n_jobs: int = 1
    stopped: str | None = optional()  # why fewer than planned were tried (max_minutes)
    last_round_rows: int | None = optional()  # halving: rows each candidate's last round used


@dataclass
class CommandRun:
    """model.command: how the training command ran."""

    argv: list[str]
    exit_code: int
    seconds: float
    output_tail: str  # the last lines it printed (stdout and stderr)
    model_sha256: str | None = optional()  # of the model.onnx it wrote
    params_file: bool = False  # whether it wrote params.json (recorded as the params)


@dataclass(kw_only=True)
class EngineFit:
    """engine: dask: which rows the model trained on. With `trainer`, its final
    estimator (XGBoost, LightGBM) trained on every training row on the cluster,
    through its library's Dask trainer, behind preprocessing fitted on the client's
    sample (`preprocess_rows`); else it was fitted on the client's sample, and
    `sampled_because` says why (ci_ml.modeling.dask_boosters)."""

    rows: int  # the training rows the final estimator trained on
    of: int  # every training row
    trainer: str | None = optional()  # e.g. xgboost.dask.DaskXGBClassifier
    partitions: int | None = optional()  # the training partitions it read
    workers: int | None = optional()
    preprocess_rows: int | None = optional()  # the sample the steps before it were fitted on
    sampled_because: str | None = optional()


@dataclass
class TrainResult:
    """train.json: what was fitted, with which parameters, and how long it took."""

    estimator: str  # its description, e.g. Pipeline(StandardScaler → LogisticRegression)
    params: dict[str, Any]
    seeded: list[str]  # parameter paths whose random_state the seed set
    fit_seconds: float
    classes: list[Any] | None
    task: str
    # What `model.preprocess: auto` put in front of the estimator (None: nothing).
    preprocess: dict[str, Any] | None = None
    model: Any = field(default=None, repr=False, metadata={TRANSIENT: True})
    # The build cache: the baseline whose model this build took instead of training.
    reused_from: dict[str, Any] | None = optional()
    search: SearchResult | None = optional()  # model.search: the candidates and the choice
    command: CommandRun | None = optional()  # model.command: how the command ran
    engine: EngineFit | None = optional()  # engine: dask: the rows it trained on, and where
    # Why it trained although a baseline exists (the cache's decision), for the log,
    # and whether that is a warning (the baseline's model failed its checks).
    note: str | None = field(default=None, repr=False, metadata={TRANSIENT: True})
    warning: bool = field(default=False, repr=False, metadata={TRANSIENT: True})
    # The training rows' profile (features and label), for profile.json (evaluate adds
    # the predictions): made here, where the training rows still are.
    profile: Profile | None = optional()


@dataclass
class ExportResult:
    """export.json: the ONNX file, its inputs and outputs, and the parity check."""

    path: str
    bytes: int
    precision: str  # "double" or "float"
    inputs: list[dict[str, str]]
    outputs: list[str]
    opset: dict[str, int]
    parity: dict[str, Any] = field(default_factory=dict)
    latency_ms_per_1k_rows: float | None = None
    seconds: float = 0.0
    probabilities: bool = False  # whether the second output holds class probabilities
    # The build cache: model.onnx is the baseline's, byte for byte; its parity was
    # proved when it was built, on the same rows (same data and split).
    reused_from: dict[str, Any] | None = optional()


@dataclass
class Interval:
    """A value with its confidence interval."""

    value: Num
    ci_low: Num
    ci_high: Num


@dataclass(kw_only=True)
class MetricValue(Interval):
    """A metric of the candidate on the holdout rows (metrics.json)."""

    label: str
    greater_is_better: bool
    # Why its interval understates the uncertainty (a few rows dominate the metric).
    unreliable: str | None = optional()


@dataclass(kw_only=True)
class PairedEstimate:
    """The one shape of a paired estimate (slices, calibration): the candidate's
    value with its interval and, where the baseline was scored on the same rows,
    its value, the paired delta (candidate − baseline) with its interval, the
    p-value and the verdict (improved | regressed | within noise | …)."""

    candidate: Num
    ci_low: Num
    ci_high: Num
    baseline: Num | None = None
    delta: Num | None = None
    delta_ci_low: Num | None = None
    delta_ci_high: Num | None = None
    p_value: Num | None = None
    verdict: str = "no baseline"

    @classmethod
    def of(cls, estimate: Any, **extra: Any) -> Self:
        """From the statistics' Estimate (value, ci_low, ci_high): no baseline."""
        return cls(
            candidate=estimate.value, ci_low=estimate.ci_low, ci_high=estimate.ci_high, **extra
        )

    @classmethod
    def paired(cls, delta: Any, **extra: Any) -> Self:
        """From the statistics' Delta (candidate, baseline, delta with its interval,
        p-value, verdict), both models scored on the same rows."""
        c = delta.candidate
        fields = {
            "candidate": c.value,
            "ci_low": c.ci_low,
            "ci_high": c.ci_high,
            "baseline": delta.baseline.value,
            "delta": delta.delta,
            "delta_ci_low": delta.ci_low,
            "delta_ci_high": delta.ci_high,
            "p_value": delta.p_value,
            "verdict": delta.verdict,
        }
        return cls(**{**fields, **extra})


@dataclass(kw_only=True)
class SliceMetric(PairedEstimate):
    p_adjusted: Num | None = None  # Holm, over the slices large enough to gate


@dataclass(kw_only=True)
class CalibrationMetric(PairedEstimate):
    metric: str
    label: str


@dataclass
class ConfusionMatrix:
    labels: list[str]
    rows_true_cols_pred: list[list[int]]


@dataclass
class Residuals:
    """Summary of prediction − truth."""

    mean: Num
    std: Num
    min: Num
    p05: Num
    p25: Num
    median: Num
    p75: Num
    p95: Num
    max: Num


@dataclass
class RowScope:
    """A build on the Dask engine whose holdout holds more rows than
    engine.sample_rows: which of a record's numbers are over every holdout row
    (summed partition by partition on the cluster: ci_ml.scoring.every_row) and
    which over the seeded sample of rows the client holds."""

    rows: int  # every holdout row
    every_row: list[str]
    sample_rows: int
    on_sample: list[str]
    # The bootstrap's units: the rows summed into this many blocks, by their key.
    blocks: int
    # ROC AUC from binned ranks (ci_ml.stats.ranks): the grid's bins per AUC column,
    # and the most the AUC can differ from the exact one (pairs tied within a bin).
    auc_bins: int | None = optional()
    auc_max_error: float | None = optional()


@dataclass
class Evaluation:
    """metrics.json: the candidate's metrics on the holdout rows."""

    task: str
    primary: str
    rows: int
    confidence: float
    resamples: int
    metrics: dict[str, MetricValue]
    skipped: dict[str, str] | None = optional()
    classes: list[Any] | None = optional()
    confusion_matrix: ConfusionMatrix | None = optional()
    class_balance: dict[str, int] | None = optional()
    residuals: Residuals | None = optional()
    scope: RowScope | None = optional()  # engine: dask, a holdout larger than its sample
    scored: Any = field(default=None, repr=False, metadata={TRANSIENT: True})
    schema_version: int = SCHEMA_VERSION


@dataclass
class GateResult:
    metric: str
    rule: str
    threshold: float
    actual: float | None
    status: str  # pass | fail | skipped (no baseline) | not evaluated
    reason: str


@dataclass
class BaselineIdentity:
    source: str  # "dir" or "release"
    label: str  # what the report calls it: a path or a tag
    url: str | None
    commit: str | None
    created: str | None
    name: str | None
    tag: str | None = optional()
    published_at: str | None = optional()


@dataclass
class MetricRow:
    metric: str
    label: str
    greater_is_better: bool
    candidate: Interval
    baseline_recorded: float | None
    baseline: Interval | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    # improved | regressed | within noise | unreliable | n/a | no baseline
    verdict: str = "no baseline"
    not_compared: str | None = optional()  # why a baseline that exists gave no delta
    p_value_mcnemar: float | None = optional()
    # Why its interval understates the uncertainty (a few rows dominate the metric).
    unreliable: str | None = optional()


@dataclass
class McNemar:
    test: str
    candidate_only_correct: int
    baseline_only_correct: int
    p_value: float


@dataclass
class PairedT:
    test: str
    statistic: float
    p_value: float
    mean_difference: float


@dataclass
class ErrorTests:
    squared_error: PairedT
    absolute_error: PairedT


@dataclass
class Statistics:
    method: str
    resamples: int
    confidence: float
    seed: int


@dataclass
class ColumnChanges:
    added: list[str]
    removed: list[str]
    retyped: list[dict[str, str]]
    schema_changed: bool


@dataclass
class DataChanges:
    holdout_identical: bool
    rows: dict[str, int | None]
    class_balance: list[dict[str, Any]]
    columns: ColumnChanges
    files: list[str] | None = optional()  # data files (by role) whose content changed


@dataclass
class ParamChange:
    param: str
    baseline: Any
    candidate: Any


@dataclass
class ClassRecall:
    """Recall of one class, both models scored on the same holdout rows; with its
    paired interval, and the class's precision (NaN: the model never predicts it)."""

    label: str
    rows: int
    candidate: Num
    baseline: Num
    recall: PairedEstimate | None = optional()
    precision: PairedEstimate | None = optional()
    predicted: int | None = optional()  # rows the candidate predicts as this class


@dataclass
class Primary:
    metric: str
    candidate: Num
    delta: float | None
    verdict: str


@dataclass
class Comparison:
    """comparison.json: the whole comparison, gates and verdict included."""

    primary_metric: str
    statistics: Statistics
    # none (first build) | scored (re-scored on this holdout) | recorded (its
    # recorded metrics) | unscorable (exists, but gave nothing comparable)
    baseline_status: str = "none"
    baseline: BaselineIdentity | None = None
    scored_on: str | None = None
    baseline_problem: str | None = None
    notes: list[str] = field(default_factory=list)
    metrics: list[MetricRow] = field(default_factory=list)
    tests: McNemar | ErrorTests | None = None
    data_changes: DataChanges | None = None
    params_diff: list[ParamChange] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    verdict: str = "no-baseline"  # pass | fail | no-baseline | incomplete
    primary: Primary | None = None
    per_class: list[ClassRecall] | None = optional()  # classification, re-scored baseline
    scope: RowScope | None = optional()  # engine: dask, a holdout larger than its sample
    schema_version: int = SCHEMA_VERSION

    @property
    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if g.status == "fail"]


@dataclass
class GoldenFailure:
    row: int  # the row's line in the CSV (the header is line 1)
    expected: str
    got: str
    note: str | None = None


@dataclass
class GoldenResult:
    path: str
    rows: int
    failed: int
    max_failures: int
    passed: bool
    failures: list[GoldenFailure] = field(default_factory=list)


@dataclass
class RateCheck:
    """A perturbation and the share of rows whose prediction moved against the rule."""

    kind: str  # invariance | directional
    name: str
    column: str
    change: str  # what was done to the column
    rows: int  # rows whose input changed: the rate's denominator
    rate: Num
    baseline_rate: Num | None
    threshold: float
    passed: bool
    reason: str
    examples: list[str] = field(default_factory=list)  # holdout row labels that moved


@dataclass
class ReliabilityRow:
    low: float
    high: float
    rows: int
    confidence: float | None
    observed: float | None
    baseline_rows: int | None = None
    baseline_confidence: float | None = None
    baseline_observed: float | None = None


@dataclass
class CalibrationResult:
    bins: int
    confidence: float  # of the intervals
    what: str  # which confidence the table bins
    metrics: list[CalibrationMetric]
    reliability: list[ReliabilityRow]
    gates: list[GateResult]
    passed: bool


@dataclass
class Measure:
    name: str  # model size | latency, 1 row | latency, 1,000 rows
    unit: str  # bytes | ms
    candidate: float
    baseline: float | None
    limit: float | None  # the absolute budget
    ratio_limit: float | None  # the budget relative to the baseline
    passed: bool
    reason: str


@dataclass
class BudgetsResult:
    repeats: int
    measures: list[Measure]
    passed: bool


@dataclass
class TestCase:
    __test__ = False  # not a test class, whatever pytest's collector thinks of the name

    nodeid: str
    outcome: str  # passed | failed | skipped | error (setup, teardown or collection)
    message: str | None = None
    duration: float = 0.0


@dataclass
class SuiteResult:
    paths: list[str]
    exit_code: int
    tests: list[TestCase] = field(default_factory=list)
    problem: str | None = None  # why the suite as a whole failed
    passed: bool = False

    def count(self, outcome: str) -> int:
        return sum(t.outcome == outcome for t in self.tests)


@dataclass
class TestFailure:
    kind: str  # slice | golden | invariance | directional | calibration | budget | pytest
    name: str
    message: str


@dataclass
class SliceRow:
    name: str
    by: str
    rows: int
    gated: bool  # at least min_rows rows
    metrics: dict[str, SliceMetric]


@dataclass
class SliceGate:
    slice: str
    gate: GateResult


@dataclass
class SlicesResult:
    metrics: list[str]
    ranked_by: str  # the metric the table is sorted by, worst first
    min_rows: int
    confidence: float
    resamples: int
    slices: list[SliceRow]  # worst first; slices too small to gate after the rest
    gates: list[SliceGate]
    passed: bool
    worst: str | None = None
    not_compared: str | None = optional()  # why there are no deltas though a baseline exists
    scope: RowScope | None = optional()  # engine: dask, a holdout larger than its sample


@dataclass
class ModelTestsResult:
    """model-tests.json: every model test of the build and whether it held."""

    configured: bool
    passed: bool = True
    total: int = 0
    failed: int = 0
    baseline: str = "none"  # none | compared | why the baseline gave nothing to compare
    failures: list[TestFailure] = field(default_factory=list)
    slices: SlicesResult | None = optional()
    golden: GoldenResult | None = optional()
    invariance: list[RateCheck] = field(default_factory=list)
    directional: list[RateCheck] = field(default_factory=list)
    calibration: CalibrationResult | None = optional()
    budgets: BudgetsResult | None = optional()
    pytest: SuiteResult | None = optional()
    schema_version: int = SCHEMA_VERSION


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


MAX_METRICS_BYTES = 1 << 20  # a release's metrics.json is a few KiB


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


# --- monitoring: the reference profile (profile.json) and the drift report (drift.json) --


@dataclass(kw_only=True)
class ColumnProfile:
    """One column's distribution in the training rows (or the model's predictions
    on the holdout rows), small whatever the rows: a drift check bins new rows
    into the same bins and compares the counts.

    `kind`: numeric (a histogram over fixed bins whose edges are the training
    data's quantiles), categorical (the `top_k` most frequent values' counts and
    an "other" count), or, without any value stored: text (free text or an
    identifier: mostly distinct values) and masked (the personal-data rules
    flag it). Missing values are counted apart from the bins in every kind."""

    name: str
    kind: Literal["numeric", "categorical", "text", "masked"]
    dtype: str
    rows: int  # values profiled, missing ones included
    missing: int
    # numeric: the bins are (-inf, edges[0]], (edges[0], edges[1]], …, (edges[-1], inf)
    edges: list[float] | None = optional()
    counts: list[int] | None = optional()  # len(edges) + 1
    # quantiles: each edge is a value the column held once (cut at its quantiles);
    # values: the column has ties at the edges (few distinct values), each bin a set of them.
    binning: Literal["quantiles", "values"] | None = optional()
    quantiles: dict[str, float] | None = optional()  # p01 … p99 of the present values
    mean: float | None = optional()
    std: float | None = optional()
    min: float | None = optional()
    max: float | None = optional()
    # categorical: {value: rows} of the most frequent values; the rest in `other`
    categories: dict[str, int] | None = optional()
    other: int | None = optional()
    distinct: int | None = optional()  # distinct present values (all of them, not only the top)
    withheld: int | None = optional()  # top values left out because they hold personal data
    reason: str | None = optional()  # text and masked: why no value is stored


@dataclass(kw_only=True)
class Profile:
    """profile.json: the reference a drift check compares new data with, so it
    never needs the training data: every feature's and the label's distribution
    in the training rows, and the model's predictions on the holdout rows."""

    task: str
    target: str
    rows: int  # training rows profiled
    bins: int  # numeric histograms' bins (at most)
    top_k: int  # categories kept per column
    columns: list[ColumnProfile]
    label: ColumnProfile | None = None
    holdout_rows: int = 0
    # The predicted class (classification) or value (regression) on the holdout rows.
    predictions: ColumnProfile | None = optional()
    # Binary classification with probabilities: the positive class's probability.
    scores: ColumnProfile | None = optional()
    positive_class: str | None = optional()
    schema_version: int = SCHEMA_VERSION


@dataclass(kw_only=True)
class ColumnDrift:
    """One column (or the label, or the predictions) compared with the reference:
    the test on the bins, its corrected p-value, the effect (numbers: the largest
    gap between the two binned cumulative shares; categories: the total variation
    distance), the PSI, which way it moved, the missing-value rate before and
    after with its own test, new and vanished categories, and whether it drifted."""

    column: str
    kind: str  # numeric | categorical | text | masked
    role: str = "feature"  # feature | label | prediction | score
    test: str = "none"  # chi2 | chi2 monte carlo | none (nothing to compare)
    statistic: Num = math.nan
    p: Num = math.nan
    p_adjusted: Num = math.nan  # corrected over every test of the report
    psi: Num = math.nan
    effect: Num = math.nan
    threshold: Num = math.nan  # the effect a finding needs
    direction: str = ""  # in words: "mean 4.1 → 5.3 (+1.2, +0.6 SD)", "“gold” 12 % → 31 %"
    before: Num = math.nan  # numbers: the means; categories: the moved level's share
    after: Num = math.nan
    spread: Num = math.nan  # numbers: the reference's standard deviation
    spread_after: Num = math.nan  # numbers: the current data's standard deviation
    level: str | None = optional()  # categories: the level whose share moved most
    missing_before: Num = math.nan  # missing-value rates
    missing_after: Num = math.nan
    missing_change: Num = math.nan  # after − before
    missing_p: Num = math.nan
    missing_p_adjusted: Num = math.nan
    new_categories: list[str] = field(default_factory=list)  # values the reference never had
    vanished_categories: list[str] = field(default_factory=list)  # reference values now absent
    rows: list[int] = field(default_factory=list)  # values compared: reference, current
    drifted: bool = False
    why: str | None = optional()  # what made it drift, in words


@dataclass(kw_only=True)
class MetricDrift:
    """A metric of the reference model on the labelled current rows against the
    release's own value on its holdout. Not paired (other rows): the difference
    of two independent estimates, its interval from both intervals."""

    metric: str
    label: str
    greater_is_better: bool
    release: Num  # the release's value on its holdout (metrics.json)
    release_ci_low: Num = math.nan
    release_ci_high: Num = math.nan
    current: Num = math.nan
    ci_low: Num = math.nan  # bootstrap interval on the current rows
    ci_high: Num = math.nan
    delta: Num = math.nan  # current − release
    delta_ci_low: Num = math.nan
    delta_ci_high: Num = math.nan
    verdict: str = "n/a"  # worse | better | within noise | n/a
    drifted: bool = False


@dataclass(kw_only=True)
class PerformanceDrift:
    rows: int  # labelled current rows scored
    sampled: int  # rows the metrics were computed on (a seeded sample of at most sample_rows)
    primary: str
    confidence: float
    method: str
    metrics: list[MetricDrift] = field(default_factory=list)


@dataclass(kw_only=True)
class DriftReference:
    source: str  # "release" or "dir"
    label: str  # the tag, or the folder
    model: str | None = None  # the model's name (the manifest's)
    tag: str | None = optional()
    commit: str | None = optional()
    created: str | None = optional()


@dataclass(kw_only=True)
class DriftCurrent:
    files: list[str]
    rows: int
    labelled: int = 0  # rows with a label (0: the data has no label column)


@dataclass(kw_only=True)
class DriftFinding:
    severity: str  # drift | warn | info
    column: str | None
    message: str  # one line


@dataclass(kw_only=True)
class DriftReport:
    """drift.json: the current data against a release's (or a build's) profile."""

    drifted: bool
    reference: DriftReference
    current: DriftCurrent
    settings: dict[str, float | int | None] = field(default_factory=dict)
    columns: list[ColumnDrift] = field(default_factory=list)  # features, then the label
    prediction: ColumnDrift | None = None
    prediction_score: ColumnDrift | None = optional()
    performance: PerformanceDrift | None = None
    findings: list[DriftFinding] = field(default_factory=list)  # most severe first
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION


# --- the manifest (lineage) ------------------------------------------------------------


@dataclass
class DataFileInfo:
    path: str
    sha256: str
    rows: int
    columns: int


@dataclass(kw_only=True)
class DataInfo:
    files: dict[str, DataFileInfo]
    split: dict[str, Any] | None = None
    train_rows: int | None = None
    test_rows: int | None = None
    # engine: {kind: dask}: the engine, and what the client held of each role's rows
    # (ci_ml.data.Scale.as_json); absent from a local build's manifest.
    engine: dict[str, Any] | None = optional()


@dataclass
class Column:
    name: str
    dtype: str


@dataclass(kw_only=True)
class SchemaInfo:
    source: str | None = None
    sha256: str | None = None


@dataclass(kw_only=True)
class ModelInfo:
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    seeded: list[str] = field(default_factory=list)
    preprocess: dict[str, Any] | None = None
    search: SearchResult | None = optional()
    command: CommandRun | None = optional()
    engine: EngineFit | None = optional()  # engine: dask: the rows it trained on, and where


@dataclass
class MetricPlan:
    """Which metrics a build computes and which one heads the report: decided
    once, when export knows whether the model gives probabilities."""

    names: list[str]
    primary: str


@dataclass(kw_only=True)
class SafeguardsSummary:
    passed: bool | None = None
    findings: int = 0
    allowed_personal_data: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class GitInfo:
    commit: str
    branch: str | None = None
    dirty: bool = False
    github_sha: str | None = None
    config_path: str | None = optional()  # the config's path from the repository's root


@dataclass(kw_only=True)
class Provenance:
    run_url: str | None = None
    actor: str | None = None
    pull_request: dict[str, Any] | None = None
    data_snapshot: str | None = None  # the user's name for the data (a retraining run's)


@dataclass
class FingerprintInfo:
    sha256: str
    parts: dict[str, Any]


@dataclass(kw_only=True)
class Environment:
    python: str | None = None
    implementation: str | None = None
    platform: str | None = None
    packages: dict[str, str | None] = field(default_factory=dict)
    install: dict[str, Any] | None = None


@dataclass(kw_only=True)
class Manifest:
    """manifest.json: what went into the build (data, schema, config, code,
    packages) and what it made, for lineage, the build cache and `reproduce`."""

    ci_ml_version: str | None = None
    name: str | None = None
    created: str | None = None
    task: Literal["classification", "regression"]
    data: DataInfo | None = None
    target: Column | None = None
    features: list[Column]
    classes: list[str | int | float | bool] | None = None
    schema: SchemaInfo = field(default_factory=SchemaInfo)
    config: dict[str, Any] = field(default_factory=dict)
    model: ModelInfo | None = None
    metrics: MetricPlan | None = None
    export: ExportResult | None = None
    safeguards: SafeguardsSummary | None = None
    git: GitInfo | None = None
    provenance: Provenance | None = None
    fingerprint: FingerprintInfo | None = None
    environment: Environment | None = None
    timings_seconds: dict[str, float] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def commit(self) -> str | None:
        return self.git.commit if self.git else None

    @property
    def columns(self) -> dict[str, str]:
        """{column: dtype} of the features and the target."""
        cols = {f.name: f.dtype for f in self.features}
        if self.target:
            cols[self.target.name] = self.target.dtype
        return cols


# --- the chain (_build/chain.json) ----------------------------------------------------


@dataclass(kw_only=True)
class StageState:
    """What became of one stage: sealed (with what it consumed and wrote) or failed."""

    status: Literal["sealed", "failed"]
    seconds: float = 0.0
    config: str | None = None  # digest of the config sections it reads
    data: dict[str, str] = field(default_factory=dict)  # the data files' sha256
    files: dict[str, str] = field(default_factory=dict)  # the sha256 of what it wrote
    baseline: str | None = optional()  # the baseline folder it used
    complete: bool | None = optional()  # the report: every stage before it was sealed
    error: str | None = optional()  # why it failed


@dataclass(kw_only=True)
class ChainRecord:
    config_path: str | None = None  # the config the build was made with
    stages: dict[str, StageState] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION


# --- reading and writing ----------------------------------------------------------------


class RecordError(ValueError):
    """A file is not the record it should be; `problem` says why, for the caller's error."""


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)


def load(cls: type[T], data: Any) -> T:
    """A record from its JSON value, checked against its type. Tolerant: fields
    added since the file was written take their defaults, unknown ones are
    ignored; a newer major schema_version than this release knows is refused."""
    version = data.get("schema_version", 1) if isinstance(data, dict) else None
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise RecordError(
            f"it was written by a newer ci-ml (schema_version {version}; this release reads "
            f"up to {SCHEMA_VERSION}): upgrade ci-ml"
        )
    try:
        return _adapter(cls).validate_python(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise RecordError(f"{where}: {first['msg']}") from None


def dump(record: Any) -> Any:
    """A record as plain JSON values, after checking it against its own type (what
    is written must read back), so a stage can never write a malformed record."""
    data = plain(record)
    if dataclasses.is_dataclass(record):
        load(type(record), data)
    return data


def read_manifest(directory: Path) -> Manifest:
    """A build folder's manifest.json as its record; a missing or malformed one is a
    usage error naming the folder."""
    path = directory / "manifest.json"
    try:
        return load(Manifest, read_json(path))
    except (OSError, ValueError) as e:  # RecordError is a ValueError
        raise UsageError(
            f"{path} is not a ci-ml manifest: {str(e)[:300]}",
            hint="point at the artifact folder of a ci-ml build",
        ) from None
