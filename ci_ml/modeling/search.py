"""`model.search`: the candidates a declared space gives, cross-validated on the
training rows only (the holdout never reaches a search), and the best params.

Grid and random searches are scikit-learn's `GridSearchCV` run over batches of
candidates (from `ParameterGrid` / `ParameterSampler`): scikit-learn has no time
limit, so `max_minutes` is checked between batches and no batch starts once it
is spent (a batch is as many candidates as there are joblib workers, so the
bound is overrun by at most one batch). Successive halving is scikit-learn's
`HalvingRandomSearchCV` in one call, bounded by `max_trials` only, its rounds
sized so the last one scores its candidates on the training rows a fold
holds (`min_resources="exhaust"`). Every fit
runs through joblib (`n_jobs`), so `joblib.parallel_backend("dask")` around a
build hands the fits to a cluster.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ci_ml.artifact import plain
from ci_ml.config import Distribution
from ci_ml.errors import ConfigError, UsageError
from ci_ml.records import SearchResult, SearchTrial
from ci_ml.stats.metrics import METRICS

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import SearchConfig

Params = dict[str, object]  # a candidate: parameter name -> value


class Estimator(Protocol):
    """What a search needs of the model: scikit-learn's `set_params`."""

    def set_params(self, **params: object) -> object: ...


# ci-ml's metric names as scikit-learn scorers (errors are negated there: higher
# is better for every scorer).
SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "precision_macro": "precision_macro",
    "recall_macro": "recall_macro",
    "roc_auc": "roc_auc",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}


def scorer(metric: str, task: str, n_classes: int) -> str:
    """The scikit-learn scorer for one of ci-ml's metrics."""
    m = METRICS.get(metric)
    if m is None or m.task != task:
        names = ", ".join(n for n, x in METRICS.items() if x.task == task)
        raise ConfigError(
            f"model.search.scoring: {metric!r} is not a {task} metric",
            hint=f"one of: {names}",
        )
    if metric == "roc_auc" and n_classes > 2:
        return "roc_auc_ovr"
    return SCORERS[metric]


def distribution(d: Distribution) -> object:
    """A range of the config as the scipy distribution ParameterSampler draws from."""
    from scipy import stats

    if d.int_:
        return stats.randint(int(d.low), int(d.high) + 1)
    if d.log:
        return stats.loguniform(d.low, d.high)
    return stats.uniform(d.low, d.high - d.low)


def space(search: SearchConfig, prefix: str = "") -> Params:
    """The declared space as scikit-learn reads it: lists as they are, ranges as
    distributions, names prefixed for an estimator behind ci-ml's preprocessing."""
    return {
        prefix + name: distribution(v) if isinstance(v, Distribution) else list(v)
        for name, v in search.space.items()
    }


def candidates(search: SearchConfig, seed: int, prefix: str = "") -> list[Params]:
    """Every candidate a grid or random search will try, in order (seeded)."""
    from sklearn.model_selection import ParameterGrid, ParameterSampler

    grid = space(search, prefix)
    if search.method == "grid":
        every = list(ParameterGrid(grid))
        if len(every) > search.max_trials:
            raise ConfigError(
                f"model.search: the grid has {len(every):,} combinations, more than "
                f"max_trials ({search.max_trials})",
                hint="raise max_trials, shorten the lists, or use method: random "
                "(max_trials draws from the same space)",
            )
        return every
    with warnings.catch_warnings():
        # A space of lists smaller than max_trials: every combination, once.
        warnings.simplefilter("ignore", UserWarning)
        return list(ParameterSampler(grid, n_iter=search.max_trials, random_state=seed))


def splitter(task: str, folds: int, seed: int) -> object:
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return KFold(n_splits=folds, shuffle=True, random_state=seed)


def run_batches(
    items: list[Params],
    size: int,
    max_seconds: float | None,
    evaluate: Callable[[list[Params]], None],
    clock: Callable[[], float] = time.monotonic,
) -> str | None:
    """Evaluate `items` in batches of `size`; no batch starts once `max_seconds`
    have passed since the first. Returns why it stopped early (None: it did not)."""
    start = clock()
    for i in range(0, len(items), size):
        elapsed = clock() - start
        if i and max_seconds is not None and elapsed >= max_seconds:
            return f"max_minutes ({max_seconds / 60:g}) spent after {i} of {len(items)} candidates"
        evaluate(items[i : i + size])
    return None


def _fit_failed(e: BaseException) -> UsageError:
    return UsageError(
        f"model.search: a candidate failed to fit: {type(e).__name__}: {str(e)[:400]}",
        hint="check the values in model.search.space (each must be valid for the estimator)",
    )


def _rows(
    params: Sequence[Params], means: Sequence[float], stds: Sequence[float], flip: bool
) -> list[tuple[Params, float, float]]:
    """(params, mean, std) per candidate, the mean in the metric's own units."""
    sign = -1.0 if flip else 1.0
    return [
        (dict(p), sign * float(m), float(s)) for p, m, s in zip(params, means, stds, strict=True)
    ]


