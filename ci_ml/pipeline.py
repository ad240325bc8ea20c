"""The build: each stage reads what earlier stages left in the artifact
directory and writes its own part, so stages run in one process (`ci-ml run`)
or one per step (the action) with the same result.

Stage functions return plain results; the `cmd_*` functions are the CLI edge.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import actions
from ci_ml.artifact import (
    ARTIFACT_FILES,
    BUILD_DIR,
    SUMS,
    read_json,
    write_json,
    write_sums,
    write_text,
)
from ci_ml.config import Config, load_config
from ci_ml.errors import ConfigError, DataValidationError, GateFailed, UsageError

if TYPE_CHECKING:
    from ci_ml.data import Dataset
    from ci_ml.metrics import Scored


BUILD_RECORDS = [
    *(
        f"{stage}.json"
        for stage in ("validate", "train", "evaluate", "export", "compare", "report")
    ),
    "timings.json",
    "model.joblib",
    "predictions.npz",
]
DOWNSTREAM_OF_TRAIN = [
    "evaluate.json",
    "export.json",
    "compare.json",
    "report.json",
    "predictions.npz",
    "metrics.json",
    "model.onnx",
    "comparison.json",
    "report.md",
    "model-card.md",
    SUMS,
]


@dataclass
class Build:
    """One build: its config, its artifact directory, and what earlier stages recorded."""

    cfg: Config
    out: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / BUILD_DIR).mkdir(exist_ok=True)

    def clear(self, names: list[str]) -> None:
        """Remove earlier outputs (artifact files or _build records) by name."""
        for name in names:
            for path in (self.out / name, self.state_path(name)):
                path.unlink(missing_ok=True)

    # --- what earlier stages left -------------------------------------------
    def state_path(self, name: str) -> Path:
        return self.out / BUILD_DIR / name

    def state(self, name: str, *, needed_by: str) -> dict[str, Any]:
        path = self.state_path(name)
        if not path.is_file():
            stage = name.removesuffix(".json")
            raise UsageError(
                f"`ci-ml {needed_by}` needs the output of `ci-ml {stage}` in {self.out}",
                hint=f"run `ci-ml {stage}` first with the same --config and --out, or `ci-ml run`",
            )
        return read_json(path)

    def record(self, stage: str, data: dict[str, Any], seconds: float) -> None:
        write_json(self.state_path(f"{stage}.json"), data)
        timings_path = self.state_path("timings.json")
        timings = read_json(timings_path) if timings_path.is_file() else {}
        timings[stage] = round(seconds, 4)
        write_json(timings_path, timings)

    @cached_property
    def dataset(self) -> Dataset:
        from ci_ml.data import load_dataset

        return load_dataset(self.cfg)

    @cached_property
    def task(self) -> str:
        from ci_ml.data import infer_task

        if self.cfg.task != "auto":
            return self.cfg.task
        src = self.dataset.sources
        return infer_task(
            (src.get("train") if "train" in src else src["data"])[self.dataset.target]
        )

    @cached_property
    def metric_names(self) -> tuple[list[str], str]:
        from ci_ml.metrics import select

        names, primary = select(self.task, self.cfg.metrics.names, self.cfg.metrics.primary)
        for i, g in enumerate(self.cfg.gates):
            if g.metric not in names:
                raise ConfigError(
                    f"gates[{i}].metric: {g.metric!r} is not one of the computed metrics",
                    file=str(self.cfg.source),
                    hint=f"one of: {', '.join(names)}",
                )
        return names, primary

    @cached_property
    def _git(self) -> dict[str, Any] | None:
        from ci_ml.manifest import git_info

        return git_info(self.cfg.base_dir, self.env)

    @cached_property
    def _environment(self) -> dict[str, Any]:
        from ci_ml.manifest import environment

        return environment()

    # --- the manifest: rebuilt from the stage records after every stage -------
    def write_manifest(self) -> dict[str, Any]:
        from ci_ml import __version__
        from ci_ml.manifest import now

        def opt(name: str) -> dict[str, Any] | None:
            p = self.state_path(name)
            return read_json(p) if p.is_file() else None

        validation, train, export = opt("validate.json"), opt("train.json"), opt("export.json")
        timings = opt("timings.json") or {}
        d = self.dataset
        first = next(iter(d.sources.values()))
        manifest = {
            "ci_ml_version": __version__,
            "name": self.cfg.display_name,
            "created": now(),
            "task": self.task,
            "data": {
                "files": {k: v.as_dict() for k, v in d.files.items()},
                "split": d.split if train else None,
                "train_rows": len(d.train) if train else None,
                "test_rows": len(d.test) if train else None,
            },
            "target": {"name": d.target, "dtype": str(first[d.target].dtype)},
            "features": [{"name": str(c), "dtype": str(first[c].dtype)} for c in d.features],
            "classes": train.get("classes") if train else None,
            "schema": {
                "source": self.cfg.schema_,
                "sha256": validation.get("schema_sha256") if validation else None,
            },
            "config": self.cfg.model_dump(mode="json", by_alias=True, exclude_none=True),
            "model": (
                {
                    "estimator": train["estimator"],
                    "params": train["params"],
                    "seed": self.cfg.model.seed,
                    "seeded": train["seeded"],
                }
                if train
                else None
            ),
            "metrics": {"names": self.metric_names[0], "primary": self.metric_names[1]},
            "export": export,
            "git": self._git,
            "environment": self._environment,
            "timings_seconds": timings,
        }
        write_json(self.out / "manifest.json", manifest)
        return manifest


# --- stages -------------------------------------------------------------------


def validate(b: Build) -> Any:
    from ci_ml.schema import ValidationResult, load_schema, schema_hash, validate_frames

    t0 = time.perf_counter()
    schema, text = load_schema(b.cfg)
    d = b.dataset
    frames = d.sources  # what was read, before the split: a bad row fails here, not in the split
    failures = validate_frames(frames, schema, d.target, b.task)
    result = ValidationResult(
        not failures,
        b.cfg.schema_,
        schema_hash(text),
        failures,
        {k: len(v) for k, v in frames.items()},
    )
    write_json(b.out / "validation.json", result.as_dict())
    if text is not None:
        write_text(b.out / "schema.yaml", text)
    b.record("validate", result.as_dict(), time.perf_counter() - t0)
    b.write_manifest()
    if not result.passed:
        lines = "\n".join(f"  - {f.line()}" for f in failures)
        cols = ", ".join(result.broken_columns) or "(table-level checks)"
        raise DataValidationError(
            f"the data broke its schema in {len(failures)} way(s); broken columns: {cols}\n{lines}",
            file=str(b.cfg.resolve(b.cfg.schema_))
            if b.cfg.schema_ and b.cfg.schema_.endswith((".yaml", ".yml"))
            else None,
            hint=f"fix the data or the schema; every failure is in {b.out / 'validation.json'}",
        )
    return result


def train(b: Build) -> Any:
    import joblib

    from ci_ml.training import fit

    _ = b.metric_names  # fail on a bad metric or gate before spending time on fit
    t0 = time.perf_counter()
    # A new model makes everything downstream stale: never let export, compare or
    # the report read what belonged to the model this one replaces.
    b.clear(DOWNSTREAM_OF_TRAIN)
    X, y = b.dataset.xy("train")
    result = fit(b.cfg, X, y, b.task)
    # An intermediate of this build only: later stages of the same build read it.
    # It is never published, and nothing ci-ml downloads is ever unpickled.
    joblib.dump(result.estimator, b.state_path("model.joblib"))
    from ci_ml.export import describe_estimator

    b.record(
        "train",
        {
            "estimator": describe_estimator(result.estimator),
            "params": result.params,
            "seeded": result.seeded,
            "fit_seconds": round(result.fit_seconds, 4),
            "classes": result.classes,
            "task": b.task,
        },
        time.perf_counter() - t0,
    )
    b.write_manifest()
    return result


def _load_model(b: Build, needed_by: str) -> Any:
    import joblib

    b.state("train.json", needed_by=needed_by)
    return joblib.load(b.state_path("model.joblib"))


def candidate_scored(b: Build, est: Any) -> Scored:
    """The candidate's predictions on the holdout, labels encoded by its classes."""
    import numpy as np

    from ci_ml.metrics import Scored

    X, y = b.dataset.xy("test")
    if b.task == "classification":
        classes = list(est.classes_)
        index = {str(c): i for i, c in enumerate(classes)}
        unseen = sorted({str(v) for v in y.unique()} - set(index))
        if unseen:
            raise DataValidationError(
                f"the holdout has class(es) the model never saw in training: {', '.join(unseen)}",
                hint="make sure every class appears in the training data (stratified split)",
            )
        y_idx = np.array([index[str(v)] for v in y], dtype=np.int64)
        pred = np.asarray(est.predict(X))
        pred_idx = np.array([index[str(v)] for v in pred], dtype=np.int64)
        proba = (
            np.asarray(est.predict_proba(X), dtype=np.float64)
            if hasattr(est, "predict_proba")
            else None
        )
        return Scored(
            "classification",
            y_idx,
            pred_idx,
            proba,
            [c.item() if hasattr(c, "item") else c for c in classes],
        )
    return Scored(
        "regression", y.to_numpy(dtype=np.float64), np.asarray(est.predict(X), dtype=np.float64)
    )


