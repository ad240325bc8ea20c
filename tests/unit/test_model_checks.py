"""The declarative model tests on real ONNX models (small ones, exported here):
slicing, golden rows, invariance, directional checks, budgets and the config."""

from __future__ import annotations

import copy as copy_module
import itertools
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeRegressor

from ci_ml.checks import model as checks
from ci_ml.checks.slices import codes, slices
from ci_ml.config import (
    BudgetsConfig,
    DirectionalCheck,
    InvarianceCheck,
    ModelTestsConfig,
    SliceConfig,
)
from ci_ml.errors import ConfigError, DataValidationError
from ci_ml.modeling.convert import convert
from ci_ml.records import Manifest, load
from ci_ml.scoring.model import OnnxModel


def churn_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "pro"], n)
    tenure = rng.gamma(2, 12, n).round(1)
    tickets = rng.poisson(1.2, n)
    logit = -1 + 1.2 * (plan == "basic") - 0.05 * tenure + 0.6 * tickets
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"plan": plan, "tenure": tenure, "tickets": tickets, "churned": y})


def export(est, X: pd.DataFrame, y: pd.Series, tmp: Path, task: str) -> OnnxModel:
    est.fit(X, y)
    model, _, _ = convert(est, X, None)
    path = tmp / f"{type(est).__name__}.onnx"
    path.write_bytes(model.SerializeToString())
    manifest = {
        "task": task,
        "features": [{"name": c, "dtype": str(X[c].dtype)} for c in X.columns],
        "classes": [str(c) for c in est.classes_] if task == "classification" else None,
    }
    return OnnxModel(path, load(Manifest, manifest))


@pytest.fixture(scope="module")
def churn(tmp_path_factory) -> tuple[OnnxModel, pd.DataFrame]:
    df = churn_frame()
    X = df.drop(columns="churned")
    est = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])],
                    remainder="passthrough",
                ),
            ),
            ("model", LogisticRegression(max_iter=1000)),
        ]
    )
    return export(est, X, df.churned, tmp_path_factory.mktemp("onnx"), "classification"), df


# --- the model wrapper --------------------------------------------------------------


def test_onnx_model_predicts_labels_and_probabilities_on_frames(churn) -> None:
    model, df = churn
    pred = model.predict(df)  # extra columns (the target) are ignored
    proba = model.predict_proba(df.head(5))
    assert set(pred) <= {"no", "yes"} and model.classes_ == ["no", "yes"]
    assert proba.shape == (5, 2) and np.allclose(proba.sum(1), 1)
    assert "OnnxModel" in repr(model)
    with pytest.raises(DataValidationError, match="tickets"):
        model.predict(df.drop(columns="tickets"))


def test_onnx_model_load_needs_a_build(tmp_path: Path) -> None:
    from ci_ml.errors import UsageError

    with pytest.raises(UsageError, match="holds no built model"):
        OnnxModel.load(tmp_path)


# --- slicing --------------------------------------------------------------------------


def test_slices_by_values_bins_and_crossings() -> None:
    df = pd.DataFrame(
        {
            "plan": ["a", "b", None, "a", "b", "a"],
            "age": [5.0, 35.0, 65.0, np.nan, -1.0, 30.0],
        }
    )
    cfg = SliceConfig(columns={"plan": "values", "age": [0, 30, 60]}, crossings=[["plan", "age"]])
    found = {s.name: s.rows.tolist() for s in slices(df, cfg)}
    assert found["plan=a"] == [0, 3, 5] and found["plan missing"] == [2]
    assert found["age ∈ [0, 30)"] == [0] and found["age ∈ [30, 60)"] == [1, 5]
    assert found["age outside [0, 60)"] == [2, 4] and found["age missing"] == [3]
    assert found["plan=a & age ∈ [30, 60)"] == [5]
    assert "plan missing & age outside [0, 60)" in found
    for by in ("plan", "age", "plan × age"):  # each a partition of the rows
        rows = sorted(r for s in slices(df, cfg) if s.by == by for r in s.rows)
        assert rows == list(range(6))


