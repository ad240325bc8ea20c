"""The estimator from the config: an import path with params, or a user's
factory; seeded, checked against the task, fitted."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import FITTED_MODEL, plain
from ci_ml.errors import ConfigError, UsageError
from ci_ml.modeling import libraries, preprocess, search
from ci_ml.records import EngineFit, TrainResult

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.config import Config
    from ci_ml.modeling.preprocess import Columns

# Fits a model in place of `fit_model` (engine: dask: ci_ml.modeling.dask_boosters):
# (model, X, y, task) -> the fitted model (the same object, or one whose final
# estimator was replaced) and which rows it trained on, where.
Trainer = Callable[[Any, "pd.DataFrame", "pd.Series", str], tuple[Any, EngineFit]]


def fitted_model(b: Build, needed_by: str) -> Any:
    """The model this build trained (never one from anywhere else)."""

    record = b.require("train", needed_by)
    if record.model is not None:
        return record.model
    if record.reused_from:
        raise UsageError(
            f"{b.chain.command(needed_by)} has no fitted model in {b.out}: this build reused "
            f"{record.reused_from.get('label')}'s model instead of training",
            hint="run the whole build with `ci-ml run` (or `ci-ml run --no-cache`)",
        )
    import joblib

    record.model = joblib.load(b.path(FITTED_MODEL))
    return record.model


def describe_estimator(est: Any) -> str:
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        return "Pipeline(" + " → ".join(type(s).__name__ for _, s in est.steps) + ")"
    return type(est).__name__


def _import_estimator(path: str) -> type:
    """The class an `estimator:` path names. Only a class that is an estimator is
    accepted, and nothing is called before that is checked: the config comes
    with the pull request, and `os.system` is an import path too."""
    from sklearn.base import BaseEstimator

    module_name, _, cls_name = path.rpartition(".")
    missing = libraries.not_installed(path, "model.estimator")
    if missing is not None:
        raise missing
    try:
        module = importlib.import_module(module_name)
        obj = getattr(module, cls_name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"model.estimator: cannot import {path!r}: {e}",
            hint="use a full import path such as sklearn.ensemble.RandomForestClassifier",
        ) from None
    if not (isinstance(obj, type) and (issubclass(obj, BaseEstimator) or hasattr(obj, "fit"))):
        raise ConfigError(
            f"model.estimator: {path!r} is a {type(obj).__name__}, not an estimator class",
            hint="name a scikit-learn estimator class; build anything else in a `factory:`",
        )
    return obj


def _where(e: BaseException) -> str:
    """file:line of the innermost frame, for errors raised by the user's code."""
    import traceback

    frames = traceback.extract_tb(e.__traceback__)
    return f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""


def _user_code_error(what: str, path: Path | None, e: BaseException) -> ConfigError:
    if isinstance(e, ModuleNotFoundError) and e.name:
        missing = libraries.not_installed(e.name, f"model.factory: {what}")
        if missing is not None:
            missing.file = str(path) if path else None
            return missing
    if isinstance(e, SystemExit):
        detail = f"called sys.exit({e.code!r})"
    else:
        detail = f"raised {type(e).__name__}: {str(e)[:300]}"
    return ConfigError(
        f"model.factory: {what} {detail}{_where(e)}",
        file=str(path) if path else None,
        hint="fix the factory; it must return an unfitted estimator and nothing else",
    )