def evaluate(b: Build) -> dict[str, Any]:
    import numpy as np

    from ci_ml import stats
    from ci_ml.metrics import METRICS

    t0 = time.perf_counter()
    est = _load_model(b, "evaluate")
    names, primary = b.metric_names
    s = candidate_scored(b, est)
    np.savez(
        b.state_path("predictions.npz"),
        y=s.y,
        pred=s.pred,
        proba=s.proba if s.proba is not None else np.zeros((0, 0)),
    )
    st = b.cfg.statistics
    est_ = stats.estimates(s, names, st.resamples, st.confidence, st.seed)
    result: dict[str, Any] = {
        "task": b.task,
        "primary": primary,
        "rows": int(len(s.y)),
        "confidence": st.confidence,
        "resamples": st.resamples,
        "metrics": {
            n: {
                "label": METRICS[n].label,
                "greater_is_better": METRICS[n].greater_is_better,
                **e.as_dict(),
            }
            for n, e in est_.items()
        },
    }
    skipped = [n for n in names if n not in est_]
    if skipped:
        result["skipped"] = {n: "the estimator has no predict_proba" for n in skipped}
    if s.task == "classification":
        k = len(s.classes or [])
        cm = np.zeros((k, k), dtype=np.int64)
        np.add.at(cm, (s.y, s.pred), 1)
        result["classes"] = s.classes
        result["confusion_matrix"] = {
            "labels": [str(c) for c in s.classes or []],
            "rows_true_cols_pred": cm.tolist(),
        }
        result["class_balance"] = {
            str(c): int(n)
            for c, n in zip(s.classes or [], np.bincount(s.y, minlength=k), strict=True)
        }
    else:
        r = s.pred - s.y
        q = np.quantile(r, [0.05, 0.25, 0.5, 0.75, 0.95])
        result["residuals"] = {
            "mean": float(r.mean()),
            "std": float(r.std()),
            "min": float(r.min()),
            "p05": float(q[0]),
            "p25": float(q[1]),
            "median": float(q[2]),
            "p75": float(q[3]),
            "p95": float(q[4]),
            "max": float(r.max()),
        }
    write_json(b.out / "metrics.json", result)
    b.record("evaluate", {"primary": primary}, time.perf_counter() - t0)
    b.write_manifest()
    return result