def search(
    model: Estimator,
    X: pd.DataFrame,
    y: pd.Series,
    cfg: SearchConfig,
    task: str,
    metric: str,
    seed: int,
    prefix: str = "",
    clock: Callable[[], float] = time.monotonic,
) -> SearchResult:
    """Cross-validate the candidates on (X, y), the training rows; the result
    names the best params (without `prefix`) and the top of the table."""
    import joblib
    from sklearn.model_selection import GridSearchCV

    n_classes = int(y.nunique()) if task == "classification" else 0
    scoring = scorer(metric, task, n_classes)
    flip = scoring.startswith("neg_")
    folds = splitter(task, cfg.cv, seed)
    t0 = clock()
    rows: list[tuple[Params, float, float]] = []
    stopped: str | None = None
    last_rows: int | None = None  # halving: the rows its last round gave each candidate
    if cfg.method == "halving":
        planned = cfg.max_trials
        rows, last_rows = _halving(model, X, y, cfg, scoring, folds, seed, prefix)
    else:
        todo = candidates(cfg, seed, prefix)
        planned = len(todo)

        def evaluate(batch: list[Params]) -> None:
            grid = [{k: [v] for k, v in c.items()} for c in batch]
            gs = GridSearchCV(
                model,
                grid,
                scoring=scoring,
                cv=folds,
                n_jobs=cfg.n_jobs,
                refit=False,
                error_score="raise",
            )
            try:
                gs.fit(X, y)
            except (ValueError, TypeError) as e:
                raise _fit_failed(e) from None
            res = gs.cv_results_
            rows.extend(_rows(res["params"], res["mean_test_score"], res["std_test_score"], flip))

        size = max(1, joblib.effective_n_jobs(cfg.n_jobs))
        max_seconds = cfg.max_minutes * 60 if cfg.max_minutes is not None else None
        stopped = run_batches(todo, size, max_seconds, evaluate, clock)
    better = METRICS[metric].greater_is_better
    ranked = sorted(rows, key=lambda r: -r[1] if better else r[1])
    top = [
        SearchTrial(plain(_unprefixed(p, prefix)), round(m, 6), round(s, 6), i + 1)
        for i, (p, m, s) in enumerate(ranked[: cfg.top])
    ]
    return SearchResult(
        method=cfg.method,
        metric=metric,
        greater_is_better=better,
        cv=cfg.cv,
        planned=planned,
        trials=len(rows),
        seconds=round(clock() - t0, 3),
        best=plain(_unprefixed(ranked[0][0], prefix)),
        top=top,
        n_jobs=cfg.n_jobs,
        stopped=stopped,
        last_round_rows=last_rows,
    )


def _unprefixed(params: Params, prefix: str) -> Params:
    return {k.removeprefix(prefix): v for k, v in params.items()}


def _halving(
    model: Estimator,
    X: pd.DataFrame,
    y: pd.Series,
    cfg: SearchConfig,
    scoring: str,
    folds: object,
    seed: int,
    prefix: str,
) -> tuple[list[tuple[Params, float, float]], int]:
    """scikit-learn's successive halving; the table is its last round's (the
    candidates scored on the most rows), with the rows that round used.

    scikit-learn's default schedule starts from the fewest rows a fold can
    hold and grows by `factor` only as many times as the candidates allow, so a
    few candidates end on a few dozen rows: too few for a booster to split
    once (every candidate scored 0.5 ROC AUC). "exhaust" sizes the first round
    so the last uses the training rows."""
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    hs = HalvingRandomSearchCV(
        model,
        space(cfg, prefix),
        n_candidates=cfg.max_trials,
        min_resources="exhaust",
        scoring=scoring,
        cv=folds,
        random_state=seed,
        n_jobs=cfg.n_jobs,
        refit=False,
        error_score="raise",
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            hs.fit(X, y)
    except (ValueError, TypeError) as e:
        raise _fit_failed(e) from None
    res = hs.cv_results_
    last = max(res["iter"])
    keep = [i for i, it in enumerate(res["iter"]) if it == last]
    params, means, stds = (
        [res[k][i] for i in keep] for k in ("params", "mean_test_score", "std_test_score")
    )
    return _rows(params, means, stds, scoring.startswith("neg_")), int(hs.n_resources_[-1])


def tune(
    model: Estimator,
    X: pd.DataFrame,
    y: pd.Series,
    cfg: SearchConfig,
    task: str,
    primary: str | None,
    seed: int,
    prefix: str = "",
) -> SearchResult:
    """Search, then set the best params on `model` (unfitted: the caller refits it
    on every training row)."""
    metric = cfg.scoring or primary or ("roc_auc" if task == "classification" else "rmse")
    result = search(model, X, y, cfg, task, metric, seed, prefix)
    model.set_params(**{prefix + k: v for k, v in result.best.items()})
    return result