def test_an_empty_bin_is_kept_and_infinite_edges_read_well() -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 50.0]})
    found = slices(df, SliceConfig(columns={"x": [0, 10, 20, math.inf]}))
    assert [(s.name, s.rows.size) for s in found] == [
        ("x ∈ [0, 10)", 2),
        ("x ∈ [10, 20)", 0),
        ("x ∈ [20, ∞)", 1),
    ]
    assert codes(pd.DataFrame({"n": [1.0, 2.0]}), "n", "values")[1][:2] == ["n=1", "n=2"]


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"columns": {"nope": "values"}}, "no column 'nope'"),
        ({"columns": {"plan": [0, 1]}}, "bins need a numeric column"),
        ({"columns": {"tenure": "values"}, "max_slices": 10}, "more than max_slices"),
        ({"crossings": [["plan", "nope"]]}, "no column 'nope'"),
    ],
)
def test_slicing_errors_name_the_key(cfg: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        slices(churn_frame(), SliceConfig(**cfg))


# --- golden rows ----------------------------------------------------------------------


def test_golden_rows_hold_or_are_listed(churn, tmp_path: Path) -> None:
    model, df = churn
    X = df.drop(columns="churned")
    rows = X.head(4).assign(expected=model.predict(X.head(4)), note=["a", None, "c", "d"])
    rows.loc[1, "expected"] = "yes" if rows.loc[1, "expected"] == "no" else "no"
    path = tmp_path / "golden.csv"
    rows.to_csv(path, index=False)
    result = checks.golden(model, path, X, 0, "golden.csv")
    assert (result.rows, result.failed, result.passed) == (4, 1, False)
    assert result.failures[0].row == 3 and result.failures[0].note is None
    assert checks.golden(model, path, X, 1, "golden.csv").passed


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda f: f.drop(columns="tickets"), DataValidationError, "lacks the model's column"),
        (lambda f: f.assign(tickets="many"), DataValidationError, "must hold numbers"),
        (lambda f: f.assign(expected="maybe"), DataValidationError, "does not know: maybe"),
        (lambda f: f.drop(columns="expected"), DataValidationError, "column `expected`"),
        (lambda f: f.head(0), DataValidationError, "has no rows"),
    ],
)
def test_broken_golden_files_are_data_errors(churn, tmp_path: Path, edit, error, message) -> None:
    model, df = churn
    X = df.drop(columns="churned")
    path = tmp_path / "golden.csv"
    edit(X.head(3).assign(expected="no")).to_csv(path, index=False)
    with pytest.raises(error, match=message):
        checks.golden(model, path, X, 0, "golden.csv")


