"""The gradient-boosting libraries ci-ml takes besides scikit-learn: XGBoost,
LightGBM and CatBoost, through their scikit-learn interfaces.

What each one needs: the extra that installs it (`pip install 'ci-ml[xgboost]'`;
the action installs the extras a config names, ci_ml/install.py), the
parameters that make two builds give the same model (a seed, a fixed thread
count, no files or logs of its own), its native categorical handling (which the
ONNX converters cannot carry: `model.preprocess: auto` encodes text columns
instead), and whether its classifier trains on class indexes only (XGBoost).
None of them is imported here: an object's library is read from its class's
module name, so the base install never loads them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Protocol

from ci_ml.errors import ConfigError
from ci_ml.install import EXTRAS

# A fitted classifier of a library that trains on class indexes (XGBoost) keeps
# the real labels here, in the order of its probability columns: ci-ml reads
# them as the model's classes and writes them into model.onnx.
LABELS = "ci_ml_classes_"
# The thread count ci-ml gives a library when the params leave it unset. Their
# sums of gradients run in the order the threads split the rows, so a model
# trained with 2 threads can differ (in the last bits of a leaf, or a split
# that ties) from one trained with 8: the default is the same on every machine.
THREADS = 1


class Estimator(Protocol):
    def get_params(self, deep: bool = ...) -> dict[str, object]: ...
    def set_params(self, **params: object) -> object: ...


@dataclass(frozen=True)
class Library:
    module: str  # the top-level import name
    seed: tuple[str, ...]  # the parameter ci-ml seeds first, then its aliases
    threads: tuple[str, ...]  # the thread count and its aliases
    categorical: tuple[str, ...]  # parameters that turn on native categorical handling
    # Set when the params leave them (and their aliases) unset: quiet, no files.
    quiet: dict[str, tuple[object, tuple[str, ...]]] = field(default_factory=dict)
    integer_labels: bool = False  # its classifier trains on 0..k-1 only
    float32_inputs: bool = False  # it rounds every feature value to float32 first

    @property
    def extra(self) -> str:
        return EXTRAS[self.module]

    @property
    def install(self) -> str:
        return f"pip install 'ci-ml[{self.extra}]'"


LIBRARIES: dict[str, Library] = {
    "xgboost": Library(
        "xgboost",
        seed=("random_state", "seed"),
        threads=("n_jobs", "nthread"),
        categorical=("enable_categorical",),
        integer_labels=True,
        float32_inputs=True,  # its DMatrix holds float32, and so do its split values
    ),
    "lightgbm": Library(
        "lightgbm",
        seed=("random_state", "seed", "random_seed"),
        threads=("n_jobs", "num_threads", "nthread", "nthreads", "num_thread"),
        categorical=(
            "categorical_feature",
            "cat_feature",
            "categorical_column",
            "cat_column",
            "categorical_features",
        ),
        quiet={
            "verbose": (-1, ("verbosity",)),
            # LightGBM's own switch for the same model from the same data and params.
            "deterministic": (True, ()),
            "force_row_wise": (True, ("force_col_wise",)),
        },
    ),
    "catboost": Library(
        "catboost",
        seed=("random_seed", "random_state"),
        threads=("thread_count",),
        categorical=("cat_features", "text_features", "embedding_features"),
        quiet={
            # CatBoost writes catboost_info/ into the working directory by default.
            "allow_writing_files": (False, ("train_dir",)),
            "logging_level": ("Silent", ("verbose", "silent", "verbose_eval")),
        },
        float32_inputs=True,  # its borders and feature values are float32
    ),
}


def library_of(obj: object) -> Library | None:
    """The library an estimator object comes from (None: scikit-learn or other)."""
    return LIBRARIES.get(type(obj).__module__.partition(".")[0])


def library_for_path(import_path: str) -> Library | None:
    return LIBRARIES.get(import_path.partition(".")[0])


def not_installed(import_path: str, key: str) -> ConfigError | None:
    """The error for a config naming a library that is not installed (None: it is,
    or it is none of these)."""
    lib = library_for_path(import_path)
    if lib is None or importlib.util.find_spec(lib.module) is not None:
        return None
    return ConfigError(
        f"{key}: {import_path} needs {lib.module}, which is not installed",
        hint=f"install it with `{lib.install}` (the ci-ml action installs the extras "
        "the config's model.estimator names from its lock)",
    )


def final_step(est: object) -> object:
    """The last step of a Pipeline (of a Pipeline...), or the estimator itself."""
    while hasattr(est, "steps"):
        est = est.steps[-1][1]
    return est


def classes_of(model: object) -> list[object] | None:
    """A fitted classifier's class labels, in the order of its probability columns
    (None: no classifier)."""
    labels = getattr(final_step(model), LABELS, None)
    if labels is None:
        labels = getattr(model, "classes_", None)
    return None if labels is None else list(labels)


def _parts(est: Estimator) -> list[tuple[str, Estimator]]:
    """(param path prefix, estimator) for `est` and every library estimator inside it."""
    out: list[tuple[str, Estimator]] = [("", est)]
    for key, value in est.get_params(deep=True).items():
        if library_of(value) is not None and hasattr(value, "get_params"):
            out.append((f"{key}__", value))  # type: ignore[arg-type]
    return [(p, e) for p, e in out if library_of(e) is not None]


def check_params(est: Estimator) -> None:
    """Refuse native categorical handling: ONNX cannot carry it."""
    for prefix, part in _parts(est):
        lib = library_of(part)
        assert lib is not None
        params = part.get_params(deep=False)
        used = [k for k in lib.categorical if params.get(k) not in (None, False, "auto", [], ())]
        if used:
            raise ConfigError(
                f"model.params: {type(part).__name__}'s native categorical handling "
                f"({', '.join(prefix + k for k in used)}) cannot be exported to ONNX",
                hint="remove it and let `model.preprocess: auto` one-hot encode the text "
                "columns (or encode them with OneHotEncoder/OrdinalEncoder in a factory's Pipeline)",
            )


def _unset(params: dict[str, object], names: tuple[str, ...]) -> bool:
    return all(params.get(n) is None for n in names)


def apply_defaults(est: Estimator, seed: int) -> list[str]:
    """Seed every library estimator in `est`, fix its thread count and keep it quiet,
    where the user left those unset; the param paths set."""
    done: list[str] = []
    for prefix, part in _parts(est):
        lib = library_of(part)
        assert lib is not None
        params = part.get_params(deep=False)
        new: dict[str, object] = {}
        given_seed = next((params[k] for k in lib.seed if params.get(k) is not None), None)
        if params.get(lib.seed[0]) is None:
            # An alias the user gave (LightGBM's `seed=`) seeds the main key too, so the
            # two never disagree.
            new[lib.seed[0]] = seed if given_seed is None else given_seed
        if _unset(params, lib.threads):
            new[lib.threads[0]] = THREADS
        for key, (value, aliases) in lib.quiet.items():
            if _unset(params, (key, *aliases)):
                new[key] = value
        if new:
            part.set_params(**new)
            done += [prefix + k for k in new]
    return sorted(done)
