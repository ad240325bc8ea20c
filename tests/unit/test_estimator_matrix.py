"""Every estimator the docs (guide/build.md) list as supported converts to ONNX and predicts
like scikit-learn on held-out rows (labels identical, probabilities and
predictions within the default tolerance). Keep this list and the docs' in sync.

README's supported-models table is rendered from these lists (`supported_models`,
scripts/gen_docs.py): a row is there because a test here proves it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn import ensemble, linear_model, neighbors, neural_network, svm, tree
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ci_ml.data import is_text
from ci_ml.modeling import preprocess
from ci_ml.modeling.convert import convert
from ci_ml.modeling.estimator import _import_estimator, fit_model
from ci_ml.modeling.export import export
from ci_ml.modeling.libraries import apply_defaults
from ci_ml.modeling.parity import predict_is_argmax

TOL = 1e-4


def numeric_data(task: str, classes: int = 2, n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"f{i}" for i in range(6)])
    signal = X["f0"] * 1.5 - X["f1"] + 0.5 * X["f2"] * X["f3"] + rng.normal(0, 0.5, n)
    if task == "regression":
        y = pd.Series(signal * 40 + 200, name="y")
    elif classes == 2:
        y = pd.Series(np.where(signal > 0, "yes", "no"), name="y")
    else:
        y = pd.Series(np.digitize(signal, [-1, 1]), name="y")  # 0, 1, 2
    return X.iloc[:400], y.iloc[:400], X.iloc[400:], y.iloc[400:]


def mixed_data(n: int = 600, seed: int = 1):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue", ""], size=n),
            "size": rng.normal(size=n),
            "weight": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )
    y = pd.Series(np.where((X["color"] == "red") ^ (X["size"] > 0), "a", "b"), name="y")
    return X.iloc[:400], y.iloc[:400], X.iloc[400:], y.iloc[400:]


CLASSIFIERS = {
    "LogisticRegression": lambda: make_pipeline(
        StandardScaler(), linear_model.LogisticRegression()
    ),
    "DecisionTreeClassifier": lambda: tree.DecisionTreeClassifier(max_depth=6, random_state=0),
    "RandomForestClassifier": lambda: ensemble.RandomForestClassifier(
        n_estimators=30, random_state=0
    ),
    "ExtraTreesClassifier": lambda: ensemble.ExtraTreesClassifier(n_estimators=30, random_state=0),
    "GradientBoostingClassifier": lambda: ensemble.GradientBoostingClassifier(
        n_estimators=30, random_state=0
    ),
    "HistGradientBoostingClassifier": lambda: ensemble.HistGradientBoostingClassifier(
        max_iter=30, random_state=0
    ),
    "KNeighborsClassifier": lambda: make_pipeline(
        StandardScaler(), neighbors.KNeighborsClassifier()
    ),
    # SVC(probability=True) is deprecated in scikit-learn 1.9 and gone in 1.11; this is
    # the replacement scikit-learn names (Platt scaling, the same sigmoid).
    "SVC": lambda: make_pipeline(
        StandardScaler(), CalibratedClassifierCV(svm.SVC(), ensemble=False)
    ),
    "MLPClassifier": lambda: make_pipeline(
        StandardScaler(), neural_network.MLPClassifier(max_iter=500, random_state=0)
    ),
}
REGRESSORS = {
    "Ridge": lambda: make_pipeline(StandardScaler(), linear_model.Ridge()),
    "Lasso": lambda: linear_model.Lasso(alpha=0.1),
    "ElasticNet": lambda: linear_model.ElasticNet(alpha=0.1),
    "LinearRegression": lambda: linear_model.LinearRegression(),
    "DecisionTreeRegressor": lambda: tree.DecisionTreeRegressor(max_depth=6, random_state=0),
    "RandomForestRegressor": lambda: ensemble.RandomForestRegressor(
        n_estimators=30, random_state=0
    ),
    "ExtraTreesRegressor": lambda: ensemble.ExtraTreesRegressor(n_estimators=30, random_state=0),
    "GradientBoostingRegressor": lambda: ensemble.GradientBoostingRegressor(
        n_estimators=30, random_state=0
    ),
    "HistGradientBoostingRegressor": lambda: ensemble.HistGradientBoostingRegressor(
        max_iter=30, random_state=0
    ),
    "KNeighborsRegressor": lambda: make_pipeline(StandardScaler(), neighbors.KNeighborsRegressor()),
    "SVR": lambda: make_pipeline(StandardScaler(), svm.SVR()),
    "MLPRegressor": lambda: make_pipeline(
        StandardScaler(), neural_network.MLPRegressor(max_iter=800, random_state=0)
    ),
}


# The gradient-boosting libraries (the extras ci-ml[xgboost], ci-ml[lightgbm],
# ci-ml[catboost], all in the `test` extra): imported by path as a config names
# them, seeded and threaded as ci-ml does, small.
BOOSTERS = {
    "XGBClassifier": ("xgboost.XGBClassifier", {"n_estimators": 30, "max_depth": 4}),
    "XGBRegressor": ("xgboost.XGBRegressor", {"n_estimators": 30, "max_depth": 4}),
    "LGBMClassifier": ("lightgbm.LGBMClassifier", {"n_estimators": 30}),
    "LGBMRegressor": ("lightgbm.LGBMRegressor", {"n_estimators": 30}),
    "CatBoostClassifier": ("catboost.CatBoostClassifier", {"n_estimators": 30, "depth": 4}),
    "CatBoostRegressor": ("catboost.CatBoostRegressor", {"n_estimators": 30, "depth": 4}),
}
BOOSTER_CLASSIFIERS = sorted(n for n in BOOSTERS if n.endswith("Classifier"))
BOOSTER_REGRESSORS = sorted(n for n in BOOSTERS if n.endswith("Regressor"))


def booster(name: str):
    path, params = BOOSTERS[name]
    est = _import_estimator(path)(**params)
    apply_defaults(est, 0)
    return est


# What each estimator exports in (the README says the same): double everywhere,
# except SVR, whose kernel onnxruntime has only in float.
FLOAT_EXPORTS = {"SVR"}
LIBRARY_NAMES = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}


def supported_models() -> list[dict]:
    """README's supported-models table, one row per library: what these lists (and
    so the tests below) prove, each estimator alone and behind `preprocess: auto`."""
    rows = [
        {
            "library": "scikit-learn",
            "extra": None,
            "classifiers": sorted(CLASSIFIERS),
            "regressors": sorted(REGRESSORS),
            "float": sorted(FLOAT_EXPORTS),
        }
    ]
    for module, library in LIBRARY_NAMES.items():
        names = [n for n, (path, _) in BOOSTERS.items() if path.startswith(module + ".")]
        rows.append(
            {
                "library": library,
                "extra": module,
                "classifiers": sorted(n for n in names if n in BOOSTER_CLASSIFIERS),
                "regressors": sorted(n for n in names if n in BOOSTER_REGRESSORS),
                "float": sorted(FLOAT_EXPORTS & set(names)),
            }
        )
    return rows


def check(est, Xtr, ytr, Xte, task: str, name: str | None = None, tmp_path=None) -> dict:
    """Fit (as ci-ml fits), export with ci-ml's export stage, and check parity and precision."""
    import tempfile
    from pathlib import Path

    fit_model(est, Xtr, ytr, task)
    with tempfile.TemporaryDirectory() as d:
        result, _ = export(est, Xte, task, Path(d), None, TOL)
    assert result.parity["passed"], result.parity
    if name is not None:
        assert result.precision == ("float" if name in FLOAT_EXPORTS else "double"), name
    return result.parity


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_binary_classifier(name: str) -> None:
    Xtr, ytr, Xte, _ = numeric_data("classification")
    check(CLASSIFIERS[name](), Xtr, ytr, Xte, "classification", name)