def export(b: Build) -> Any:
    from ci_ml.export import check_parity
    from ci_ml.export import export as do_export

    t0 = time.perf_counter()
    est = _load_model(b, "export")
    X, _ = b.dataset.xy("test")
    result = do_export(
        est, X, b.task, b.out, b.cfg.export.target_opset, b.cfg.export.tolerance, _reference(b)
    )
    b.record("export", result.as_dict(), time.perf_counter() - t0)
    b.write_manifest()
    check_parity(result, est, b.task)
    return result


def _reference(b: Build) -> tuple[Any, Any] | None:
    """scikit-learn's holdout predictions as `evaluate` saved them, decoded, or None."""
    import numpy as np

    path = b.state_path("predictions.npz")
    if not path.is_file() or not b.state_path("evaluate.json").is_file():
        return None
    with np.load(path) as z:
        pred, proba = z["pred"], z["proba"]
    if b.task != "classification":
        return pred, None
    classes = np.asarray(b.state("train.json", needed_by="export")["classes"], dtype=object)
    return classes[pred], (proba if proba.size else None)


def resolve_baseline(arg: str | None, b: Build) -> Any:
    """'none' → None; 'release' → the latest model release; else a directory."""
    from ci_ml.baseline import DirectorySource

    if arg in (None, "", "none"):
        return None
    if arg == "release":
        from ci_ml.registry import release_source

        return release_source(b).fetch()
    return DirectorySource(Path(arg)).fetch()


