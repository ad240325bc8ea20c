"""The train stage (`ci-ml train`): the estimator from the config, seeded and
fitted on the training rows (ci_ml.modeling). With the build cache, a build made
of exactly its baseline's inputs takes the baseline's model instead."""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING

from ci_ml.artifact import BUILD_DIR, FITTED_MODEL
from ci_ml.stage import Section, Stage

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.modeling.estimator import Trainer
    from ci_ml.modeling.preprocess import Columns
    from ci_ml.records import Profile, TrainResult
    from ci_ml.stage import Console, StageRun


def run(r: StageRun) -> TrainResult:
    from ci_ml.data import too_few_rows
    from ci_ml.errors import DataValidationError
    from ci_ml.modeling.estimator import fit

    b = r.build
    plan = b.plan_metrics(probabilities=True)  # a bad metric or gate fails now, not after the fit
    for later in b.chain.stages[b.chain.names.index("train") + 1 :]:
        if later.preflight is not None:  # and config that cannot apply to this data
            later.preflight(r)
    decision = r.cache_decision()
    profile = data_profile(b)  # while the training rows are here (they are let go below)
    if decision.reuse:
        result = reused(r, decision.reason)
        result.profile = profile
        return result
    X, y = b.dataset.xy("train")
    problem = too_few_rows(y, b.task, "the training rows")
    if problem:
        raise DataValidationError(
            problem,
            hint="add rows (every class in both the training and the holdout rows), or "
            "lower data.split.test_size",
        )
    scale = b.dataset.scale  # engine: dask: the estimator's n_jobs run on the cluster
    if b.cfg.model.command is not None:
        from ci_ml.modeling.command import train as by_command

        result = by_command(
            b.cfg, X, y, b.task, b.dataset.target, b.out / BUILD_DIR, b.run.environment
        )
    else:
        with scale.engine.fitting() if scale is not None else contextlib.nullcontext():
            result = fit(
                b.cfg, X, y, b.task, columns_for(b, list(X.columns)), plan.primary, trainer_for(b)
            )
    result.profile = profile
    del X, y
    if r.baseline is not None:
        result.note = decision.reason
        result.warning = decision.warning
    # The stages after this one read the holdout, and the model tests' resampled columns.
    b.dataset.drop_train(keep=b.cfg.model_tests.training_columns())
    # An intermediate of this build only, for `ci-ml export` run alone: later stages
    # of the same process take the model from memory. It is never published, and
    # nothing ci-ml downloads is ever unpickled.
    if result.model is None:  # a command's model.onnx stays where it wrote it
        return result
    import joblib

    buf = io.BytesIO()
    joblib.dump(result.model, buf)
    b.write_bytes(FITTED_MODEL, buf.getvalue())
    return result


def data_profile(b: Build) -> Profile:
    """The training rows' profile (features and label) for profile.json: what a
    drift check compares new data with. A column the safeguards flag as personal
    data, or listed in allow_personal_data, keeps no value; no stored category holds
    personal data (ci_ml.monitoring.profiles)."""
    from ci_ml.monitoring.profiles import BINS, TOP_K, data_profile
    from ci_ml.records import Profile

    safeguards = b.result("safeguards")
    # Flagged by the scan, or declared to hold personal data (allow_personal_data: the
    # scan skips them, and a number's quantiles would be raw values).
    masked = set(b.cfg.safeguards.allow_personal_data) | {
        f.column
        for f in (safeguards.findings if safeguards is not None else [])
        if f.check == "personal_data" and f.column
    }
    train, ds = b.dataset.train, b.dataset
    columns, label = data_profile(
        train, ds.features, ds.target, b.task, masked, b.cfg.safeguards.personal_data
    )
    return Profile(
        task=b.task,
        target=ds.target,
        rows=len(train),
        bins=BINS,
        top_k=TOP_K,
        columns=columns,
        label=label,
    )


def trainer_for(b: Build) -> Trainer | None:
    """engine: dask: XGBoost and LightGBM train on every training row on the
    cluster, other estimators on the client's sample (ci_ml.modeling.dask_boosters);
    None: fitted as on the local engine."""
    scale = b.dataset.scale
    if scale is None:  # a local build
        return None
    from ci_ml.engine.dask import DaskEngine
    from ci_ml.modeling.dask_boosters import trainer

    if not isinstance(scale.engine, DaskEngine):
        return None

    ds = b.dataset
    return trainer(scale.engine, ds.features, ds.target, scale.sampled["train"])


def columns_for(b: Build, features: list[str]) -> Columns | None:
    """The column roles `model.preprocess: auto` works from, when it applies."""
    if not b.cfg.model.estimator or b.cfg.model.preprocess != "auto":
        return None
    from ci_ml.checks.schema import load_schema
    from ci_ml.modeling.preprocess import column_roles

    schema, _ = load_schema(b.cfg)
    cols = column_roles(list(b.dataset.sources.values()), features, schema)
    # A one-hot column's values are written into the model: none that is personal data.
    cols.allowed_personal = frozenset(b.cfg.safeguards.allow_personal_data)
    cols.personal_check = b.cfg.safeguards.personal_data
    return cols


def reused(r: StageRun, reason: str) -> TrainResult:
    """The build cache: nothing is fitted; the record says whose model this build
    takes (the baseline was made of exactly this build's inputs)."""
    from ci_ml.records import TrainResult

    base = r.baseline
    assert base is not None
    model = base.manifest.model
    return TrainResult(
        estimator=model.estimator if model else "?",
        params=dict(model.params) if model else {},
        seeded=list(model.seeded) if model else [],
        fit_seconds=0.0,
        classes=base.manifest.classes,
        task=r.build.task,
        search=model.search if model else None,
        command=model.command if model else None,
        engine=model.engine if model else None,
        reused_from={
            **{k: base.identity.get(k) for k in ("label", "source", "url", "commit")},
            "fingerprint": base.manifest.fingerprint.sha256 if base.manifest.fingerprint else None,
            "reason": reason,
        },
    )


def summary(result: TrainResult) -> str:
    if result.reused_from:
        return (
            f"model unchanged: {result.reused_from.get('reason')}; training skipped "
            "(--no-cache to force)"
        )
    why = f"training: {result.note}; " if result.note else ""
    s = result.search
    searched = (
        f" after searching {s.trials} of {s.planned} candidates ({s.seconds:.1f}s, {s.cv}-fold "
        f"{s.metric} on the training rows)"
        if s
        else ""
    )
    return f"{why}trained {result.estimator} in {result.fit_seconds:.2f}s{searched}"


def annotate(result: TrainResult, console: Console) -> None:
    if result.warning and result.note:
        console.warning(f"training instead of reusing the baseline's model: {result.note}")


STAGE = Stage(
    name="train",
    command="train",
    help="fit the model on the training rows",
    run=run,
    summary=summary,
    annotate=annotate,
    reads=("data", "schema", "task", "model", "engine"),
    writes=(FITTED_MODEL,),
    record="TrainResult",
    record_file=f"{BUILD_DIR}/train.json",
    sections=(Section(order=89, template="training.md.j2"),),
)
