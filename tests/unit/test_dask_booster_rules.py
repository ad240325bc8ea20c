"""Which estimators the Dask engine trains on every row, and the rules that send
the others to the client's sample (ci_ml.modeling.dask_boosters), without a
cluster: the builds on one are in tests/integration/test_dask_boosters.py."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ci_ml.engine import Sampled
from ci_ml.engine.local import LocalEngine
from ci_ml.modeling.dask_boosters import (
    dask_trainer,
    encoded,
    no_trainer,
    split_final,
    trainer,
    with_final,
)


def test_the_final_estimator_is_found_through_nested_pipelines_and_replaced_in_place() -> None:
    scale, model, fitted = StandardScaler(), LogisticRegression(), LogisticRegression(C=2)
    inner = Pipeline([("skip", "passthrough"), ("model", model)])
    outer = Pipeline([("scale", scale), ("inner", inner)])
    before, final = split_final(outer)
    assert before == [scale] and final is model
    assert with_final(outer, fitted) is outer
    assert inner.steps[-1] == ("model", fitted) and outer.steps[0] == ("scale", scale)
    assert split_final(model) == ([], model) and with_final(model, fitted) is fitted


def test_xgboost_and_lightgbm_estimators_have_dask_trainers_and_others_say_why_not() -> None:
    xgboost = pytest.importorskip("xgboost")
    lightgbm = pytest.importorskip("lightgbm")
    assert dask_trainer(xgboost.XGBClassifier()) == "xgboost.dask.DaskXGBClassifier"
    assert dask_trainer(xgboost.XGBRegressor()) == "xgboost.dask.DaskXGBRegressor"
    assert dask_trainer(lightgbm.LGBMClassifier()) == "lightgbm.DaskLGBMClassifier"
    assert dask_trainer(lightgbm.LGBMRegressor()) == "lightgbm.DaskLGBMRegressor"

    class Mine(xgboost.XGBClassifier):  # a subclass may fit otherwise: not assumed
        pass

    assert dask_trainer(Mine()) is None
    assert dask_trainer(xgboost.XGBRFClassifier()) is None
    assert dask_trainer(LogisticRegression()) is None
    assert no_trainer(LogisticRegression()).startswith("LogisticRegression has no Dask trainer")
    catboost = pytest.importorskip("catboost")
    assert dask_trainer(catboost.CatBoostClassifier()) is None
    assert no_trainer(catboost.CatBoostRegressor()) == (
        "CatBoostRegressor: CatBoost has no Dask trainer"
    )


def test_class_indexes_come_from_the_labels_given_not_the_rows_at_hand() -> None:
    labels = np.array(["a", "b", "rare"], dtype=object)
    y = pd.Series(["b", "rare", "b"], index=[5, 6, 7], name="y")
    codes = encoded(y, labels)
    assert codes.tolist() == [1, 2, 1] and codes.index.tolist() == [5, 6, 7]
    assert encoded(y, None) is y


def frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=n)})
    df["y"] = (df["x"] > 0).astype(int)
    return df


def test_an_estimator_without_a_dask_trainer_is_fitted_on_the_sample_with_the_reason() -> None:
    df = frame()
    sample = df.iloc[:100]
    fit = trainer(LocalEngine({"train": df}), ["x"], "y", Sampled(100, 300, 0))  # type: ignore[arg-type]
    model, where = fit(LogisticRegression(), sample[["x"]], sample["y"], "classification")
    assert hasattr(model, "coef_")  # fitted, on the 100 rows
    assert (where.rows, where.of, where.trainer) == (100, 300, None)
    assert where.sampled_because and "no Dask trainer" in where.sampled_because


def test_a_booster_is_fitted_on_the_client_when_its_sample_holds_every_row() -> None:
    xgboost = pytest.importorskip("xgboost")
    df = frame()
    fit = trainer(LocalEngine({"train": df}), ["x"], "y", Sampled(300, 300, 0))  # type: ignore[arg-type]
    est = xgboost.XGBClassifier(n_estimators=3, n_jobs=1)
    model, where = fit(est, df[["x"]], df["y"], "classification")
    assert model is est and (where.rows, where.of, where.trainer) == (300, 300, None)
    assert where.sampled_because == "the client's sample holds every training row"


def test_a_lightgbm_classifier_keeps_to_the_sample_when_a_partition_lacks_a_class() -> None:
    """LightGBM's Dask trainer encodes the labels on each worker from its rows: a
    worker without a class would number the others differently."""
    lightgbm = pytest.importorskip("lightgbm")
    df = frame().sort_values("y", ignore_index=True)  # the first of 3 partitions: class 0 only
    engine = LocalEngine({"train": df}, partitions=3)
    sample = df.iloc[::3]
    fit = trainer(engine, ["x"], "y", Sampled(len(sample), len(df), 0))  # type: ignore[arg-type]
    est = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1)
    model, where = fit(est, sample[["x"]], sample["y"], "classification")
    assert model is est and where.trainer is None and where.rows == len(sample)
    assert where.sampled_because == (
        "LightGBM's Dask trainer encodes the labels on each worker from its own rows, "
        "and 2 of 3 training partitions lack a class"
    )
