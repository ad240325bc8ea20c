"""model.search: the space's schema, the candidates it gives, the bounds on trials
and time (on an injected clock), and a search on small data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ci_ml.config import SearchConfig, load_config
from ci_ml.errors import ConfigError, UsageError
from ci_ml.modeling import search

VALID = """
data: {train: a.csv, test: b.csv, target: y}
model:
  estimator: sklearn.tree.DecisionTreeClassifier
"""


def cfg(**kw) -> SearchConfig:
    return SearchConfig.model_validate({"space": {"max_depth": [2, 3]}, **kw})


@pytest.mark.parametrize(
    ("search_yaml", "words"),
    [
        ("{space: {}}", "name at least one parameter"),
        ("{space: {max_depth: []}}", "max_depth: give at least one value"),
        ("{space: {a: {low: 2, high: 1}}}", "high must be above low"),
        ("{space: {a: {low: 0, high: 1, log: true}}}", "a log range needs low > 0"),
        ("{space: {a: {low: 0.5, high: 3, int: true}}}", "whole-number low and high"),
        ("{space: {a: {low: 1, high: 9, int: true, log: true}}}", "log ranges are for floats"),
        ("{space: {a: {low: 1, hi: 9}}}", "unknown key"),
        ("{method: grid, space: {a: {low: 1, high: 9}}}", "a grid takes lists of values"),
        ("{method: bayes, space: {a: [1]}}", "'grid', 'random' or 'halving'"),
        ("{method: halving, max_minutes: 5, space: {a: [1]}}", "bound it with max_trials"),
        ("{space: {a: [1]}, n_jobs: 0}", "0 runs nothing"),
        ("{space: {a: [1]}, max_trials: 0}", "greater than or equal to 1"),
        ("{space: {a: [1]}, cv: 1}", "greater than or equal to 2"),
    ],
)
def test_a_bad_search_is_a_config_error_naming_the_key(
    tmp_path: Path, search_yaml: str, words: str
) -> None:
    p = tmp_path / "ci-ml.yaml"
    p.write_text(VALID + f"  search: {search_yaml}\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert "model.search" in msg and words in msg, msg
    assert "example:" in msg and e.value.exit_code == 2


def test_a_search_with_a_command_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "ci-ml.yaml"
    p.write_text(
        "data: {train: a.csv, test: b.csv, target: y}\n"
        "model: {command: 'python t.py', search: {space: {a: [1]}}}\n"
    )
    with pytest.raises(ConfigError, match="a command does its own tuning"):
        load_config(p)


def test_the_space_becomes_lists_and_scipy_distributions() -> None:
    c = cfg(
        space={
            "depth": [2, None],
            "lr": {"low": 0.01, "high": 1, "log": True},
            "frac": {"low": 0.2, "high": 0.8},
            "leaf": {"low": 1, "high": 8, "int": True},
        }
    )
    sp = search.space(c, prefix="model__")
    assert sp["model__depth"] == [2, None]
    assert isinstance(sp["model__lr"].dist, type(stats.loguniform))
    assert sp["model__frac"].support() == (0.2, 0.8)
    assert sp["model__leaf"].support() == (1, 8)  # both ends included


def test_random_candidates_are_seeded_and_stay_in_their_ranges() -> None:
    c = cfg(
        space={
            "leaf": {"low": 1, "high": 8, "int": True},
            "lr": {"low": 0.01, "high": 1, "log": True},
        },
        max_trials=40,
    )
    a, b, other = (search.candidates(c, s) for s in (7, 7, 8))
    assert a == b and a != other and len(a) == 40
    assert all(1 <= x["leaf"] <= 8 and 0.01 <= x["lr"] <= 1 for x in a)
    assert {x["leaf"] for x in a} == set(range(1, 9))


def test_a_random_search_over_a_small_grid_tries_each_combination_once() -> None:
    got = search.candidates(cfg(space={"a": [1, 2], "b": ["x", "y"]}, max_trials=10), 0)
    assert sorted((c["a"], c["b"]) for c in got) == [(1, "x"), (1, "y"), (2, "x"), (2, "y")]


def test_a_grid_larger_than_max_trials_is_refused_with_the_way_out() -> None:
    c = cfg(method="grid", space={"a": [1, 2, 3], "b": [1, 2, 3]}, max_trials=8)
    with pytest.raises(ConfigError) as e:
        search.candidates(c, 0)
    assert "9 combinations, more than max_trials (8)" in str(e.value)
    assert "method: random" in e.value.hint
    assert len(search.candidates(cfg(method="grid", space={"a": [1, 2, 3]}, max_trials=3), 0)) == 3


class Clock:
    """Each reading advances the time by `step` seconds."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def test_no_batch_starts_once_the_time_is_spent() -> None:
    done: list[list[int]] = []
    # Readings: start 10, before batch 1 at 20 (elapsed 10), batch 2 at 30 (20), ...
    why = search.run_batches(
        [{"i": i} for i in range(10)],
        2,
        35.0,
        lambda b: done.append([c["i"] for c in b]),
        Clock(10),
    )
    assert done == [[0, 1], [2, 3], [4, 5]]
    assert why is not None and "after 6 of 10 candidates" in why