def test_golden_file_missing_or_unreadable(churn, tmp_path: Path) -> None:
    model, df = churn
    with pytest.raises(ConfigError, match="golden.path"):
        checks.golden(model, tmp_path / "nope.csv", df, 0, "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'"unterminated\n\x00\x01')
    with pytest.raises(DataValidationError, match="could not be read"):
        checks.golden(model, bad, df.drop(columns="churned"), 0, "bad.csv")


def test_golden_ranges_for_a_regression(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = 3 * X.a + rng.normal(0, 0.1, 200)
    model = export(LinearRegression(), X, y, tmp_path, "regression")
    rows = pd.DataFrame(
        {
            "a": [1.0, -1.0, 0.0],
            "b": [0, 0, 0],
            "expected_min": [2, None, 5],
            "expected_max": [4, -2, None],
        }
    )
    rows.to_csv(tmp_path / "g.csv", index=False)
    result = checks.golden(model, tmp_path / "g.csv", X, 0, "g.csv")
    assert result.failed == 1 and result.failures[0].expected == "≥ 5"
    rows.assign(expected_min=None, expected_max=None).to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(DataValidationError, match="without a bound"):
        checks.golden(model, tmp_path / "u.csv", X, 0, "u.csv")
    rows.drop(columns=["expected_min", "expected_max"]).to_csv(tmp_path / "n.csv", index=False)
    with pytest.raises(DataValidationError, match="expected_min and/or expected_max"):
        checks.golden(model, tmp_path / "n.csv", X, 0, "n.csv")


# --- invariance and directional -------------------------------------------------------


def test_perturbations_say_which_rows_they_changed() -> None:
    X = pd.DataFrame({"plan": ["a", "b", "c", ""], "x": [1.0, np.nan, 3.0, 4.0]})
    rng = np.random.default_rng(0)
    swap = InvarianceCheck(column="plan", swap={"a": "b", "b": "a"})
    Y, changed, what = checks.perturb(swap, X, X, rng, "invariance[0]")
    assert Y.plan.tolist() == ["b", "a", "c", ""] and changed.tolist() == [True, True, False, False]
    assert what == "swapped a→b, b→a"
    noise = InvarianceCheck(column="x", noise=0.5)
    Y, changed, _ = checks.perturb(noise, X, X, rng, "invariance[0]")
    assert changed.tolist() == [True, False, True, True]
    assert np.all(np.abs(Y.x - X.x)[changed] <= 0.5)
    same = InvarianceCheck(column="plan", resample=True)
    Y, changed, _ = checks.perturb(same, X, X.assign(plan="a"), rng, "invariance[0]")
    assert (Y.plan == "a").all() and changed.tolist() == [False, True, True, True]
    num = InvarianceCheck(column="x", swap={1: 3})
    Y, changed, _ = checks.perturb(num, X, X, rng, "invariance[0]")
    assert Y.x.tolist()[0] == 3.0 and changed.tolist() == [True, False, False, False]


@pytest.mark.parametrize(
    ("check", "task", "message"),
    [
        (InvarianceCheck(column="nope", resample=True), "classification", "not one of the model's"),
        (InvarianceCheck(column="plan", noise=1.0), "classification", "needs a numeric column"),
        (InvarianceCheck(column="x", swap={"a": "b"}), "classification", "so swap numbers"),
        (InvarianceCheck(column="x", noise=1.0), "regression", "tolerance"),
    ],
)
def test_invariance_config_errors(check: InvarianceCheck, task: str, message: str) -> None:
    X = pd.DataFrame({"plan": ["a"], "x": [1.0]})
    with pytest.raises(ConfigError, match=message):
        checks.check_invariance(check, 0, X, task)


def test_flip_rates_of_the_candidate_and_the_baseline(churn) -> None:
    model, df = churn
    X = df.drop(columns="churned")
    swap = InvarianceCheck(column="plan", swap={"basic": "pro", "pro": "basic"}, max_flip_rate=1.0)
    result = checks.invariance(swap, 0, X, X, [model, model], seed=0)
    assert result.rows == len(X) and 0 < result.rate == result.baseline_rate
    assert result.passed and len(result.examples) <= checks.MAX_EXAMPLES
    strict = InvarianceCheck(column="plan", swap={"basic": "pro"}, max_flip_rate=0.0)
    result = checks.invariance(strict, 1, X, X, [model, None], seed=0)
    assert not result.passed and result.baseline_rate is None and "flip rate" in result.reason
    nothing = InvarianceCheck(column="plan", swap={"gold": "pro"})
    result = checks.invariance(nothing, 2, X, X, [model], seed=0)
    assert not result.passed and "nothing was tested" in result.reason


def test_directional_checks_on_a_monotone_model(churn) -> None:
    model, df = churn
    X = df.drop(columns="churned")
    up = DirectionalCheck(column="tickets", step=1, direction="increase")
    result = checks.directional(up, 0, X, [model, model])
    assert result.rate == 0 and result.passed and result.baseline_rate == 0
    wrong = DirectionalCheck(column="tickets", step=1, direction="decrease", **{"class": "no"})
    assert checks.directional(wrong, 1, X, [model]).rate == 0  # P(no) falls as tickets rise
    against = DirectionalCheck(column="tenure", step=5, direction="increase")
    result = checks.directional(against, 2, X, [model])
    assert result.rate == 1 and not result.passed and result.examples


def test_a_non_monotonic_regressor_violates_its_direction(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(0, 10, 500)})
    y = X.x + 3 * np.sin(3 * X.x) + rng.normal(0, 0.2, 500)
    wiggly = export(
        DecisionTreeRegressor(max_depth=8, random_state=0), X, y, tmp_path, "regression"
    )
    check = DirectionalCheck(column="x", step=0.3, direction="increase", max_violation_rate=0.05)
    result = checks.directional(check, 0, X, [wiggly])
    assert result.rate > 0.2 and not result.passed


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (DirectionalCheck(column="plan", step=1, direction="increase"), "needs a numeric column"),
        (
            DirectionalCheck(column="tickets", step=1, direction="increase", **{"class": "x"}),
            "not a class of the model",
        ),
    ],
)
def test_directional_config_errors(churn, check: DirectionalCheck, message: str) -> None:
    model, df = churn
    with pytest.raises(ConfigError, match=message):
        checks.directional(check, 0, df.drop(columns="churned"), [model])


