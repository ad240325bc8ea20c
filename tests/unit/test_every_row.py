"""Metrics summed over every holdout row where the rows are (ci_ml.scoring.every_row,
issue 27): partition by partition on the in-memory engine (the same protocol as
the Dask engine's, no cluster), against the local code on the whole frame. Small
ONNX models exported in the test; a few thousand rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ci_ml.engine.local import LocalEngine
from ci_ml.scoring.every_row import HoldoutSums, Scorer, blocks_for, holdout_sums
from ci_ml.scoring.labels import scored
from ci_ml.scoring.onnx import feeds, onnx_predictions, session_for
from ci_ml.stats import ranks
from ci_ml.stats.bootstrap import Plan, estimates, estimates_of, resample_units
from ci_ml.stats.metrics import DEFAULTS, METRICS, point_estimates

ROWS = 3_000


def _model(task: str, rng: np.random.Generator) -> tuple[pd.DataFrame, Scorer]:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X = pd.DataFrame(rng.normal(size=(ROWS, 3)), columns=["a", "b", "c"])
    signal = X["a"] + 0.5 * X["b"] + rng.logistic(size=ROWS)
    if task == "regression":
        y, est = signal * 10 + 100, LinearRegression()
    elif task == "binary":
        y, est = (signal > 0).astype(int), LogisticRegression()
    else:
        y, est = pd.cut(signal, [-np.inf, -1, 1, np.inf], labels=["lo", "mid", "hi"]), None
        y, est = y.astype(str), LogisticRegression(max_iter=500)
    est.fit(X[:1000], y[:1000])  # the model sees a third; the holdout is all of them
    return X.assign(y=y), _scorer(est, X, task)


def _scorer(est, X: pd.DataFrame, task: str) -> Scorer:
    from ci_ml.modeling.convert import convert

    model, precision, spec = convert(est, X, None)
    kind = "regression" if task == "regression" else "classification"
    classes = tuple(est.classes_) if kind == "classification" else None
    return Scorer(
        model.SerializeToString(), ("a", "b", "c"), tuple(spec), precision, kind, classes,
        kind == "classification",
    )  # fmt: skip


def _other(df: pd.DataFrame, scorer: Scorer) -> Scorer:
    """Another model of the same task: fitted on other rows, on two features."""
    from sklearn.base import clone
    from sklearn.linear_model import LinearRegression, LogisticRegression

    est = LinearRegression() if scorer.task == "regression" else LogisticRegression(C=0.01)
    X = df[["a", "b", "c"]].assign(c=0.0)  # a model blind to c
    task = "regression" if scorer.task == "regression" else "classification"
    return _scorer(clone(est).fit(X[1000:2000], df["y"][1000:2000]), X, task)


def _whole(df: pd.DataFrame, scorer: Scorer):  # the local build's Scored of every row
    X = df[list(scorer.columns)]
    inputs = feeds(X, list(scorer.spec), scorer.precision)
    p = onnx_predictions(
        session_for(scorer.data), inputs, scorer.task, list(scorer.classes or []),
        scorer.probabilities,
    )  # fmt: skip
    return scored(df["y"], p.pred, p.proba, scorer.task, list(scorer.classes or []))


def _passes(df: pd.DataFrame, scorers: list[Scorer], seed: int = 0) -> HoldoutSums:
    task = scorers[0].task
    return HoldoutSums(
        "y", task, scorers[0].classes, tuple(scorers), tuple(DEFAULTS[task]), blocks_for(len(df)),
        seed, None if task == "classification" else float(df["y"][:100].mean()),
    )  # fmt: skip


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def case(request):
    df, scorer = _model(request.param, np.random.default_rng(7))
    return df, scorer, _whole(df, scorer)


def test_point_estimates_over_partitions_are_the_whole_frames(case) -> None:
    df, scorer, whole = case
    summed = holdout_sums(LocalEngine({"test": df}, partitions=4), _passes(df, [scorer]))
    (units,) = summed.units
    totals = units.matrix.sum(axis=0)
    mine = {n: float(METRICS[n].value(totals[sl])) for n, sl in units.where.items()}
    theirs = point_estimates(whole, DEFAULTS[scorer.task])
    assert list(mine) == list(theirs)  # the same metrics, in the same order
    assert summed.told.rows == ROWS
    for name, value in theirs.items():
        if name == "roc_auc":
            bound = summed.auc_bound
            assert bound is not None and 0 < bound < 1e-3
            assert abs(mine[name] - value) <= bound, (mine[name], value, bound)
        else:
            assert mine[name] == pytest.approx(value, abs=1e-9, rel=1e-12), name
    if scorer.task == "classification":
        k = len(scorer.classes or [])
        cm = np.zeros((k, k), dtype=int)
        np.add.at(cm, (whole.y, whole.pred), 1)
        assert summed.told.confusion[0] == cm.tolist()
        assert summed.told.class_rows == np.bincount(whole.y, minlength=k).tolist()


def test_a_rows_block_does_not_depend_on_the_partitioning(case) -> None:
    df, scorer, _ = case
    one = holdout_sums(LocalEngine({"test": df}, partitions=1), _passes(df, [scorer]))
    shuffled = df.sample(frac=1.0, random_state=3)  # other rows in each of 7 partitions
    seven = holdout_sums(LocalEngine({"test": shuffled}, partitions=7), _passes(df, [scorer]))
    np.testing.assert_allclose(one.units[0].matrix, seven.units[0].matrix, rtol=1e-12, atol=1e-9)
    other_seed = holdout_sums(LocalEngine({"test": df}, partitions=1), _passes(df, [scorer], 1))
    assert not np.array_equal(one.units[0].matrix, other_seed.units[0].matrix)


def test_intervals_from_the_blocks_are_the_row_bootstraps_within_monte_carlo_error(case) -> None:
    """The blocks hold a Poisson-like number of rows each: the same sums' variance
    as the rows' own bootstrap. 2,000 resamples each: the percentile endpoints of
    two bootstraps differ by Monte Carlo error, a few percent of the width."""
    df, scorer, whole = case
    summed = holdout_sums(LocalEngine({"test": df}, partitions=3), _passes(df, [scorer]))
    plan = Plan.blocked_units(summed.told.rows, summed.blocks, 2_000, 0)
    mine = estimates_of(resample_units(plan, summed.units)[0], 0.95)
    theirs = estimates(whole, DEFAULTS[scorer.task], 2_000, 0.95, 0)
    for name, e in theirs.items():
        width = e.ci_high - e.ci_low
        m = mine[name]
        assert m.ci_high - m.ci_low == pytest.approx(width, rel=0.15), name
        assert abs(m.ci_low - e.ci_low) < 0.2 * width and abs(m.ci_high - e.ci_high) < 0.2 * width


def test_ranks_from_histograms_count_pairs_within_the_bound() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    positive = rng.random(20_000) < 0.05
    score = 1 / (1 + np.exp(-(rng.normal(size=20_000) + 1.5 * positive - 4)))
    score[:50] = score[50]  # exact ties count half on both sides
    counts = ranks.histogram(score, positive, ranks.BINS)
    auc = ranks.pair_count(counts) / (positive.sum() * (~positive).sum())
    assert abs(auc - roc_auc_score(positive, score)) <= ranks.tie_bound(counts)
    # A coarse grid errs more, and its bound still holds.
    coarse = ranks.histogram(score, positive, 64)
    auc64 = ranks.pair_count(coarse) / (positive.sum() * (~positive).sum())
    assert ranks.tie_bound(coarse) > 100 * ranks.tie_bound(counts)
    assert abs(auc64 - roc_auc_score(positive, score)) <= ranks.tie_bound(coarse)


def test_one_model_twice_gives_deltas_of_exactly_zero(case) -> None:
    from ci_ml.stats.bootstrap import deltas_of

    df, scorer, _ = case
    summed = holdout_sums(LocalEngine({"test": df}, partitions=3), _passes(df, [scorer, scorer]))
    plan = Plan.blocked_units(summed.told.rows, summed.blocks, 200, 0)
    c, b = resample_units(plan, summed.units)
    deltas = deltas_of(c, b, DEFAULTS[scorer.task], 0.95, lambda name: None)
    assert set(deltas) == set(c.point)
    for name, d in deltas.items():
        assert (d.delta, d.ci_low, d.ci_high, d.verdict) == (0.0, 0.0, 0.0, "within noise"), name


def test_the_paired_tests_over_partitions_are_the_local_ones(case) -> None:
    from ci_ml.comparison import significance_tests
    from ci_ml.records import plain

    df, scorer, whole = case
    other = _other(df, scorer)
    summed = holdout_sums(LocalEngine({"test": df}, partitions=4), _passes(df, [scorer, other]))
    theirs = plain(significance_tests(whole, _whole(df, other)))
    mine = plain(summed.told.tests)
    assert mine.keys() == theirs.keys()
    if scorer.task == "classification":
        assert mine == theirs  # counts, and the binomial test of the same counts
        assert mine["candidate_only_correct"] + mine["baseline_only_correct"] > 0
    else:
        for kind in ("squared_error", "absolute_error"):
            assert mine[kind]["test"] == theirs[kind]["test"]
            for key in ("statistic", "p_value", "mean_difference"):
                assert mine[kind][key] == pytest.approx(theirs[kind][key], rel=1e-6), (kind, key)
            assert mine[kind]["statistic"] != 0  # two models, not the identical-model shortcut


def test_empty_partitions_add_nothing(case) -> None:
    """A partition the split or a filter left empty: onnxruntime is not asked, and
    its zero sums change nothing."""
    from ci_ml.engine import fold_parts

    df, scorer, _ = case
    passes = _passes(df, [scorer])
    told, total = fold_parts(
        [df.iloc[:0], df.iloc[:1_500], df.iloc[1_500:1_500], df.iloc[1_500:]], passes
    )
    whole = holdout_sums(LocalEngine({"test": df}, partitions=1), passes)
    assert told.rows == ROWS
    np.testing.assert_allclose(total.arrays["units0"], whole.units[0].matrix, rtol=1e-12, atol=1e-9)


def test_slices_over_partitions_are_the_whole_frames(case) -> None:
    """ci_ml.checks.slice_sums: the slices a config declares, found over partitions
    (values, bins with their missing and outside slots, a crossing), with each
    model's per-slice metrics as the local slices give them on the whole frame."""
    from ci_ml.checks.slice_sums import every_row_slices
    from ci_ml.checks.slices import slices
    from ci_ml.config import SliceConfig
    from ci_ml.stats.slices import resample_slices

    df, scorer, whole = case
    rng = np.random.default_rng(5)
    frame = df.assign(
        g=rng.choice(["x", "y", "z", None], size=len(df), p=[0.5, 0.3, 0.15, 0.05]),
        h=df["a"].where(np.arange(len(df)) >= 7),  # a's bins, with a slice of missing values
    )
    cfg = SliceConfig(columns={"g": "values", "h": [-1, 0, 1]}, crossings=[["g", "h"]])
    names = ["accuracy", "roc_auc"] if scorer.task == "classification" else ["rmse", "mae"]
    other = _other(df, scorer)
    base = HoldoutSums(
        "y", whole.task, scorer.classes, (scorer, other), tuple(names), 1, 0,
        None if whole.task == "classification" else 100.0,
    )  # fmt: skip
    computed = every_row_slices(LocalEngine({"test": frame}, partitions=5), base, cfg, 200, 1_000)
    found = slices(frame, cfg)
    assert [(s.name, s.by, s.rows.size) for s in computed.slices] == [
        (s.name, s.by, s.rows.size) for s in found
    ]
    assert any("missing" in s.name for s in found) and any(" & " in s.name for s in found)
    models = [whole, _whole(frame, other)]
    theirs = resample_slices(models, names, [s.rows for s in found], 200, 0)
    bound = computed.scope.auc_max_error
    for model in (0, 1):
        for name in names:
            mine, ref = computed.stats.point[model][name], theirs.point[model][name]
            allowed = bound + 1e-12 if name == "roc_auc" else 1e-9
            both = np.isfinite(ref)
            assert np.array_equal(both, np.isfinite(mine)), name
            assert np.all(np.abs(mine[both] - ref[both]) <= allowed), (name, mine - ref)


def test_a_column_of_too_many_values_stops_before_its_slices_are_named(case) -> None:
    from ci_ml.checks.slice_sums import Spec, find
    from ci_ml.config import SliceConfig
    from ci_ml.errors import ConfigError

    df, _, _ = case
    frame = df.assign(id=np.arange(len(df)))
    cfg = SliceConfig(columns={"id": "values"}, max_slices=50)
    with pytest.raises(ConfigError, match=r"id makes 3,000 slices, more than max_slices \(50\)"):
        find(LocalEngine({"test": frame}, partitions=3), Spec.of(cfg))
