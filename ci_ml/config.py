"""The `ci-ml.yaml` config: pydantic models and a loader whose errors name the key.

Paths in the config are relative to the config file's folder, so
`ci-ml run --config examples/x/ci-ml.yaml` works from anywhere.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from ci_ml import suggest
from ci_ml.errors import ConfigError
from ci_ml.stats.metrics import METRICS

# An example of a valid value for every key, shown in error messages.
EXAMPLES: dict[str, str] = {
    "data": "data: {train: data/train.csv, test: data/test.csv, target: label}",
    "data.train": "train: data/train.csv",
    "data.test": "test: data/test.csv",
    "data.path": "path: data/all.csv  (with split: {test_size: 0.2, seed: 0})",
    "data.target": "target: label",
    "data.drop": "drop: [id, timestamp]",
    "data.split": "split: {test_size: 0.2, seed: 0, stratify: true}",
    "data.split.by": "by: row_key  (the same holdout rows on the local and the Dask engine)",
    "data.split.test_size": "test_size: 0.2",
    "schema": "schema: schema.yaml  (or schema: my_pkg.schemas:train_schema)",
    "model": "model: {estimator: sklearn.linear_model.LogisticRegression, params: {C: 1.0}}",
    "model.estimator": "estimator: sklearn.ensemble.RandomForestClassifier",
    "model.factory": "factory: model.py:build_model",
    "model.params": "params: {n_estimators: 200, max_depth: 8}",
    "model.seed": "seed: 42",
    "model.preprocess": "preprocess: auto  (or none: the estimator gets the columns as they are)",
    "model.code": "code: [features.py, lib/]  (files the factory imports, for the build cache)",
    "model.search": "search: {method: random, space: {max_depth: [3, 6, 9], learning_rate: {low: 0.01, high: 0.3, log: true}}, max_trials: 20, cv: 3}",
    "model.search.space": "space: {n_estimators: [50, 100], max_depth: {low: 2, high: 8, int: true}, C: {low: 0.001, high: 100, log: true}}",
    "model.search.method": "method: random  (or grid, halving)",
    "model.command": "command: {python} train.py --out {model_dir}  (placeholders: {model_dir}, {train}, {seed}, {python}, {config_dir})",
    "model.command_inputs": "command_inputs: ['*.py', 'nets/**/*.py']  (globs relative to the config: the command's code, for the build cache)",
    "task": "task: classification  (or regression, auto)",
    "metrics": "metrics: {list: [accuracy, roc_auc], primary: roc_auc}",
    "metrics.primary": "primary: roc_auc",
    "metrics.list": "list: [accuracy, f1_macro, roc_auc]",
    "export": "export: {target_opset: 17, tolerance: 1.0e-4}",
    "export.tolerance": "tolerance: 1.0e-4",
    "gates": "gates: [{metric: roc_auc, min: 0.9}, {metric: roc_auc, max_regression: 0.005}]",
    "gates.min": "{metric: roc_auc, min: 0.9}  (a floor on a higher-is-better metric)",
    "gates.max": "{metric: log_loss, max: 0.4}  (a cap on a lower-is-better metric)",
    "baseline": "baseline: {on_unscorable: fail}  (or recorded, skip)",
    "safeguards": "safeguards: {leakage: {severity: error, max_score: 0.98}, skew: {severity: warn}}",
    "safeguards.allow_personal_data": "allow_personal_data: {email: needed to join with CRM, consented}",
    "statistics": "statistics: {resamples: 1000, confidence: 0.95, seed: 0}",
    "release": "release: {tag_prefix: model-v, history: 10, registry: {kind: github}}",
    "release.history": "history: 10  (past releases in the report's history chart; 0 for none)",
    "release.registry": "registry: {kind: folder, path: ../model-registry}  (or {kind: github}, the default)",
    "release.registry.kind": "kind: github  (GitHub releases; or folder, with a path)",
    "release.registry.path": "path: ../model-registry  (kind: folder; relative to the config)",
    "model_tests": "model_tests: {slices: {columns: {plan: values}}, pytest: [tests_model]}",
    "model_tests.slices": "slices: {columns: {plan: values, age: [0, 30, 60, .inf]}, crossings: [[plan, age]], gates: [{metric: roc_auc, max_regression: 0.05}]}",
    "model_tests.slices.columns": "columns: {plan: values, age: [0, 30, 60, .inf]}",
    "model_tests.slices.crossings": "crossings: [[plan, region]]",
    "model_tests.slices.gates": "gates: [{metric: roc_auc, min: 0.6}, {metric: roc_auc, max_regression: 0.05, only_if_significant: true}]",
    "model_tests.golden": "golden: {path: tests_model/golden.csv, max_failures: 0}",
    "model_tests.invariance": "invariance: [{column: region, resample: true, max_flip_rate: 0.02}, {column: fee, noise: 0.5}, {column: channel, swap: {web: store}}]",
    "model_tests.directional": "directional: [{column: tenure_months, step: 12, direction: decrease, max_violation_rate: 0.01}]",
    "model_tests.calibration": "calibration: {bins: 10, gates: [{metric: ece, max: 0.05}, {metric: brier, max_regression: 0.01}]}",
    "model_tests.budgets": "budgets: {max_model_bytes: 5000000, max_latency_ms: 5, max_latency_ms_1k: 50, max_slowdown: 2}",
    "model_tests.pytest": "pytest: [tests_model]",
    "signing": "signing: {public_key: keys/model.pub, required: true}",
    "engine": "engine: {kind: dask, address_env: DASK_SCHEDULER_ADDRESS}  (or kind: local, the default)",
    "engine.kind": "kind: dask  (or local: pandas in this process, the default)",
    "engine.address_env": "address_env: DASK_SCHEDULER_ADDRESS  (the variable holding tcp://host:8786)",
    "engine.sample_rows": "sample_rows: 1000000  (training rows for an estimator that cannot train on Dask)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Split(_Strict):
    test_size: float = Field(0.2, gt=0, lt=1)
    seed: int = 0
    stratify: bool | None = None  # None: stratify for classification
    # random: scikit-learn's train_test_split; row_key: a seeded hash of each row's
    # values, the same rows on every engine. None: the engine's (Config.split_by).
    by: Literal["random", "row_key"] | None = None

    @model_serializer(mode="wrap")
    def _without_unset_by(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """`by` left out while unset: the config digest of a build from before it
        existed stays the same."""
        out: dict[str, object] = handler(self)
        if self.by is None:
            out.pop("by", None)
        return out


class DataConfig(_Strict):
    train: Path | None = None
    test: Path | None = None
    path: Path | None = None
    split: Split | None = None
    target: str
    drop: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.path is not None:
            if self.train is not None or self.test is not None:
                raise ValueError(
                    "give either `path` (with `split`) or `train` and `test`, not both"
                )
            if self.split is None:
                self.split = Split()
        elif self.train is None or self.test is None:
            raise ValueError("give both `train` and `test`, or one `path` with `split`")
        return self


class Distribution(_Strict):
    """A range a random or halving search draws a parameter from: uniform in
    [low, high], log-uniform with `log: true`, whole numbers with `int: true`."""

    low: FiniteFloat
    high: FiniteFloat
    log: bool = False
    int_: bool = Field(False, alias="int")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _a_range(self) -> Distribution:
        if self.high <= self.low:
            raise ValueError(f"high must be above low (got low {self.low:g}, high {self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        if self.int_ and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError("an int range needs whole-number low and high")
        if self.int_ and self.log:
            raise ValueError("log ranges are for floats; an int range is drawn uniformly")
        return self


SEARCH_METHODS = ("grid", "random", "halving")


class SearchConfig(_Strict):
    """model.search: the params to try, cross-validated on the training rows only
    (ci_ml/modeling/search.py); the best is refitted on all of them."""

    # grid: every combination of the lists; random: max_trials draws; halving:
    # scikit-learn's successive halving over max_trials draws.
    method: Literal["grid", "random", "halving"] = "random"
    space: dict[str, list[Any] | Distribution]
    cv: int = Field(3, ge=2, le=20)  # folds (stratified for classification)
    scoring: str | None = None  # a metric name (default: the primary metric)
    max_trials: int = Field(20, ge=1, le=10_000)
    # Stop launching candidates once this is spent (grid and random: checked
    # between batches of candidates; see docs/guide/search.md).
    max_minutes: FiniteFloat | None = Field(None, gt=0)
    n_jobs: int = Field(1, ge=-1)  # joblib workers (-1: every core); 0 is not a count
    top: int = Field(5, ge=1, le=50)  # rows of the candidates' table in the report

    @field_validator("space")
    @classmethod
    def _space(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not v:
            raise ValueError("name at least one parameter to search, e.g. {max_depth: [3, 6]}")
        for name, values in v.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"{name}: give at least one value")
        return v

    @field_validator("n_jobs")
    @classmethod
    def _workers(cls, v: int) -> int:
        if v == 0:
            raise ValueError("n_jobs: 0 runs nothing; use 1, a number of workers, or -1 for all")
        return v

    @model_validator(mode="after")
    def _method_fits(self) -> SearchConfig:
        ranges = [k for k, v in self.space.items() if isinstance(v, Distribution)]
        if self.method == "grid" and ranges:
            raise ValueError(
                f"a grid takes lists of values; {', '.join(ranges)} is a range "
                "(use method: random or halving, or list the values)"
            )
        if self.method == "halving" and self.max_minutes is not None:
            raise ValueError(
                "max_minutes bounds grid and random searches only: successive halving "
                "runs its rounds in one scikit-learn call (bound it with max_trials)"
            )
        return self


# What a command's argument list may name: {model_dir} and the rest, substituted
# by ci-ml before it runs the command (ci_ml/modeling/command.py).
COMMAND_PLACEHOLDERS = ("model_dir", "train", "seed", "python", "config_dir")


def command_placeholders(command: str) -> list[str]:
    """The placeholders `command` names; ValueError for a malformed one."""
    import string

    try:
        names = [f for _, f, _, _ in string.Formatter().parse(command) if f is not None]
    except ValueError as e:
        raise ValueError(
            f"a malformed placeholder ({e}); write {{{{ and }}}} for literal braces"
        ) from None
    return names


class ModelConfig(_Strict):
    estimator: str | None = None
    factory: str | None = None
    # Training that is not an estimator object: a command (an argument list, no
    # shell) that writes model.onnx into {model_dir} (ci_ml/modeling/command.py).
    command: str | None = None
    # Globs (relative to the config) of the command's code, for the build cache,
    # besides the files the command names. Default: the Python files beside the config.
    command_inputs: list[str] | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    # auto: ci-ml puts one-hot encoding and imputation from the schema in front
    # of an `estimator:` (stages/preprocess.py); none: the estimator gets the
    # columns as they are. A factory builds its own preprocessing.
    preprocess: Literal["auto", "none"] = "auto"
    # Files and folders (relative to the config) the factory imports: part of the
    # build's fingerprint, so changing them retrains instead of reusing the baseline.
    code: list[str] = Field(default_factory=list)
    search: SearchConfig | None = None

    @model_validator(mode="after")
    def _one_way(self) -> ModelConfig:
        given = [k for k in ("estimator", "factory", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `estimator` (an import path), `factory` (file.py:function) "
                f"or `command` (a training command that writes model.onnx); got {given or 'none'}"
            )
        explicit_auto = "preprocess" in self.model_fields_set and self.preprocess == "auto"
        if self.estimator is None and explicit_auto:
            raise ValueError(
                "preprocess: auto applies to `estimator:` only; a factory or a command builds "
                "its own preprocessing (remove the key)"
            )
        if self.factory is not None and ":" not in self.factory:
            raise ValueError(f"factory {self.factory!r} must look like path/to/file.py:function")
        if self.estimator is not None and "." not in self.estimator:
            raise ValueError(f"estimator {self.estimator!r} must be a full import path")
        if self.command is not None:
            self._check_command(self.command)
        elif self.command_inputs is not None:
            raise ValueError(
                "command_inputs is for `command:`; a factory lists its files in `code`"
            )
        return self

    def _check_command(self, command: str) -> None:
        import shlex

        if self.search is not None:
            raise ValueError(
                "search tunes an `estimator` or a `factory`; a command does its own tuning "
                "(remove `search` or train with an estimator)"
            )
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise ValueError(f"command cannot be split into arguments: {e}") from None
        if not argv:
            raise ValueError("command is empty")
        unknown = sorted(set(command_placeholders(command)) - set(COMMAND_PLACEHOLDERS))
        if unknown:
            known = ", ".join("{" + p + "}" for p in COMMAND_PLACEHOLDERS)
            raise ValueError(
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)} "
                f"in command; known: {known}"
            )

    @property
    def trains_by_command(self) -> bool:
        return self.command is not None


class MetricsConfig(_Strict):
    names: list[str] | None = Field(None, alias="list")
    primary: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ExportConfig(_Strict):
    target_opset: int | None = Field(None, ge=9)
    # Finite and below 1: a probability differs by at most 1, so a larger (or
    # infinite) tolerance would make the parity check unable to fail.
    tolerance: FiniteFloat = Field(1e-4, gt=0, lt=1)


class Gate(_Strict):
    metric: str
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None
    max_regression: FiniteFloat | None = Field(None, ge=0)
    max_regression_pct: FiniteFloat | None = Field(None, ge=0)
    only_if_significant: bool = False

    @model_validator(mode="after")
    def _one_rule(self) -> Gate:
        rules = [
            r
            for r in ("min", "max", "max_regression", "max_regression_pct")
            if getattr(self, r) is not None
        ]
        if len(rules) != 1:
            raise ValueError(
                f"a gate needs exactly one of min, max, max_regression, max_regression_pct (got {rules or 'none'}); "
                "write one list item per rule"
            )
        _check_direction(self.metric, rules[0])
        return self

    @property
    def rule(self) -> str:
        for r in ("min", "max", "max_regression", "max_regression_pct"):
            if getattr(self, r) is not None:
                return r
        raise AssertionError("unreachable")


def _check_direction(metric: str, rule: str) -> None:
    """`min` on an error metric (or `max` on a score) bounds the wrong side: it
    fails on a model that got better and never on one that got worse."""

    m = METRICS.get(metric)
    if m is None:
        return  # unknown names are reported with the task's metric list
    if rule == "min" and not m.greater_is_better:
        raise ValueError(
            f"{metric} is lower-is-better, so `min` would fail when it improves; "
            f"use `max: …` to cap {metric}"
        )
    if rule == "max" and m.greater_is_better:
        raise ValueError(
            f"{metric} is higher-is-better, so `max` would fail when it improves; "
            f"use `min: …` for a floor on {metric}"
        )


class BaselineConfig(_Strict):
    # What relative gates do when a baseline exists but cannot be scored on
    # this holdout (a column it needs is gone): fail (default), compare with
    # its recorded metrics even on other data (recorded), or report the gates
    # as not evaluated (skip).
    on_unscorable: Literal["fail", "recorded", "skip"] = "fail"


Severity = Literal["error", "warn", "off"]


class _Check(_Strict):
    severity: Severity


class ContaminationCheck(_Check):
    severity: Severity = "error"
    # Share of holdout rows whose features also occur in the training rows.
    max_fraction: float = Field(0.01, ge=0, le=1)


class DuplicatesCheck(_Check):
    severity: Severity = "warn"
    max_fraction: float = Field(0.05, ge=0, le=1)  # duplicated training rows


class ConflictsCheck(_Check):
    severity: Severity = "warn"
    max_fraction: float = Field(0.01, ge=0, le=1)  # training rows in groups with two labels


class LeakageCheck(_Check):
    severity: Severity = "error"
    # A feature that alone predicts the target this well (0 = no better than the
    # majority class or the mean, 1 = perfectly) is the target in disguise.
    max_score: float = Field(0.98, gt=0, le=1)
    # A jump of a feature's score against the baseline build's (a warning).
    max_jump: float = Field(0.3, gt=0, le=1)
    sample_rows: int = Field(50_000, ge=1_000)  # training rows the scores are computed on


class SkewCheck(_Check):
    """A column is skewed when both hold: its two-sample test (Kolmogorov–Smirnov
    for numbers, chi-squared for categories) rejects at `alpha` after a
    Benjamini–Hochberg correction over the columns, and it moved further than a
    threshold. The defaults warn in at most 5 % of builds when nothing moved
    (benchmarks/bench_skew_false_alarms.py)."""

    severity: Severity = "warn"
    alpha: float = Field(0.01, gt=0, lt=1)  # corrected over the columns
    # Numbers: the KS statistic (the largest gap between the two cumulative shares).
    max_ks: float = Field(0.1, gt=0, le=1)
    # Categories: the total variation distance (the share of rows that would have
    # to change category for the two to match).
    max_share_shift: float = Field(0.1, gt=0, le=1)
    # Optional: a population stability index above this also counts as far enough.
    max_psi: float | None = Field(None, gt=0)


class PersonalDataCheck(_Check):
    severity: Severity = "error"
    # Default region for phone numbers written without a country code.
    phone_region: str = Field("US", min_length=2, max_length=2)
    # python-stdnum validators for national identifiers, e.g. [us.ssn, fr.nir, br.cpf].
    national_ids: list[str] = Field(default_factory=lambda: ["us.ssn"])
    sample_values: int = Field(10_000, ge=100)  # values read per column (a seeded sample)


class SafeguardsConfig(_Strict):
    contamination: ContaminationCheck = Field(default_factory=ContaminationCheck)
    duplicates: DuplicatesCheck = Field(default_factory=DuplicatesCheck)
    conflicting_labels: ConflictsCheck = Field(default_factory=ConflictsCheck)
    leakage: LeakageCheck = Field(default_factory=LeakageCheck)
    skew: SkewCheck = Field(default_factory=SkewCheck)
    personal_data: PersonalDataCheck = Field(default_factory=PersonalDataCheck)
    # Columns that may hold personal data, each with the reason (recorded in the manifest).
    allow_personal_data: dict[str, str] = Field(default_factory=dict)

    @field_validator("allow_personal_data")
    @classmethod
    def _reasons(cls, v: dict[str, str]) -> dict[str, str]:
        empty = [c for c, why in v.items() if not str(why).strip()]
        if empty:
            raise ValueError(f"give a reason for every allowed column (none for {empty})")
        return v


class StatisticsConfig(_Strict):
    resamples: int = Field(1000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0


class SliceConfig(_Strict):
    # {column: "values"} slices by each value; {column: [edges]} by bins [a, b).
    columns: dict[str, Literal["values"] | list[float]] = Field(default_factory=dict)
    # Pairs of columns crossed value by value (a column in `columns` keeps its bins).
    crossings: list[list[str]] = Field(default_factory=list)
    metrics: list[str] | None = None  # default: the gated metrics and the primary one
    min_rows: int = Field(30, ge=1)  # smaller slices are reported, never gated
    max_slices: int = Field(100, ge=1, le=10_000)  # per column or crossing
    gates: list[Gate] = Field(default_factory=list)

    @field_validator("columns")
    @classmethod
    def _bins(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, spec in v.items():
            if isinstance(spec, list):
                if len(spec) < 2 or any(e != e for e in spec):
                    raise ValueError(f"{name}: give at least two bin edges, e.g. [0, 30, .inf]")
                if any(b <= a for a, b in zip(spec, spec[1:], strict=False)):
                    raise ValueError(f"{name}: bin edges must increase strictly (got {spec})")
        return v

    @field_serializer("columns")
    def _yaml_infinity(self, v: dict[str, Any]) -> dict[str, Any]:
        # Strict JSON has no Infinity: write open ends as YAML spells them.
        def edge(e: float) -> float | str:
            return e if math.isfinite(e) else (".inf" if e > 0 else "-.inf")

        return {k: [edge(e) for e in s] if isinstance(s, list) else s for k, s in v.items()}

    @field_validator("crossings")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        for pair in v:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"a crossing names two different columns (got {pair})")
        return v

    @model_validator(mode="after")
    def _something(self) -> SliceConfig:
        if not self.columns and not self.crossings:
            raise ValueError("name at least one column (columns: {plan: values}) or crossing")
        return self


class GoldenConfig(_Strict):
    # A CSV of feature values with `expected` (a class) or `expected_min` /
    # `expected_max` (a range, regression); an optional `note` column.
    path: Path
    max_failures: int = Field(0, ge=0)


Scalar = str | bool | int | float


class InvarianceCheck(_Strict):
    name: str | None = None
    column: str
    resample: bool = False  # values drawn from the column's own training distribution
    noise: FiniteFloat | None = Field(None, gt=0)  # uniform noise in [-noise, +noise]
    swap: dict[Scalar, Scalar] | None = None  # {from: to} category values
    max_flip_rate: float = Field(0.0, ge=0, le=1)
    # Regression: a prediction that moves by more than this has "flipped" (required there).
    tolerance: FiniteFloat | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_perturbation(self) -> InvarianceCheck:
        given = [k for k in ("resample", "noise", "swap") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one perturbation: resample: true, noise: <bound> or "
                f"swap: {{from: to}} (got {given or 'none'})"
            )
        return self

    @property
    def perturbation(self) -> str:
        return "resample" if self.resample else "noise" if self.noise else "swap"


class DirectionalCheck(_Strict):
    name: str | None = None
    column: str
    step: FiniteFloat
    direction: Literal["increase", "decrease"]  # how the score must move
    # Classification: the class whose probability is the score (default: a binary
    # model's second class, the positive one).
    class_: Scalar | None = Field(None, alias="class")
    max_violation_rate: float = Field(0.0, ge=0, le=1)
    tolerance: FiniteFloat = Field(0.0, ge=0)  # moves smaller than this are no move

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("step")
    @classmethod
    def _nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("a step of 0 moves nothing")
        return v


CALIBRATION_METRICS = ("brier", "ece")


class CalibrationConfig(_Strict):
    bins: int = Field(10, ge=2, le=100)
    gates: list[Gate] = Field(default_factory=list)  # on brier or ece

    @field_validator("gates")
    @classmethod
    def _lower_is_better(cls, v: list[Gate]) -> list[Gate]:
        for g in v:
            if g.metric not in CALIBRATION_METRICS:
                raise ValueError(f"calibration gates take brier or ece, not {g.metric!r}")
            if g.rule == "min":
                raise ValueError(f"{g.metric} is lower-is-better: use `max:` to cap it")
        return v


class BudgetsConfig(_Strict):
    max_model_bytes: int | None = Field(None, gt=0)
    max_latency_ms: FiniteFloat | None = Field(None, gt=0)  # one row, median
    max_latency_ms_1k: FiniteFloat | None = Field(None, gt=0)  # 1,000 rows, median
    max_slowdown: FiniteFloat | None = Field(None, gt=0)  # latency / the baseline's
    max_size_growth: FiniteFloat | None = Field(None, gt=0)  # bytes / the baseline's
    repeats: int = Field(30, ge=3, le=10_000)


class ModelTestsConfig(_Strict):
    slices: SliceConfig | None = None
    golden: GoldenConfig | None = None
    invariance: list[InvarianceCheck] = Field(default_factory=list)
    directional: list[DirectionalCheck] = Field(default_factory=list)
    calibration: CalibrationConfig | None = None
    budgets: BudgetsConfig | None = None
    pytest: list[Path] = Field(default_factory=list)  # the project's own test files or folders
    sample_rows: int = Field(100_000, ge=100)  # holdout rows the perturbation checks use at most

    @property
    def configured(self) -> bool:
        return any(
            (self.slices, self.golden, self.invariance, self.directional, self.calibration)
        ) or bool(self.budgets or self.pytest)

    def training_columns(self) -> list[str]:
        """The columns the model tests draw from the training rows (resampled
        invariance): what train keeps of the training frame once it has fitted."""
        if not self.configured:
            return []
        return sorted({c.column for c in self.invariance if c.resample})


class RegistryConfig(_Strict):
    """Where model releases are published and fetched from: GitHub releases of the
    repository, or a folder (air-gapped teams; a path relative to the config)."""

    kind: Literal["github", "folder"] = "github"
    path: str | None = None

    @model_validator(mode="after")
    def _path_for_a_folder(self) -> RegistryConfig:
        if self.kind == "folder" and not (self.path and self.path.strip()):
            raise ValueError("a folder registry needs its path: {kind: folder, path: DIR}")
        if self.kind == "github" and self.path is not None:
            raise ValueError("path is for kind: folder; GitHub releases need no path")
        return self


class ReleaseConfig(_Strict):
    tag_prefix: str = "model-v"
    # How many past model releases the report's history chart shows (0: none).
    history: int = Field(10, ge=0, le=100)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)

    @field_validator("tag_prefix")
    @classmethod
    def _tag_ok(cls, v: str) -> str:
        if not v or any(c.isspace() or c in "~^:?*[\\" for c in v):
            raise ValueError(
                "tag_prefix must be a non-empty git tag fragment without spaces or ~^:?*[\\"
            )
        return v


class SigningConfig(_Strict):
    """How fetched baselines and releases are verified (signing keys are secrets,
    given to the publishing job, never in the config)."""

    public_key: str | None = None  # a PEM file, relative to the config
    identity: str | None = None  # Sigstore: the signing workflow's identity (its URI)
    issuer: str = "https://token.actions.githubusercontent.com"
    required: bool = False  # refuse an unsigned baseline or release


class CardConfig(_Strict):
    """What the model card says that a build cannot measure (README: The model card):
    each a short paragraph of plain text, shown as written (escaped)."""

    description: str | None = None
    intended_use: str | None = None
    limitations: str | None = None


class DriftConfig(_Strict):
    """`ci-ml drift`: when a column (or the label, or the model's predictions) has
    drifted from the release's profile. Like the skew safeguard, a finding needs
    both: statistical evidence (its test on the profile's bins rejects at `alpha`
    after a Benjamini–Hochberg correction over every test of the report) and an
    effect beyond a threshold, so a large sample does not report a shift nobody
    cares about. The defaults are the skew safeguard's; their false-alarm rate
    on data that did not move is measured in benchmarks/bench_drift_false_alarms.py."""

    alpha: float = Field(0.01, gt=0, lt=1)  # corrected over the tests
    # Numbers: the largest gap between the reference's and the current binned
    # cumulative shares (the KS statistic, read at the profile's bin edges).
    min_ks: float = Field(0.1, gt=0, le=1)
    # Categories: the total variation distance (the share of rows that would have
    # to change category for the two to match).
    min_share_shift: float = Field(0.1, gt=0, le=1)
    # Optional: a population stability index above this also counts as far enough
    # (0.25 is the usual "significant shift" rule of thumb).
    min_psi: float | None = Field(None, gt=0)
    # The missing-value rate must move by this much (absolute: 0.05 = 5 points).
    min_missing_change: float = Field(0.05, gt=0, le=1)
    # Labelled current data: the model's primary metric must be worse than the
    # release's by this much (absolute), beyond the interval of the difference.
    min_metric_change: float = Field(0.02, ge=0)
    confidence: float = Field(0.95, gt=0, lt=1)  # of the metrics' intervals
    resamples: int = Field(1000, ge=100, le=100_000)  # bootstrap resamples of the metrics
    seed: int = 0
    chunk_rows: int = Field(100_000, ge=1000)  # rows read at a time (CSV; Parquet reads row groups)
    sample_rows: int = Field(100_000, ge=1000)  # labelled rows kept (seeded) for the metrics


class EngineConfig(_Strict):
    """Where the data are read and the heavy passes run (docs/guide/scale.md):
    `local`, pandas in this process (the default), or a Dask cluster. The
    scheduler's address is a secret of the CI, so the config names the environment
    variable that holds it, never the address; with none set, a LocalCluster of
    `workers` processes is started (tests, a laptop, a large self-hosted runner)."""

    kind: Literal["local", "dask"] = "local"
    address_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    workers: int = Field(2, ge=1, le=1024)  # LocalCluster only
    threads_per_worker: int = Field(1, ge=1, le=256)  # LocalCluster only
    # LocalCluster only: workers in processes (false: threads of this process, for tests)
    processes: bool = True
    connect_seconds: float = Field(30, gt=0, le=600)  # to reach the scheduler at the address
    # An estimator that cannot train on the cluster is fitted on a seeded sample of
    # the training rows of at most this many rows (its size is in the manifest and
    # the comment); the holdout rows the per-row stages read are capped the same way.
    sample_rows: int = Field(1_000_000, ge=1_000)
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _no_address(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "address" in raw:
            raise ValueError(
                "the scheduler's address does not go in the config (it is a secret of the "
                "CI): put it in an environment variable and name it with address_env"
            )
        return raw

    @model_validator(mode="after")
    def _dask_only(self) -> EngineConfig:
        if self.kind == "local" and self.address_env is not None:
            raise ValueError("address_env is for kind: dask; the local engine needs no address")
        return self


class Config(_Strict):
    name: str | None = None
    data: DataConfig
    schema_: str | None = Field(None, alias="schema")
    model: ModelConfig
    task: Literal["classification", "regression", "auto"] = "auto"
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    gates: list[Gate] = Field(default_factory=list)
    baseline: BaselineConfig = Field(default_factory=BaselineConfig)
    safeguards: SafeguardsConfig = Field(default_factory=SafeguardsConfig)
    statistics: StatisticsConfig = Field(default_factory=StatisticsConfig)
    model_tests: ModelTestsConfig = Field(default_factory=ModelTestsConfig)
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    signing: SigningConfig = Field(default_factory=SigningConfig)
    card: CardConfig = Field(default_factory=CardConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)

    # Set by the loader, not by the user.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path = Field(default=Path("ci-ml.yaml"), exclude=True)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def resolve(self, p: Path | str) -> Path:
        """A config-relative path made absolute."""
        p = Path(p)
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def display_name(self) -> str:
        return self.name or self.base_dir.resolve().name

    @property
    def split_by(self) -> str | None:
        """How `data.path` is split into training and holdout rows: `random`
        (scikit-learn's train_test_split, stratified for classification) or
        `row_key` (a seeded hash of each row's values); unset, the engine's own:
        random locally, row key on Dask, which cannot shuffle the whole table.
        None: no `data.path` (the holdout is its own file)."""
        s = self.data.split
        if s is None or self.data.path is None:
            return None
        return s.by or ("random" if self.engine.kind == "local" else "row_key")

    @model_validator(mode="after")
    def _split_the_engine_can_do(self) -> Config:
        by = self.split_by
        s = self.data.split
        if by is None or s is None:
            return self
        if by == "random" and self.engine.kind != "local":
            raise ValueError(
                "data.split.by: random needs the whole table in one process; the Dask "
                "engine splits by row key (remove `by`, or set by: row_key)"
            )
        if by == "row_key" and s.stratify:
            raise ValueError(
                "data.split: a row-key split is not stratified (each class keeps test_size "
                "of its rows in expectation); remove stratify: true, or use by: random "
                "on the local engine"
            )
        return self

    @model_serializer(mode="wrap")
    def _without_default_engine(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        """The default engine is left out of the dump: a local build's config digest,
        fingerprint and manifest stay what they were before engines existed."""
        out: dict[str, object] = handler(self)
        if self.engine == EngineConfig():
            out.pop("engine", None)
        return out


# The JSON Schema of ci-ml.yaml, generated from the models above by `config_schema`
# and shipped in the package (scripts/gen_docs.py writes it; a test fails when it is
# stale). Editors find it through the first line `ci-ml init` writes, at the tag of
# the ci-ml version that wrote it.
SCHEMA_FILE = "schemas/ci-ml.schema.json"
SCHEMA_URL = "https://raw.githubusercontent.com/ci-ml/ci-ml/v{version}/ci_ml/" + SCHEMA_FILE
_LOADER_FIELDS = ("base_dir", "source")


def config_schema(version: str) -> dict[str, Any]:
    """ci-ml.yaml's JSON Schema (draft 2020-12): the models' own, without the fields
    the loader sets, each key that has one with its example (EXAMPLES) as description.
    Looser than the models where a rule spans keys (`train`+`test` or `path`): the
    loader still checks those."""
    schema = Config.model_json_schema(by_alias=True, mode="validation")
    for name in _LOADER_FIELDS:
        del schema["properties"][name]
    defs = schema.get("$defs", {})
    for key, example in EXAMPLES.items():
        node = _schema_node(schema, defs, key.split("."))
        if node is not None:
            node.setdefault("description", f"Example: {example}")
            node.setdefault("title", key.rsplit(".", 1)[-1])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_URL.format(version=version),
        **schema,
        "title": "ci-ml.yaml",
        "description": "The config of ci-ml, a build system for machine-learning pull requests.",
    }


def _schema_node(
    schema: dict[str, Any], defs: dict[str, Any], path: list[str]
) -> dict[str, Any] | None:
    """The property schema at a dotted key, following $ref, anyOf and array items."""
    node: dict[str, Any] | None = schema
    for part in path:
        props = _object_of(node, defs).get("properties", {}) if node is not None else {}
        node = props.get(part)
        if node is None:
            return None
    return node


def _object_of(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The object schema a property stands for (through $ref, a nullable anyOf, items)."""
    for _ in range(5):
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            objects = [n for n in node["anyOf"] if n.get("type") != "null"]
            node = objects[0] if len(objects) == 1 else node
            if len(objects) != 1:
                return node
        elif node.get("type") == "array" and isinstance(node.get("items"), dict):
            node = node["items"]
        else:
            return node
    return node


def _location(loc: tuple[Any, ...]) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "(top level)"


def _example_for(key: str) -> str | None:
    key = key.split("[")[0]
    while key:
        if key in EXAMPLES:
            return EXAMPLES[key]
        key = key.rpartition(".")[0]
    return None


def _valid_keys(parent: tuple[Any, ...]) -> list[str]:
    """The keys a mapping at `parent` accepts, for 'did you mean' style messages."""
    model: Any = Config
    for part in parent:
        if isinstance(part, int):
            continue
        field = next(
            (f for name, f in model.model_fields.items() if (f.alias or name) == part), None
        )
        if field is None:
            return []
        ann = field.annotation
        args = [
            a
            for a in getattr(ann, "__args__", ())
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        model = (
            ann
            if isinstance(ann, type) and issubclass(ann, BaseModel)
            else (args[0] if args else None)
        )
        if model is None:
            return []
    return [
        f.alias or name
        for name, f in model.model_fields.items()
        if name not in ("base_dir", "source")
    ]


MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NODES = 100_000  # values after YAML aliases are expanded


def _short(value: Any, limit: int = 80) -> str:
    """A value as it may appear in a message: never more than a short excerpt."""
    text = repr(value) if not isinstance(value, (list, dict)) else type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _expanded_size(value: Any, memo: dict[int, int] | None = None) -> int:
    """How many values the document holds once its aliases are expanded, counted
    without expanding them (a shared node is sized once and counted each time)."""
    memo = {} if memo is None else memo
    key = id(value)
    if key not in memo:
        memo[key] = 1  # a cycle counts once
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, (dict, list)):
            memo[key] = 1 + sum(_expanded_size(c, memo) for c in children)
    return memo[key]


def _read_yaml(path: Path) -> Any:
    """yaml.safe_load, refusing files and alias expansions too large for a config."""
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is too large for a config")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", file=str(path)) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = str(getattr(e, "problem", None) or e)[:200]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}", file=str(path)) from None
    if _expanded_size(raw) > MAX_CONFIG_NODES:
        raise ConfigError(
            f"{path}: its YAML aliases expand to more than {MAX_CONFIG_NODES:,} values",
            file=str(path),
            hint="a config needs no deeply nested aliases (`&anchor` / `*alias`); write the values out",
        )
    return raw


def format_validation_error(err: ValidationError, source: Path) -> str:
    lines = [f"{source}: invalid config"]
    for e in err.errors():
        key = _location(e["loc"])
        if key.endswith(("function-after[_one_source()]", "function-after[_one_way()]")):
            key = key.rsplit(".", 1)[0]
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            valid = _valid_keys(e["loc"][:-1])
            msg = "unknown key" + (
                f"; {suggest.did_you_mean(str(e['loc'][-1]), valid)}valid keys here: "
                f"{', '.join(valid)}"
                if valid
                else ""
            )
        elif e["type"] == "missing":
            msg = "required key is missing"
        given = e.get("input")
        given_txt = (
            ""
            if e["type"] in ("missing",) or isinstance(given, dict)
            else f" (got {_short(given)})"
        )
        lines.append(f"  - {key}: {msg}{given_txt}")
        example = _example_for(key)
        if example:
            lines.append(f"      example: {example}")
    return "\n".join(lines)


def load_config(path: Path | str) -> Config:
    """Read and validate a ci-ml.yaml; every problem raises ConfigError naming the key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {path} not found",
            hint="run from your project's root or pass --config path/to/ci-ml.yaml",
        )
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping of keys (data, model, ...), got {type(raw).__name__}",
            file=str(path),
            hint=EXAMPLES["data"],
        )
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, path), file=str(path)) from None
    cfg.base_dir = path.resolve().parent
    cfg.source = path
    return cfg