# --- budgets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "candidate", "baseline", "failed"),
    [
        ({}, {"bytes": 100, "latency_1": 1, "latency_1k": 10}, None, []),
        (
            {"max_model_bytes": 50},
            {"bytes": 100, "latency_1": 1, "latency_1k": 10},
            None,
            ["model size"],
        ),
        (
            {"max_slowdown": 2},
            {"bytes": 100, "latency_1": 3, "latency_1k": 10},
            {"bytes": 100, "latency_1": 1, "latency_1k": 10},
            ["latency, 1 row"],
        ),
        (
            {"max_size_growth": 1.5, "max_latency_ms_1k": 5},
            {"bytes": 200, "latency_1": 1, "latency_1k": 10},
            {"bytes": 100, "latency_1": 1, "latency_1k": 10},
            ["model size", "latency, 1,000 rows"],
        ),
        ({"max_slowdown": 2}, {"bytes": 1, "latency_1": 9, "latency_1k": 9}, None, []),
    ],
)
def test_budget_table(cfg: dict, candidate: dict, baseline: dict | None, failed: list) -> None:
    result = checks.budget_checks(BudgetsConfig(**cfg), [candidate, baseline])
    assert [m.name for m in result.measures if not m.passed] == failed
    assert result.passed == (not failed)


def test_latency_is_the_median_of_repeats_on_an_injected_clock(churn) -> None:
    model, df = churn
    ticks = iter(range(0, 10_000))
    clock = lambda: next(ticks) / 1000  # noqa: E731  each reading 1 ms after the last
    assert checks.latency_ms(model, df, 1000, 5, clock) == pytest.approx(1.0)
    measured = checks.measure([model, None], df, 3, clock)
    assert measured[1] is None and measured[0]["bytes"] == model.path.stat().st_size
    assert measured[0]["latency_1"] == pytest.approx(1.0)


def test_a_model_byte_for_byte_the_baselines_gets_its_timing_and_turns_alternate(
    churn, tmp_path
) -> None:
    """Two timings of one model differ only by noise (a loaded runner made an
    identical rebuild show latency 0.3x and 2x as significant changes): the same
    file is timed once; different models take turns run by run."""
    model, df = churn
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(model.path.read_bytes())
    twin = copy_module.copy(model)
    twin.path = copy
    slower = itertools.accumulate(range(100_000))  # each run takes longer than the last
    measured = checks.measure([model, twin], df, 5, lambda: next(slower) / 1000)
    assert measured[0] == measured[1]
    order: list[str] = []

    class Spy:
        def __init__(self, inner, name):
            self.inner, self.name, self.path = inner, name, inner.path

        def feeds(self, X):
            return self.inner.feeds(X)

        @property
        def session(self):
            spy = self

            class Run:
                def run(self, *args):
                    order.append(spy.name)
                    return spy.inner.session.run(*args)

            return Run()

    checks.latencies_ms([Spy(model, "a"), Spy(model, "b")], df, 1, 3, time.perf_counter)
    assert order == ["a", "b"] + ["a", "b"] * 3  # warm-ups, then turns


# --- config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"slices": {"columns": {"age": [30, 10]}}}, "must increase strictly"),
        ({"slices": {"columns": {"age": [30]}}}, "at least two bin edges"),
        ({"slices": {"crossings": [["a"]]}}, "two different columns"),
        ({"slices": {}}, "at least one column"),
        ({"invariance": [{"column": "a", "noise": 1, "resample": True}]}, "exactly one"),
        ({"invariance": [{"column": "a"}]}, "exactly one"),
        ({"directional": [{"column": "a", "step": 0, "direction": "increase"}]}, "step of 0"),
        ({"calibration": {"gates": [{"metric": "accuracy", "min": 0.5}]}}, "brier or ece"),
        ({"calibration": {"gates": [{"metric": "ece", "min": 0.1}]}}, "lower-is-better"),
        ({"budgets": {"max_latency_ms": float("inf")}}, "finite"),
    ],
)
def test_model_tests_config_errors(raw: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelTestsConfig.model_validate(raw)


def test_an_empty_section_configures_nothing() -> None:
    assert not ModelTestsConfig().configured
    assert ModelTestsConfig.model_validate({"budgets": {}}).configured
    assert ModelTestsConfig.model_validate({"pytest": ["t"]}).configured
