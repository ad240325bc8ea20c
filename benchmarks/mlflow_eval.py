"""MLflow's way of comparing a candidate with a baseline, for the benchmark.

    python benchmarks/mlflow_eval.py TRAIN TEST PARAMS_JSON TRACKING_DIR BASELINE_URI

What it does, as an MLflow user would (MLflow 3: `mlflow.models.evaluate` and
`mlflow.validate_evaluation_results`; MLflow 2's `mlflow.evaluate(...,
baseline_model=..., validation_thresholds=...)` is gone): read the data, fit the
candidate, log it as an MLflow model in a local store, evaluate it and the
baseline (logged once in the setup, not timed) on the holdout with the default
classifier evaluator, then validate the candidate against the baseline with a
threshold. Prints one JSON line with each step's time.

With `--log-baseline` it is the setup instead: fit with PARAMS_JSON, log the
model, print its URI.

What MLflow cannot do here: `MetricThreshold(min_absolute_change=...)` must be
positive (the candidate must *beat* the baseline by that much), so ci-ml's
`max_regression: 0.01` (tolerate a loss of at most 0.01) has no equivalent;
the nearest is an absolute floor (`threshold`). No paired intervals, no
significance, no ONNX export or parity, no schema validation.
"""

import time

T0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import mlflow  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow.models import MetricThreshold  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402

warnings.filterwarnings("ignore")
steps = {"imports": time.perf_counter() - T0}


def lap(name: str, since: float) -> float:
    now = time.perf_counter()
    steps[name] = now - since
    return now


def read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    train_path, test_path, params, tracking = args[0], args[1], json.loads(args[2]), args[3]
    # A local SQLite store and artifact folder, no server (MLflow 3 refuses a
    # plain folder store unless told to allow its deprecated backend).
    tracking = os.path.abspath(tracking)
    mlflow.set_tracking_uri(f"sqlite:///{tracking}/mlflow.db")
    if mlflow.get_experiment_by_name("ci-ml-bench") is None:
        mlflow.create_experiment("ci-ml-bench", artifact_location=f"file://{tracking}/artifacts")
    mlflow.set_experiment("ci-ml-bench")
    t = time.perf_counter()
    train = read(train_path)
    test = None if "--log-baseline" in sys.argv else read(test_path)
    X, y = train.drop(columns="label"), train["label"]
    t = lap("read", t)
    model = HistGradientBoostingClassifier(**params, random_state=0)
    model.fit(X, y)
    t = lap("fit", t)
    with mlflow.start_run(run_name="baseline" if test is None else "candidate"):
        # MLflow's default format (skops) loads HistGradientBoosting only when its tree
        # type is trusted by name, as MLflow's own error message says to do.
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(5),
            skops_trusted_types=[
                "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
            ],
        )  # fmt: skip
        t = lap("log_model", t)
        if test is None:
            print(json.dumps({"baseline_uri": info.model_uri}))
            return
        cand = mlflow.models.evaluate(
            info.model_uri, test, targets="label", model_type="classifier"
        )
        t = lap("evaluate_candidate", t)
        base = mlflow.models.evaluate(args[4], test, targets="label", model_type="classifier")
        t = lap("evaluate_baseline", t)
        # The closest MLflow comes to ci-ml's gates: an absolute floor on ROC AUC.
        # A tolerated regression (ci-ml's max_regression) cannot be said: a negative
        # min_absolute_change is rejected.
        thresholds = {"roc_auc": MetricThreshold(threshold=0.6, greater_is_better=True)}
        verdict = "pass"
        try:
            mlflow.validate_evaluation_results(thresholds, cand, base)
        except Exception as e:  # ModelValidationFailedException
            verdict = f"fail: {type(e).__name__}"
        t = lap("validate", t)
    print(json.dumps({
        "wall": time.perf_counter() - T0, "fit": steps["fit"], "steps": steps,
        "verdict": verdict,
        "candidate": {k: cand.metrics.get(k) for k in ("roc_auc", "accuracy_score", "log_loss")},
        "baseline": {k: base.metrics.get(k) for k in ("roc_auc", "accuracy_score", "log_loss")},
        "artifacts": sorted(cand.artifacts),
    }))  # fmt: skip


def rejects_tolerated_regression() -> str:
    """MLflow's own words when asked to tolerate a loss of 0.01."""
    try:
        MetricThreshold(threshold=0.6, min_absolute_change=-0.01, greater_is_better=True)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return "accepted (MLflow now tolerates a bounded regression: update the comparison)"


if __name__ == "__main__":
    if "--probe" in sys.argv:
        print(json.dumps({"negative_min_absolute_change": rejects_tolerated_regression(),
                          "mlflow": mlflow.__version__}))  # fmt: skip
    else:
        main()