def compare(b: Build, baseline_arg: str | None) -> dict[str, Any]:
    import numpy as np

    from ci_ml import baseline as baseline_mod
    from ci_ml.compare import compare as do_compare
    from ci_ml.metrics import Scored

    t0 = time.perf_counter()
    b.state("train.json", needed_by="compare")
    b.state("evaluate.json", needed_by="compare")
    cand_metrics = read_json(b.out / "metrics.json")
    manifest = read_json(b.out / "manifest.json")
    with np.load(b.state_path("predictions.npz")) as z:
        proba = z["proba"] if z["proba"].size else None
        s = Scored(b.task, z["y"], z["pred"], proba, cand_metrics.get("classes"))
    base = resolve_baseline(baseline_arg, b)
    scores = None
    if base is not None:
        X, _ = b.dataset.xy("test")
        scores = baseline_mod.score(base, X, b.task)
        if scores.problem:
            actions.warning(f"baseline not re-scored: {scores.problem}")
    result = do_compare(b.cfg, s, cand_metrics, manifest, base, scores)
    write_json(b.out / "comparison.json", result)
    b.record("compare", {"verdict": result["verdict"]}, time.perf_counter() - t0)
    b.write_manifest()
    return result


def report(b: Build) -> dict[str, Any]:
    from ci_ml import report as report_mod

    t0 = time.perf_counter()
    ctx = report_mod.context_from_dir(b.out, b.env, b.cfg)
    text = report_mod.render_report(ctx)
    write_text(b.out / "report.md", text)
    if ctx["status"] in ("invalid-data", "failed"):
        b.clear(["model-card.md"])  # no model, no card
    else:
        write_text(b.out / "model-card.md", report_mod.render_model_card(ctx))
    b.record("report", {}, time.perf_counter() - t0)
    if (b.out / "metrics.json").is_file():
        b.write_manifest()
    write_sums(b.out)
    actions.append_summary(text, b.env)
    comp = ctx.get("comparison") or {}
    primary = comp.get("primary") or {}
    actions.set_outputs(
        {
            "verdict": comp.get("verdict") or ctx.get("status"),
            "primary-metric": primary.get("metric") or (ctx.get("metrics") or {}).get("primary"),
            "primary-delta": "" if primary.get("delta") is None else f"{primary['delta']:.6g}",
            "report-path": str(b.out / "report.md"),
            "model-path": str(b.out / "model.onnx") if (b.out / "model.onnx").is_file() else "",
        },
        b.env,
    )
    return ctx


