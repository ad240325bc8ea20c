"""XGBoost and LightGBM trained on every training row of a Dask cluster
(`engine: {kind: dask}`), through their libraries' own Dask trainers.

On the Dask engine the client holds a seeded sample of the training rows
(ci_ml.data.load_sampled), and an estimator is fitted on it. A booster
(XGBClassifier/XGBRegressor, LGBMClassifier/LGBMRegressor), alone, behind
`model.preprocess: auto` or at the end of a user's Pipeline, trains on every
training row instead, where the rows are:

- the steps before it are fitted on the client's sample, then transform every
  training partition on the workers;
- its Dask twin (xgboost.dask.DaskXGBClassifier, lightgbm.DaskLGBMClassifier, ...)
  trains on the transformed partitions with the same params;
- the booster it made goes back into the plain estimator (XGBoost: its bytes
  loaded by XGBClassifier; LightGBM: `to_local()`), so the model is the Pipeline
  a local build makes, and export, parity and the ONNX graph do not change.

Classes are encoded as on the local engine (ci_ml.modeling.estimator.class_codes),
from the labels of every training row, not the sample's: XGBoost trains on their
indexes. LightGBM's Dask trainer encodes the labels on each worker from the rows
it holds, so a classifier trains there only when every training partition holds
every class (else on the sample, and the record says why).

When the client's sample holds every training row, the model is fitted there:
the same model, from the same rows, as a local build.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

from ci_ml.data import model_input
from ci_ml.modeling import libraries
from ci_ml.modeling.estimator import Trainer, fit_model
from ci_ml.records import EngineFit

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from ci_ml.engine import Sampled
    from ci_ml.engine.dask import DaskEngine


class Step(Protocol):
    """A fitted step of a Pipeline (scikit-learn's transformers are untyped)."""

    def fit_transform(self, X: object, y: object) -> object: ...
    def transform(self, X: object) -> object: ...


class Booster(libraries.Estimator, Protocol):
    def load_model(self, fname: bytearray) -> None: ...


# (library, estimator class) -> its Dask trainer's import path
TRAINERS: dict[tuple[str, str], str] = {
    ("xgboost", "XGBClassifier"): "xgboost.dask.DaskXGBClassifier",
    ("xgboost", "XGBRegressor"): "xgboost.dask.DaskXGBRegressor",
    ("lightgbm", "LGBMClassifier"): "lightgbm.DaskLGBMClassifier",
    ("lightgbm", "LGBMRegressor"): "lightgbm.DaskLGBMRegressor",
}


def dask_trainer(final: object) -> str | None:
    """The import path of the Dask trainer of an estimator (None: it has none).
    By exact class: a subclass may change what fitting means."""
    lib = libraries.library_of(final)
    return None if lib is None else TRAINERS.get((lib.module, type(final).__name__))


def no_trainer(final: object) -> str:
    """Why an estimator is fitted on the client's sample."""
    name = type(final).__name__
    if libraries.library_of(final) is libraries.LIBRARIES["catboost"]:
        return f"{name}: CatBoost has no Dask trainer"
    return f"{name} has no Dask trainer (XGBoost's and LightGBM's estimators have)"


def split_final(model: object) -> tuple[list[Step], object]:
    """The steps before the final estimator (nested Pipelines flattened, in order;
    "passthrough" left out) and the final estimator."""
    before: list[Step] = []
    while isinstance(steps := getattr(model, "steps", None), list):
        before += [s for _, s in steps[:-1] if s is not None and not isinstance(s, str)]
        model = steps[-1][1]
    return before, model


def with_final(model: object, fitted: object) -> object:
    """`model` with its final estimator (in the innermost Pipeline) replaced by `fitted`."""
    steps = getattr(model, "steps", None)
    if not isinstance(steps, list):
        return fitted
    while isinstance(inner := getattr(steps[-1][1], "steps", None), list):
        steps = inner
    steps[-1] = (steps[-1][0], fitted)
    return model


def partition_classes(df: pd.DataFrame, first_row: int, target: str) -> NDArray[np.generic[object]]:
    """The sorted labels a partition holds."""
    import numpy as np

    return np.unique(np.asarray(df[target]))


def model_rows(part: pd.DataFrame, features: list[str], steps: list[Step]) -> object:
    """A partition as the booster reads it: the features as a model reads them,
    through the fitted steps before it (on a worker)."""
    X: object = model_input(part, features)
    for step in steps:
        X = step.transform(X)
    return X


def encoded(y: pd.Series, labels: NDArray[np.generic[object]] | None) -> pd.Series:
    """The target as the booster reads it: the class indexes of `labels` (sorted;
    XGBoost's classifier), else the target as it is."""
    import numpy as np
    import pandas as pd

    if labels is None:
        return y
    return pd.Series(np.searchsorted(labels, np.asarray(y)), index=y.index, name=y.name)


def model_labels(
    part: pd.DataFrame, target: str, labels: NDArray[np.generic[object]] | None
) -> pd.Series:
    """A partition's target as the booster reads it (on a worker)."""
    return encoded(part[target], labels)


def trainer(engine: DaskEngine, features: list[str], target: str, sampled: Sampled) -> Trainer:
    """How the train stage fits a model on the Dask engine (`sampled`: what the
    client holds of the training rows)."""

    def fit(model: object, X: pd.DataFrame, y: pd.Series, task: str) -> tuple[object, EngineFit]:
        before, final = split_final(model)

        def on_sample(why: str) -> tuple[object, EngineFit]:
            fit_model(model, X, y, task)
            return model, EngineFit(rows=len(X), of=sampled.total, sampled_because=why)

        path = dask_trainer(final)
        if path is None:
            return on_sample(no_trainer(final))
        if sampled.whole:
            return on_sample("the client's sample holds every training row")
        return _on_cluster(engine, model, path, features, target, sampled, (X, y, task), on_sample)

    return fit


def _on_cluster(
    engine: DaskEngine,
    model: object,
    path: str,
    features: list[str],
    target: str,
    sampled: Sampled,
    sample: tuple[pd.DataFrame, pd.Series, str],
    on_sample: Callable[[str], tuple[object, EngineFit]],
) -> tuple[object, EngineFit]:
    import numpy as np

    X, y, task = sample
    before, final = split_final(model)
    lib = libraries.library_of(final)
    assert lib is not None
    labels: NDArray[np.generic[object]] | None = None
    if task == "classification":
        found = engine.map_partitions(
            "train", functools.partial(partition_classes, target=target), [target]
        )
        every = np.unique(np.concatenate(found))
        if lib.integer_labels:
            labels = every
        lacking = sum(1 for f in found if 0 < len(f) < len(every))
        if lacking and not lib.integer_labels:
            return on_sample(
                f"LightGBM's Dask trainer encodes the labels on each worker from its own "
                f"rows, and {lacking} of {len(found)} training partitions lack a class"
            )
    # The steps before the booster: fitted on the sample, on the labels it trains on.
    fit_y = encoded(y, labels)
    Xt: object = X
    for step in before:
        Xt = step.fit_transform(Xt, fit_y)
    collections = _collections(engine, features, target, before, labels, Xt, y)
    if collections is None:
        return on_sample(
            f"the steps before {type(final).__name__} give {type(Xt).__name__}, "
            "which ci-ml does not feed to a Dask trainer (a numpy array or a DataFrame)"
        )
    data, label, parts, rows = collections
    fitted = _train(engine, final, lib, path, data, label)
    if labels is not None:
        setattr(fitted, libraries.LABELS, labels)
    workers = engine.describe().get("workers")
    return with_final(model, fitted), EngineFit(
        rows=rows,
        of=sampled.total,
        trainer=path,
        partitions=parts,
        workers=workers if isinstance(workers, int) else None,
        preprocess_rows=len(X) if before else None,
    )


def _collections(
    engine: DaskEngine,
    features: list[str],
    target: str,
    before: list[Step],
    labels: NDArray[np.generic[object]] | None,
    Xt: object,
    y: pd.Series,
) -> tuple[object, object, int, int] | None:
    """Every training partition as the booster reads it, lazily: a Dask array
    when the steps before it give arrays, a Dask DataFrame when they give frames
    (or there are none), with the labels partitioned alike; the partition and row
    counts. None: another kind (a sparse matrix)."""
    import dask
    import dask.array as da
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    parts = engine.parts("train", [*features, target])
    rows = sum(n for _, n in parts)
    xs = [dask.delayed(model_rows)(p, features, before) for p, _ in parts]
    ys = [dask.delayed(model_labels)(p, target, labels) for p, _ in parts]
    y_meta = encoded(y.iloc[:0], labels)
    if isinstance(Xt, pd.DataFrame):
        return (
            dd.from_delayed(xs, meta=Xt.iloc[:0], verify_meta=False),
            dd.from_delayed(ys, meta=y_meta, verify_meta=False),
            len(parts),
            rows,
        )
    if isinstance(Xt, np.ndarray) and Xt.ndim == 2:
        width = Xt.shape[1]
        return (
            da.concatenate(
                [
                    da.from_delayed(x, (n, width), dtype=Xt.dtype)
                    for x, (_, n) in zip(xs, parts, strict=True)
                ]
            ),
            da.concatenate(
                [
                    da.from_delayed(
                        dask.delayed(np.asarray)(v), (n,), dtype=np.asarray(y_meta).dtype
                    )
                    for v, (_, n) in zip(ys, parts, strict=True)
                ]
            ),
            len(parts),
            rows,
        )
    return None


def _train(
    engine: DaskEngine,
    final: object,
    lib: libraries.Library,
    path: str,
    data: object,
    label: object,
) -> object:
    """The booster trained by its Dask twin with `final`'s params, back in a plain
    estimator of `final`'s class."""
    module, _, name = path.rpartition(".")
    twin = getattr(importlib.import_module(module), name)
    params = cast("libraries.Estimator", final).get_params(deep=False)
    # LightGBM's Dask trainer logs the ports it finds with print(), to stdout, which
    # carries the CLI's own output. (Its workers' network logs come from C++ on
    # their threads, and reach whatever stdout the workers have.)
    with contextlib.redirect_stdout(sys.stderr):
        if lib.module == "xgboost":
            dask_model = twin(**params)
            dask_model.client = engine.client
            dask_model.fit(data, label)
            fitted = cast("Booster", type(final)(**params))
            fitted.load_model(bytearray(dask_model.get_booster().save_raw("ubj")))
            return fitted
        # LightGBM gives each worker its own thread count; it warns that it ignores
        # n_jobs, which is among its Dask estimator's params whether set or not.
        for key in lib.threads:
            params.pop(key, None)
        dask_model = twin(client=engine.client, **params)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            dask_model.fit(data, label)
        return dask_model.to_local()