def test_the_first_batch_always_runs_and_no_bound_runs_all() -> None:
    done: list[int] = []
    why = search.run_batches(
        [{"i": i} for i in range(3)], 2, 0.001, lambda b: done.extend(c["i"] for c in b), Clock(100)
    )
    assert done == [0, 1] and why is not None
    done.clear()
    assert (
        search.run_batches(
            [{"i": i} for i in range(5)],
            2,
            None,
            lambda b: done.extend(c["i"] for c in b),
            Clock(100),
        )
        is None
    )
    assert done == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("metric", "task", "classes", "expected"),
    [
        ("roc_auc", "classification", 2, "roc_auc"),
        ("roc_auc", "classification", 3, "roc_auc_ovr"),
        ("log_loss", "classification", 2, "neg_log_loss"),
        ("rmse", "regression", 0, "neg_root_mean_squared_error"),
        ("r2", "regression", 0, "r2"),
    ],
)
def test_metrics_map_to_scikit_learn_scorers(metric, task, classes, expected) -> None:
    assert search.scorer(metric, task, classes) == expected


def test_a_metric_of_the_other_task_is_refused() -> None:
    with pytest.raises(ConfigError, match="'rmse' is not a classification metric"):
        search.scorer("rmse", "classification", 2)


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    y = pd.Series(np.where(X["a"] + 0.3 * rng.normal(size=150) > 0, "yes", "no"))
    return X, y


def test_a_search_ranks_the_candidates_and_sets_the_best(small) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = small
    model = DecisionTreeClassifier(random_state=0)
    c = cfg(method="grid", space={"max_depth": [1, 2, 4]}, top=2)
    result = search.tune(model, X, y, c, "classification", "accuracy", seed=0)
    assert (result.planned, result.trials, len(result.top)) == (3, 3, 2)
    assert result.top[0].mean >= result.top[1].mean and result.top[0].rank == 1
    assert model.get_params()["max_depth"] == result.best["max_depth"]
    assert not hasattr(model, "tree_")  # left unfitted: the caller refits on every row


def test_an_error_metric_is_ranked_lowest_first_in_its_own_units(small) -> None:
    from sklearn.tree import DecisionTreeRegressor

    X, _ = small
    y = X["a"] * 2
    c = cfg(space={"max_depth": [1, 6]})
    result = search.search(DecisionTreeRegressor(random_state=0), X, y, c, "regression", "rmse", 0)
    assert result.top[0].mean > 0 and result.top[0].mean <= result.top[1].mean
    assert result.best == {"max_depth": 6}


def test_halving_searches_and_keeps_its_last_round(small) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = small
    c = cfg(method="halving", space={"max_depth": [1, 2, 3, 4, 5, 6]}, max_trials=6)
    result = search.search(
        DecisionTreeClassifier(random_state=0), X, y, c, "classification", "roc_auc", 0
    )
    assert result.method == "halving" and 1 <= result.trials < 6
    assert result.best["max_depth"] in range(1, 7)


def test_halvings_last_round_scores_on_the_training_rows_not_a_few_dozen() -> None:
    # scikit-learn's default schedule ended 8 candidates on 36 rows: a model that
    # needs 20 rows a leaf could not split, and every candidate scored 0.5.
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=2400), "b": rng.normal(size=2400)})
    y = pd.Series(np.where(X["a"] + rng.normal(scale=0.5, size=2400) > 0, "yes", "no"))
    c = cfg(method="halving", space={"max_depth": [2, 3, 4, 5]}, max_trials=8, cv=3)
    model = DecisionTreeClassifier(min_samples_leaf=20, random_state=0)
    result = search.search(model, X, y, c, "classification", "roc_auc", 0)
    assert all(t.mean > 0.8 for t in result.top), result.top
    assert result.last_round_rows is not None and result.last_round_rows >= 1000


def test_a_candidate_that_cannot_fit_names_the_space(small) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = small
    c = cfg(space={"max_depth": [-3]})
    with pytest.raises(UsageError) as e:
        search.search(DecisionTreeClassifier(), X, y, c, "classification", "accuracy", 0)
    assert "a candidate failed to fit" in str(e.value) and "model.search.space" in e.value.hint


def test_the_search_is_part_of_the_build_cache_key(tmp_path: Path) -> None:
    from ci_ml import fingerprint

    def key(search_yaml: str) -> str:
        p = tmp_path / "ci-ml.yaml"
        p.write_text(VALID + f"  search: {search_yaml}\n")
        cfg = load_config(p)
        return fingerprint.config_sha256(cfg.model_dump(mode="json", by_alias=True))

    same = key("{space: {max_depth: [2, 3]}}")
    assert key("{space: {max_depth: [2, 3]}}") == same
    assert key("{space: {max_depth: [2, 4]}}") != same
    assert key("{space: {max_depth: [2, 3]}, max_trials: 5}") != same
    assert key("{method: grid, space: {max_depth: [2, 3]}}") != same


def test_a_library_that_trains_on_class_indexes_is_searched_on_them(tmp_path: Path) -> None:
    """XGBoost takes labels 0..k-1 only: the search runs on the indexes, as the
    final fit does, and the model predicts the real labels."""
    pytest.importorskip("xgboost")
    from ci_ml.modeling import estimator

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = pd.Series(np.where(X["a"] + 0.3 * rng.normal(size=120) > 0, "yes", "no"), name="y")
    p = tmp_path / "ci-ml.yaml"
    p.write_text(
        VALID.replace("sklearn.tree.DecisionTreeClassifier", "xgboost.XGBClassifier")
        + "  params: {n_estimators: 5}\n"
        + "  search: {method: grid, space: {max_depth: [1, 2]}, cv: 2}\n"
    )
    result = estimator.fit(load_config(p), X, y, "classification", metric="accuracy")
    assert result.search is not None and result.search.best["max_depth"] in (1, 2)
    assert set(result.model.predict(X)) <= {0, 1}  # xgboost's own predict: indexes
    assert result.classes == ["no", "yes"]