# --- CLI edge -----------------------------------------------------------------


def _build(args: Any) -> Build:
    import os

    env = dict(os.environ)
    return Build(load_config(args.config), Path(args.out), env)


def _stage(title: str, fn: Any, *a: Any) -> Any:
    with actions.group(title):
        return fn(*a)


def _gate_failure(comp: dict[str, Any]) -> GateFailed:
    failed = [g["reason"] for g in comp["gates"] if g["status"] == "fail"]
    return GateFailed(
        "quality gate(s) failed:\n" + "\n".join(f"  - {r}" for r in failed),
        hint="see comparison.json and report.md; pass --no-fail-on-regression to report without failing",
    )


def cmd_validate(args: Any) -> int:
    b = _build(args)
    r = _stage("ci-ml validate", validate, b)
    rows = ", ".join(f"{n} {role}" for role, n in r.rows.items())
    print(f"data valid: {rows} rows passed {r.schema_source or 'the built-in target checks'}")
    return 0


def cmd_train(args: Any) -> int:
    b = _build(args)
    r = _stage("ci-ml train", train, b)
    print(f"trained {type(r.estimator).__name__} in {r.fit_seconds:.2f}s")
    return 0


def cmd_evaluate(args: Any) -> int:
    b = _build(args)
    r = _stage("ci-ml evaluate", evaluate, b)
    print(_metrics_line(r))
    return 0


def cmd_export(args: Any) -> int:
    b = _build(args)
    r = _stage("ci-ml export", export, b)
    print(
        f"exported {r.path} ({r.bytes:,} bytes, {r.precision}); parity on {r.parity['rows']} rows: max |Δ| {r.parity['max_abs_diff']:.3g}"
    )
    return 0


def cmd_compare(args: Any) -> int:
    b = _build(args)
    r = _stage("ci-ml compare", compare, b, args.baseline)
    print(_verdict_line(r))
    if r["verdict"] == "fail" and args.fail_on_regression:
        raise _gate_failure(r)
    return 0


def cmd_report(args: Any) -> int:
    b = _build(args)
    _stage("ci-ml report", report, b)
    print(f"wrote {b.out / 'report.md'}")
    return 0


def _metrics_line(m: dict[str, Any]) -> str:
    return "metrics: " + ", ".join(f"{k} {v['value']:.4g}" for k, v in m["metrics"].items())


def _verdict_line(c: dict[str, Any]) -> str:
    p = c["primary"]
    delta = "" if p["delta"] is None else f" (Δ {p['delta']:+.4g}, {p['verdict']})"
    return f"verdict: {c['verdict']}; {p['metric']} {p['candidate']:.4g}{delta}"


def run(b: Build, baseline_arg: str | None) -> dict[str, Any]:
    """Every stage in order. A failing stage still leaves a report of what happened."""
    # A fresh build: nothing from an earlier one in the same --out may mix in.
    b.clear([*ARTIFACT_FILES, SUMS, *BUILD_RECORDS])
    try:
        _stage("ci-ml validate", validate, b)
        _stage("ci-ml train", train, b)
        print(_metrics_line(_stage("ci-ml evaluate", evaluate, b)))
        _stage("ci-ml export", export, b)
        comp = _stage("ci-ml compare", compare, b, baseline_arg)
        print(_verdict_line(comp))
    except Exception:
        # Best effort: a report of what did happen (validation failures, say) for the
        # PR comment; the original error is what the user sees and the exit code.
        with contextlib.suppress(Exception):  # never hide the original error
            report(b)
        raise
    _stage("ci-ml report", report, b)
    return comp


def cmd_run(args: Any) -> int:
    b = _build(args)
    comp = run(b, args.baseline)
    print(
        f"artifact: {b.out}/ ({', '.join(p.name for p in sorted(b.out.iterdir()) if p.is_file())})"
    )
    if comp["verdict"] == "fail" and args.fail_on_regression:
        raise _gate_failure(comp)
    return 0