@pytest.mark.skipif(
    tuple(int(x) for x in sklearn.__version__.split(".")[:2]) >= (1, 11),
    reason="SVC(probability=True) was removed in scikit-learn 1.11",
)
@pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning")
def test_svc_with_probability_true_while_scikit_learn_has_it() -> None:
    Xtr, ytr, Xte, _ = numeric_data("classification")
    est = make_pipeline(StandardScaler(), svm.SVC(probability=True, random_state=0))
    check(est, Xtr, ytr, Xte, "classification")


@pytest.mark.parametrize(
    "name",
    [
        "LogisticRegression",
        "RandomForestClassifier",
        "HistGradientBoostingClassifier",
        "MLPClassifier",
        "SVC",
    ],
)
def test_multiclass_classifier(name: str) -> None:
    Xtr, ytr, Xte, _ = numeric_data("classification", classes=3)
    check(CLASSIFIERS[name](), Xtr, ytr, Xte, "classification", name)


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor(name: str) -> None:
    Xtr, ytr, Xte, _ = numeric_data("regression")
    check(REGRESSORS[name](), Xtr, ytr, Xte, "regression", name)


def text_table(task: str, classes: int = 2, n: int = 700, seed: int = 2):
    """A table as users have them: a text column with a few values, one with more
    values than the one-hot cap, numeric columns with missing values, and a
    holdout with a category the training rows never had. Returned as
    `Dataset.xy` hands it to the model (missing text as "")."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "premium", None], size=n, p=[0.4, 0.3, 0.2, 0.1])
    city = rng.choice([f"city-{i:03d}" for i in range(preprocess.MAX_CATEGORIES + 30)], size=n)
    X = pd.DataFrame(
        {
            "tenure": np.where(rng.random(n) < 0.15, np.nan, rng.gamma(2.0, 12.0, n).round(1)),
            "fee": rng.normal(30, 8, n).round(2),
            "tickets": np.where(rng.random(n) < 0.1, np.nan, rng.poisson(1.5, n).astype(float)),
            "plan": plan,
            "city": city,
        }
    )
    signal = (
        (X["plan"] == "premium") * 1.5
        - X["tenure"].fillna(24) / 20
        + X["tickets"].fillna(1) * 0.4
        + rng.normal(0, 0.5, n)
    )
    if task == "regression":
        y = pd.Series(signal * 30 + 100, name="y")
    elif classes == 2:
        y = pd.Series(np.where(signal > signal.median(), "yes", "no"), name="y")
    else:
        y = pd.Series(np.digitize(signal, np.quantile(signal, [0.33, 0.66])), name="y")
    X.loc[X.index[-5:], "plan"] = "enterprise"  # only in the holdout
    for c in X.columns:
        if is_text(X[c]):
            X[c] = X[c].astype(object).where(X[c].notna(), "").astype(str)
    cut = 480
    return X.iloc[:cut], y.iloc[:cut], X.iloc[cut:], y.iloc[cut:]


def auto(est, Xtr, Xte):
    cols = preprocess.column_roles([Xtr, Xte], list(Xtr.columns), None)
    assert cols.categorical == ["plan", "city"] and cols.imputed == ["tenure", "tickets"]
    return preprocess.build(est, cols, Xtr)


def _slow_mlps(names) -> list:
    """MLPs behind preprocessing take half a minute each: the full run only."""
    return [pytest.param(n, marks=[pytest.mark.slow] if n.startswith("MLP") else []) for n in names]


@pytest.mark.parametrize("name", _slow_mlps(sorted(CLASSIFIERS)))
def test_classifier_behind_auto_preprocessing(name: str) -> None:
    """Every matrix classifier, behind `model.preprocess: auto`, on text columns and
    missing values, with a category only the holdout has: one ONNX graph, parity."""
    Xtr, ytr, Xte, _ = text_table("classification")
    check(auto(CLASSIFIERS[name](), Xtr, Xte), Xtr, ytr, Xte, "classification", name)


@pytest.mark.parametrize("name", _slow_mlps(sorted(REGRESSORS)))
def test_regressor_behind_auto_preprocessing(name: str) -> None:
    Xtr, ytr, Xte, _ = text_table("regression")
    check(auto(REGRESSORS[name](), Xtr, Xte), Xtr, ytr, Xte, "regression", name)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("name", BOOSTER_CLASSIFIERS)
def test_booster_classifier(name: str, classes: int) -> None:
    Xtr, ytr, Xte, _ = numeric_data("classification", classes=classes)
    check(booster(name), Xtr, ytr, Xte, "classification", name)


@pytest.mark.parametrize("name", BOOSTER_REGRESSORS)
def test_booster_regressor(name: str) -> None:
    Xtr, ytr, Xte, _ = numeric_data("regression")
    check(booster(name), Xtr, ytr, Xte, "regression", name)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("name", BOOSTER_CLASSIFIERS)
def test_booster_classifier_behind_auto_preprocessing(name: str, classes: int) -> None:
    """Text labels, one-hot columns, imputed medians: one graph, the real labels out
    (XGBoost is trained on class indexes), splits as the library makes them."""
    Xtr, ytr, Xte, _ = text_table("classification", classes=classes)
    check(auto(booster(name), Xtr, Xte), Xtr, ytr, Xte, "classification", name)


@pytest.mark.parametrize("name", BOOSTER_REGRESSORS)
def test_booster_regressor_behind_auto_preprocessing(name: str) -> None:
    Xtr, ytr, Xte, _ = text_table("regression")
    check(auto(booster(name), Xtr, Xte), Xtr, ytr, Xte, "regression", name)


@pytest.mark.parametrize("name", BOOSTER_CLASSIFIERS)
def test_booster_in_a_users_pipeline_with_a_column_transformer(name: str) -> None:
    """One-hot first: skl2onnx types the merged columns as float (guide/build.md)."""
    Xtr, ytr, Xte, _ = mixed_data()
    check(_column_pipeline(booster(name)), Xtr, ytr, Xte, "classification")


def test_an_xgboost_model_predicts_its_real_labels_in_onnx() -> None:
    """XGBoost trains on 0..k-1 only: ci-ml trains it on class indexes and writes
    the labels ("no", "yes") into model.onnx, which predicts them."""
    import onnxruntime as ort

    Xtr, ytr, Xte, _ = numeric_data("classification")
    est = booster("XGBClassifier")
    fit_model(est, Xtr, ytr, "classification")
    model, _, _ = convert(est, Xte, None)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    labels = session.run(None, {"input": Xte.to_numpy()})[0]
    assert set(labels) == {"no", "yes"}


@pytest.mark.parametrize("name", sorted(BOOSTERS))
def test_a_booster_fitted_on_named_columns_exports(name: str) -> None:
    """Fitted on a DataFrame as ci-ml fits it, with its columns' names (XGBoost's
    converter understands only f0, f1...)."""
    task = "classification" if name.endswith("Classifier") else "regression"
    Xtr, ytr, Xte, _ = numeric_data(task)
    rename = {c: f"feature {c}" for c in Xtr.columns}
    check(booster(name), Xtr.rename(columns=rename), ytr, Xte.rename(columns=rename), task, name)


def test_lightgbm_split_values_are_double_in_onnx() -> None:
    """LightGBM compares double features with double split values: model.onnx
    carries them as double tensors (ai.onnx.ml opset 3), never rounded to float."""
    Xtr, ytr, Xte, _ = numeric_data("regression")
    est = booster("LGBMRegressor")
    fit_model(est, Xtr, ytr, "regression")
    model, precision, _ = convert(est, Xte, None)
    attrs = {
        a.name
        for n in model.graph.node
        if n.op_type.startswith("TreeEnsemble")
        for a in n.attribute
    }
    assert precision == "double"
    assert {"nodes_values_as_tensor", "target_weights_as_tensor"} <= attrs
    assert "nodes_values" not in attrs


@pytest.mark.parametrize("name", ["LogisticRegression", "HistGradientBoostingClassifier"])
def test_multiclass_behind_auto_preprocessing(name: str) -> None:
    Xtr, ytr, Xte, _ = text_table("classification", classes=3)
    check(auto(CLASSIFIERS[name](), Xtr, Xte), Xtr, ytr, Xte, "classification", name)


def _column_pipeline(final):
    cat = make_pipeline(
        SimpleImputer(missing_values="", strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore"),
    )
    num = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    return make_pipeline(
        ColumnTransformer([("cat", cat, ["color"]), ("num", num, ["size", "weight"])]), final
    )


@pytest.mark.parametrize(
    "final",
    [
        linear_model.LogisticRegression(),
        ensemble.RandomForestClassifier(n_estimators=20, random_state=0),
        ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=0),
    ],
)
def test_column_transformer_with_strings_and_missing_values(final) -> None:
    Xtr, ytr, Xte, _ = mixed_data()
    check(_column_pipeline(final), Xtr, ytr, Xte, "classification")


def test_classifier_without_probabilities_compares_labels() -> None:
    # (LinearSVC would be the other example, but skl2onnx 1.20 rejects it: "Option
    # 'zipmap' not in [...]" even with no options given; ExportError reports that.)
    Xtr, ytr, Xte, _ = numeric_data("classification")
    est = make_pipeline(StandardScaler(), svm.SVC(probability=False))
    result = check(est, Xtr, ytr, Xte, "classification")
    assert result["compared"] == "labels"


def test_imputer_before_a_tree() -> None:
    Xtr, ytr, Xte, _ = numeric_data("regression")
    Xtr = Xtr.mask(np.random.default_rng(0).random(Xtr.shape) < 0.05)
    check(
        make_pipeline(SimpleImputer(), ensemble.HistGradientBoostingRegressor(max_iter=20)),
        Xtr,
        ytr,
        Xte,
        "regression",
    )


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_predict_is_the_argmax_of_predict_proba_where_ci_ml_takes_it_so(name, classes) -> None:
    """ci-ml calls predict_proba alone for these; a model where the two disagree
    must not be on the list."""
    Xtr, ytr, Xte, _ = numeric_data("classification", classes=classes)
    est = CLASSIFIERS[name]().fit(Xtr, ytr)
    assert predict_is_argmax(est), name  # every matrix classifier is on the list
    argmax = est.classes_[est.predict_proba(Xte).argmax(axis=1)]
    assert (est.predict(Xte) == argmax).all()


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("name", BOOSTER_CLASSIFIERS)
def test_a_booster_predicts_the_argmax_of_its_probabilities(name, classes) -> None:
    Xtr, ytr, Xte, _ = numeric_data("classification", classes=classes)
    est = booster(name)
    fit_model(est, Xtr, ytr, "classification")
    assert predict_is_argmax(est), name
    # (XGBoost's classes_ are the class indexes ci-ml trained it on.)
    argmax = np.asarray(est.classes_)[est.predict_proba(Xte).argmax(axis=1)]
    assert (np.asarray(est.predict(Xte)).ravel() == argmax).all()


@pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning")
def test_svc_with_platt_probabilities_is_not_taken_for_an_argmax() -> None:
    est = make_pipeline(StandardScaler(), svm.SVC(probability=True, random_state=0))
    assert not predict_is_argmax(est)


def test_hist_gradient_boosting_exports_double_thresholds_under_ml_opset_3() -> None:
    Xtr, ytr, _, _ = numeric_data("classification")
    est = CLASSIFIERS["HistGradientBoostingClassifier"]().fit(Xtr, ytr)
    model, precision, _ = convert(est, Xtr, None)
    assert precision == "double"
    assert {o.domain: o.version for o in model.opset_import}["ai.onnx.ml"] >= 3
    attrs = {
        a.name
        for n in model.graph.node
        if n.op_type.startswith("TreeEnsemble")
        for a in n.attribute
    }
    assert "nodes_values_as_tensor" in attrs and "nodes_values" not in attrs


def test_protobuf_is_below_7() -> None:
    """skl2onnx cannot convert HistGradientBoosting* under protobuf 7 (pyproject pins <7)."""
    import google.protobuf

    assert int(google.protobuf.__version__.split(".")[0]) < 7


def test_unconvertible_estimator_gets_a_clear_error() -> None:
    from sklearn.preprocessing import FunctionTransformer

    from ci_ml.errors import ExportError

    Xtr, ytr, _, _ = numeric_data("regression")
    est = make_pipeline(FunctionTransformer(np.log1p), linear_model.Ridge()).fit(Xtr.abs(), ytr)
    with pytest.raises(ExportError, match=r"cannot export Pipeline\(FunctionTransformer → Ridge\)"):
        convert(est, Xtr, None)


def test_the_matrix_tolerance_is_the_default_one_the_readme_states() -> None:
    from ci_ml.config import ExportConfig

    assert ExportConfig().tolerance == TOL