def _load_factory(cfg: Config) -> tuple[Any, Path]:
    ref = cfg.model.factory
    assert ref is not None
    file_part, _, func_name = ref.rpartition(":")
    path = cfg.resolve(file_part)
    if not path.is_file():
        raise ConfigError(
            f"model.factory: file {path} not found",
            hint="factory: path/to/model.py:build_model (relative to the config)",
        )
    spec = importlib.util.spec_from_file_location(f"ci_ml_user_factory_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:  # the user's file failed to import: theirs to fix
        raise _user_code_error(f"importing {path.name}", path, e) from None
    finally:
        sys.path.remove(str(path.parent))
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(f"model.factory: {path.name} has no function {func_name!r}")
    return func, path


def build_estimator(cfg: Config) -> Any:
    """An unfitted estimator from the config: import path + params, or a user factory."""
    from sklearn.base import BaseEstimator

    params = dict(cfg.model.params)
    if cfg.model.estimator:
        cls = _import_estimator(cfg.model.estimator)
        try:
            est = cls(**params)
        except TypeError as e:
            raise ConfigError(
                f"model.params: {cfg.model.estimator} rejected the parameters: {e}"
            ) from None
    else:
        func, path = _load_factory(cfg)
        try:
            est = func(**params)
        except TypeError as e:
            raise ConfigError(
                f"model.params: the factory {cfg.model.factory} rejected the parameters: {e}"
            ) from None
        except (Exception, SystemExit) as e:
            raise _user_code_error(f"calling {cfg.model.factory}", path, e) from None
    # CatBoost's estimators have the scikit-learn interface without its base class.
    if not isinstance(est, BaseEstimator) and libraries.library_of(est) is None:
        raise ConfigError(
            f"model: expected a scikit-learn estimator, got {type(est).__name__}",
            hint="the factory must return an unfitted estimator or Pipeline",
        )
    libraries.check_params(est)
    return est


def apply_seed(est: Any, seed: int) -> list[str]:
    """Set every random_state the estimator (and its nested steps) exposes that the user left unset."""
    names = [
        k
        for k, v in est.get_params(deep=True).items()
        if k.split("__")[-1] == "random_state" and v is None
    ]
    if names:
        est.set_params(**dict.fromkeys(names, seed))
    return sorted(names)


def check_task(est: Any, task: str) -> None:
    from sklearn.base import is_classifier, is_regressor

    if task == "classification" and not is_classifier(est):
        raise ConfigError(
            f"task is classification but {type(est).__name__} is not a classifier",
            hint="pick a classifier or set task: regression",
        )
    if task == "regression" and not is_regressor(est):
        raise ConfigError(
            f"task is regression but {type(est).__name__} is not a regressor",
            hint="pick a regressor or set task: classification",
        )


def _fit_hint(cfg: Config, columns: Columns | None) -> str:
    if columns is not None:
        return (
            "the estimator failed on the encoded columns; see the message (or write a `factory:`)"
        )
    if cfg.model.estimator:
        return (
            "set model.preprocess: auto (the default) to have ci-ml encode text columns and "
            "impute missing values, or build the pipeline in a `factory:`"
        )
    return "encode categorical columns and impute missing values in the factory's Pipeline (see examples/mixed-tabular)"


def fit(
    cfg: Config,
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    columns: Columns | None = None,
    metric: str | None = None,
    trainer: Trainer | None = None,
) -> TrainResult:
    """Build, seed and fit the model; `columns` (from `columns_for`) puts the
    auto preprocessing in front of the estimator; `model.search` first picks its
    params by cross-validation on these rows, scored by `metric` (the primary).
    `trainer` fits it instead of `fit_model` (engine: dask, which may train on
    every row of the cluster: ci_ml.modeling.dask_boosters)."""

    est = build_estimator(cfg)
    check_task(est, task)
    # The libraries' own seeds and thread counts first: their random_state, once
    # set, is no longer left for apply_seed.
    seeded = sorted(libraries.apply_defaults(est, cfg.model.seed) + apply_seed(est, cfg.model.seed))
    model = preprocess.build(est, columns, X) if columns is not None else est
    searched = None
    if cfg.model.search is not None:
        prefix = "model__" if model is not est else ""
        # A library that trains on class indexes (XGBoost) is searched on them too.
        codes, _ = class_codes(model, y, task)
        searched = search.tune(
            model, X, codes, cfg.model.search, task, metric, cfg.model.seed, prefix
        )
    t0 = time.perf_counter()
    on_engine = None
    try:
        if trainer is None:
            fit_model(model, X, y, task)
        else:
            model, on_engine = trainer(model, X, y, task)
    except ValueError as e:
        # sklearn's ValueErrors at fit time are data problems: strings in a numeric
        # model, NaNs an estimator cannot take, and so on.
        raise UsageError(
            f"{type(est).__name__}.fit failed: {str(e)[:500]}", hint=_fit_hint(cfg, columns)
        ) from None
    except (Exception, SystemExit) as e:  # the estimator's own code (a custom step, say)
        raise UsageError(
            f"{type(est).__name__}.fit raised {type(e).__name__}: {str(e)[:500]}{_where(e)}",
            hint="the estimator or a step of its pipeline failed on this data; see the message",
        ) from None
    seconds = time.perf_counter() - t0
    labels = libraries.classes_of(model)
    classes = plain(labels) if labels is not None else None
    applied = columns is not None and model is not est
    return TrainResult(
        describe_estimator(model),
        _jsonable_params(est),
        seeded,
        round(seconds, 4),
        classes,
        task,
        preprocess=preprocess.describe(columns, X) if applied else None,
        model=model,
        search=searched,
        engine=on_engine,
    )


def class_codes(model: Any, y: pd.Series, task: str) -> tuple[pd.Series, Any]:
    """The labels `model` trains on, and the real labels when those are class
    indexes (a classifier that takes nothing else: XGBoost); else (y, None)."""
    lib = libraries.library_of(libraries.final_step(model))
    if task != "classification" or lib is None or not lib.integer_labels:
        return y, None
    import numpy as np
    import pandas as pd

    labels, codes = np.unique(np.asarray(y), return_inverse=True)
    return pd.Series(codes, index=y.index, name=y.name), labels


def fit_model(model: Any, X: pd.DataFrame, y: pd.Series, task: str) -> None:
    """model.fit(X, y), on class indexes for a classifier that takes nothing else
    (XGBoost), whose real labels are then kept beside it (libraries.LABELS)."""
    codes, labels = class_codes(model, y, task)
    model.fit(X, codes)
    if labels is not None:
        setattr(libraries.final_step(model), libraries.LABELS, labels)


def _jsonable_params(est: Any) -> dict[str, Any]:
    """Top-level and nested params as JSON-friendly values (estimators by class name)."""
    out = {}
    for k, v in sorted(est.get_params(deep=True).items()):
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(
            isinstance(x, (str, int, float, bool)) or x is None for x in v
        ):
            out[k] = list(v)
        elif hasattr(v, "get_params"):
            out[k] = type(v).__name__
        else:
            out[k] = repr(v)[:200]
    return out
