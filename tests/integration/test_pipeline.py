"""The local pipeline end to end, through the CLI as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES, run_cli

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def build(project: Path, out: Path, *args: str):
    """`ci-ml run` on a project copy into `out`."""
    return run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), *args)


OUTPUTS = [
    "model.onnx",
    "metrics.json",
    "manifest.json",
    "report.md",
    "SHA256SUMS",
    "model-card.md",
    "schema.yaml",
    "model-tests.json",
]
# The model tests each example declares: together, every kind there is.
MODEL_TESTS = {
    "binary-classification": {"slices", "directional", "calibration", "budgets"},
    "regression": {"slices", "golden", "invariance", "directional", "budgets"},
    "mixed-tabular": {
        "slices",
        "golden",
        "invariance",
        "directional",
        "calibration",
        "budgets",
        "pytest",
    },
}


@pytest.mark.parametrize("example", ["binary-classification", "regression", "mixed-tabular"])
def test_every_example_builds(example: str, example_build) -> None:
    check_build(example_build(example), example)  # built once for the session, exit 0 checked there


def check_build(out: Path, example: str) -> None:
    """What every build of a shipped example must hold (a Dask build's too:
    tests/integration/test_dask_engine.py)."""
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["environment"]["packages"]["scikit-learn"]
    assert all(len(f["sha256"]) == 64 for f in manifest["data"]["files"].values())
    assert manifest["schema"]["sha256"] and manifest["model"]["params"]
    assert set(manifest["timings_seconds"]) >= {
        "validate",
        "train",
        "evaluate",
        "export",
        "compare",
    }
    export = manifest["export"]
    assert export["parity"]["passed"] and export["parity"]["rows"] == manifest["data"]["test_rows"]
    sums = (out / "SHA256SUMS").read_text()
    assert "model.onnx" in sums and "_build" not in sums
    metrics = json.loads((out / "metrics.json").read_text())
    assert all(m["ci_low"] <= m["value"] <= m["ci_high"] for m in metrics["metrics"].values())
    tests = json.loads((out / "model-tests.json").read_text())
    assert tests["passed"] and tests["total"] > 0, tests["failures"]
    assert {k for k in MODEL_TESTS[example] if tests.get(k)} == MODEL_TESTS[example]
    assert "model-tests.json" in sums and "✅ Model tests: " in (out / "report.md").read_text()


def test_stages_one_by_one_give_the_same_metrics_as_run(tmp_path: Path) -> None:
    cfg = str(EXAMPLES / "regression" / "ci-ml.yaml")
    for stage in ["validate", "check-data", "train", "export", "evaluate", "report"]:
        r = run_cli(stage, "--config", cfg, "--out", str(tmp_path / "a"))
        assert r.returncode == 0, (stage, r.stderr)
    assert run_cli("run", "--config", cfg, "--out", str(tmp_path / "b")).returncode == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["metrics"] == b["metrics"]
    assert (tmp_path / "a" / "model.onnx").read_bytes() == (
        tmp_path / "b" / "model.onnx"
    ).read_bytes()


def test_stage_out_of_order_says_what_to_run_first(tmp_path: Path) -> None:
    r = run_cli(
        "export", "--config", str(EXAMPLES / "regression" / "ci-ml.yaml"), "--out", str(tmp_path)
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "`ci-ml train` has not completed" in r.stderr
    assert "run `ci-ml validate` and the stages after it again" in r.stderr


def test_data_that_breaks_its_schema_exits_3_listing_every_column(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("mixed-tabular")
    csv = project / "data" / "customers.csv"
    lines = csv.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[5].split(",")
    row[header.index("plan")] = "platinum"
    row[header.index("support_tickets")] = "-3"
    row[header.index("churned")] = "maybe"
    lines[5] = ",".join(row)
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    r = build(project, out)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr
    for col in ["plan", "support_tickets", "churned"]:
        assert col in r.stderr
    validation = json.loads((out / "validation.json").read_text())
    assert validation["passed"] is False
    assert set(validation["broken_columns"]) == {"plan", "support_tickets", "churned"}
    assert "Schema failures" in (out / "report.md").read_text()


def test_missing_target_values_are_reported(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    test_csv = project / "data" / "test.csv"
    lines = test_csv.read_text().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:-1] + [""])
    test_csv.write_text("\n".join(lines) + "\n")
    r = run_cli("validate", "--config", str(project / "ci-ml.yaml"), "--out", str(tmp_path / "o"))
    assert r.returncode == 3 and "diagnosis" in r.stderr


@pytest.mark.parametrize(
    ("edit", "key", "code"),
    [
        (lambda c: c["model"].update(params={"n_estimatorz": 5}), "model.params", 2),
        (lambda c: c.update(metrics={"list": ["rmse"]}), "metrics.list", 2),
        # a target missing from the data is the data's problem, not the config's
        (lambda c: c["data"].update(target="nope"), "target column 'nope'", 3),
        (lambda c: c.update(gates=[{"metric": "r2", "min": 0.5}]), "gates[0].metric", 2),
        (
            lambda c: c["model"].update(estimator="sklearn.ensemble.NoSuchForest"),
            "model.estimator",
            2,
        ),
    ],
)
def test_broken_config_exits_naming_the_key(
    example_copy, tmp_path: Path, edit, key: str, code: int
) -> None:
    project = example_copy("binary-classification")
    cfg_path = project / "ci-ml.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    edit(cfg)
    cfg_path.write_text(yaml.safe_dump(cfg))
    r = run_cli("run", "--config", str(cfg_path), "--out", str(tmp_path / "o"))
    assert r.returncode == code, r.stderr
    assert key in r.stderr and "Traceback" not in r.stderr


def _set_params(cfg_path: Path, **params) -> None:
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["model"]["params"].update(params)
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_second_build_compares_with_the_first(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    first, second = tmp_path / "first", tmp_path / "second"
    assert build(project, first).returncode == 0
    _set_params(project / "ci-ml.yaml", n_estimators=50, max_depth=3)
    r = build(project, second, "--baseline", str(first))
    assert r.returncode == 0, r.stderr
    comp = json.loads((second / "comparison.json").read_text())
    assert comp["verdict"] == "pass" and comp["baseline_status"] == "scored"
    assert comp["scored_on"] == "current holdout"
    assert comp["data_changes"]["holdout_identical"] is True
    names = [m["metric"] for m in comp["metrics"]]
    assert names == [
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "precision_macro",
        "recall_macro",
        "roc_auc",
        "log_loss",
    ]
    for m in comp["metrics"]:
        # A smaller forest on 171 rows: every change is within the paired interval.
        assert m["ci_low"] <= m["delta"] <= m["ci_high"], m
        # Log loss of a forest that says probability 0 or 1 on some rows is flagged,
        # not trusted (README: Where no interval can be trusted).
        assert m["verdict"] == ("unreliable" if m["metric"] == "log_loss" else "within noise"), m
        # The baseline re-scored through ONNX reproduces its recorded metrics on the same holdout.
        assert m["baseline"]["value"] == pytest.approx(m["baseline_recorded"], abs=1e-6)
    assert comp["tests"]["test"] == "mcnemar_exact"
    assert {p["param"] for p in comp["params_diff"]} >= {"max_depth", "n_estimators"}
    text = (second / "report.md").read_text()
    assert "CI of Δ" in text and "Parameters changed" in text


def test_failed_gate_exits_4_after_writing_everything(example_copy, tmp_path: Path) -> None:
    project = example_copy("regression")
    first, second = tmp_path / "first", tmp_path / "second"
    assert build(project, first).returncode == 0
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["model"]["params"].update(n_estimators=3)  # a much worse model
    cfg["gates"] = [{"metric": "rmse", "max_regression_pct": 1}]
    del cfg["model_tests"]  # its golden rows would catch this model too (exit 7): gates here
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    r = build(project, second, "--baseline", str(first))
    assert r.returncode == 4, r.stderr
    assert "rmse regressed by" in r.stderr and "Traceback" not in r.stderr
    for name in [*OUTPUTS, "comparison.json"]:
        assert (second / name).is_file(), name
    assert "❌" in (second / "report.md").read_text()
    r = build(project, tmp_path / "third", "--baseline", str(first), "--no-fail-on-regression")
    assert r.returncode == 0


def test_tampered_baseline_is_refused_naming_the_file(example_copy, tmp_path: Path) -> None:
    project = example_copy("regression")
    first = tmp_path / "first"
    assert build(project, first).returncode == 0
    metrics = json.loads((first / "metrics.json").read_text())
    metrics["metrics"]["rmse"]["value"] = 1.0
    (first / "metrics.json").write_text(json.dumps(metrics))
    r = build(project, tmp_path / "b", "--baseline", str(first))
    assert r.returncode == 2
    assert "metrics.json does not match SHA256SUMS" in r.stderr and "Traceback" not in r.stderr


def test_a_column_gone_from_the_files_leaves_the_baseline_unscorable(
    example_copy, tmp_path: Path
) -> None:
    """A column the baseline's model reads is no longer in the data (renamed in the
    file, not dropped in the config: a dropped column is still in the files, and the
    baseline is scored with it, tests/integration/test_dropped_columns.py). The holdout
    data changed too, so its recorded metrics are not comparable: the relative gates
    fail closed, naming why."""
    project = example_copy("regression")
    first = tmp_path / "first"
    assert build(project, first).returncode == 0
    data = project / "data" / "diabetes.csv"
    data.write_text(data.read_text().replace(",s6,", ",s6_renamed,", 1))
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    del cfg["model_tests"]  # their slice gates fail closed too; the compare is the subject
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    schema = yaml.safe_load((project / "schema.yaml").read_text())
    schema["columns"]["s6_renamed"] = schema["columns"].pop("s6")
    (project / "schema.yaml").write_text(yaml.safe_dump(schema))
    r = build(project, tmp_path / "b", "--baseline", str(first))
    assert r.returncode == 4, r.stderr
    comp = json.loads((tmp_path / "b" / "comparison.json").read_text())
    assert "s6" in comp["baseline_problem"] and comp["baseline_status"] == "unscorable"
    assert comp["data_changes"]["columns"]["removed"] == ["s6"]
    assert "cannot be compared" in r.stderr
    assert "Baseline not re-scored" in (tmp_path / "b" / "report.md").read_text()


def test_schema_infer_round_trips(tmp_path: Path) -> None:
    r = run_cli(
        "schema",
        "infer",
        "--data",
        str(EXAMPLES / "mixed-tabular/data/customers.csv"),
        "--target",
        "churned",
    )
    assert r.returncode == 0, r.stderr
    schema = yaml.safe_load(r.stdout)
    assert schema["columns"]["region"]["nullable"] is True
    assert sorted(schema["columns"]["plan"]["isin"]) == ["basic", "plus", "pro"]


def test_example_data_is_reproducible(tmp_path: Path) -> None:
    """examples/make_data.py regenerates the committed CSVs byte for byte."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(EXAMPLES, tmp_path / "examples")
    subprocess.run([sys.executable, str(tmp_path / "examples" / "make_data.py")], check=True)
    for csv in EXAMPLES.glob("*/data/*.csv"):
        assert (
            tmp_path / "examples" / csv.relative_to(EXAMPLES)
        ).read_bytes() == csv.read_bytes(), csv


def test_a_failed_rebuild_leaves_nothing_of_the_previous_build(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("regression")
    out = tmp_path / "out"
    assert build(project, out).returncode == 0
    csv = project / "data" / "diabetes.csv"
    lines = csv.read_text().splitlines()
    lines[1] = "-1" + lines[1][lines[1].index(",") :]  # age < 0 breaks the schema
    csv.write_text("\n".join(lines) + "\n")
    r = build(project, out)
    assert r.returncode == 3, r.stderr
    for stale in ["model.onnx", "metrics.json", "comparison.json", "model-card.md"]:
        assert not (out / stale).exists(), stale
    assert "Schema failures" in (out / "report.md").read_text()
    assert "model.onnx" not in (out / "SHA256SUMS").read_text()


def test_broken_factory_file_is_a_config_error_not_a_crash(example_copy, tmp_path: Path) -> None:
    project = example_copy("mixed-tabular")
    (project / "model.py").write_text(
        "import sklearn\n\ndef build_model(C=1.0):\n    return undefined_name\nx = 1 / 0\n"
    )
    r = run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r.stderr
    assert (
        "ZeroDivisionError" in r.stderr and "model.py:5" in r.stderr and "Traceback" not in r.stderr
    )
