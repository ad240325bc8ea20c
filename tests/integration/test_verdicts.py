"""Every number and verdict the comment shows is right: an identical rebuild
changes nothing, a baseline that cannot be scored never reads as "no
baseline", and every file the build writes is strict JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ci_ml.artifact import loads_strict
from tests.conftest import EXAMPLES, run_cli

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

EXAMPLE_NAMES = ["binary-classification", "regression", "mixed-tabular"]


def build(config: Path, out: Path, *args: str):
    return run_cli("run", "--config", str(config), "--out", str(out), *args)


def edit_config(project: Path, change) -> None:
    path = project / "ci-ml.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture(scope="module")
def first_builds(example_build) -> dict[str, Path]:
    """Each example built once, the baseline of the tests below (read only)."""
    return {name: example_build(name) for name in EXAMPLE_NAMES}


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_an_identical_rebuild_changes_nothing_and_passes_every_gate(
    name: str, first_builds: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "again"
    r = build(EXAMPLES / name / "ci-ml.yaml", out, "--baseline", str(first_builds[name]))
    assert r.returncode == 0, r.stderr
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["verdict"] == "pass" and comp["baseline_status"] == "scored"
    for m in comp["metrics"]:
        assert m["delta"] == 0 and m["ci_low"] == 0 and m["ci_high"] == 0, m
        assert m["verdict"] == "within noise", m
    assert comp["gates"] and all(g["status"] == "pass" for g in comp["gates"])
    assert (out / "model.onnx").read_bytes() == (first_builds[name] / "model.onnx").read_bytes()
    rows = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("|")]
    assert not any("🔴" in line or "🟢" in line for line in rows)


def test_a_strict_log_loss_gate_passes_an_identical_rebuild(
    first_builds: dict[str, Path], example_copy, tmp_path: Path
) -> None:
    """The reported case: float32 ONNX against float64 scikit-learn made log loss 'regress'."""
    project = example_copy("binary-classification")
    edit_config(
        project,
        lambda c: c.update(
            gates=[{"metric": "log_loss", "max_regression": 0, "only_if_significant": True}]
        ),
    )
    out = tmp_path / "o"
    r = build(project / "ci-ml.yaml", out, "--baseline", str(first_builds["binary-classification"]))
    assert r.returncode == 0, r.stderr
    gate = json.loads((out / "comparison.json").read_text())["gates"][0]
    assert gate["status"] == "pass", gate


def _rename_a_column(project: Path) -> None:
    """In both data files, the schema and the config (its model tests): the baseline's
    model needs the old name."""
    for f in ["data/train.csv", "data/test.csv", "schema.yaml", "ci-ml.yaml"]:
        path = project / f
        path.write_text(path.read_text().replace("worst_radius", "worst_radius_mm"))


def _degrade(cfg: dict) -> None:
    cfg["model"]["params"].update(n_estimators=3, max_depth=1)


def test_a_renamed_column_fails_relative_gates_instead_of_reading_as_a_first_model(
    first_builds: dict[str, Path], example_copy, tmp_path: Path
) -> None:
    project = example_copy("binary-classification")
    _rename_a_column(project)
    edit_config(project, _degrade)
    out = tmp_path / "o"
    r = build(project / "ci-ml.yaml", out, "--baseline", str(first_builds["binary-classification"]))
    assert r.returncode == 4, r.stderr
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["verdict"] == "fail" and comp["baseline_status"] == "unscorable"
    failed = {g["metric"]: g["reason"] for g in comp["gates"] if g["status"] == "fail"}
    assert "cannot be compared" in failed["roc_auc"] and "worst_radius" in failed["roc_auc"]
    report = (out / "report.md").read_text()
    assert "first model" not in report and "fails its gates" in report
    assert "Traceback" not in r.stderr


def test_a_dropped_column_is_scored_with_the_baselines_own_columns_and_fails_a_real_drop(
    first_builds: dict[str, Path], example_copy, tmp_path: Path
) -> None:
    """data.drop leaves the columns in the files: the baseline is re-scored on the
    same rows with the columns it reads, so the drop gets a paired interval."""
    project = example_copy("binary-classification")

    def change(cfg: dict) -> None:
        _degrade(cfg)
        cfg["data"]["drop"] = ["worst_radius", "worst_perimeter", "worst_area"]
        del cfg["model_tests"]["directional"]  # it checks worst_radius, dropped here

    edit_config(project, change)
    schema = yaml.safe_load((project / "schema.yaml").read_text())
    for col in ["worst_radius", "worst_perimeter", "worst_area"]:
        del schema["columns"][col]
    (project / "schema.yaml").write_text(yaml.safe_dump(schema))
    out = tmp_path / "o"
    r = build(project / "ci-ml.yaml", out, "--baseline", str(first_builds["binary-classification"]))
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["baseline_status"] == "scored", comp["baseline_problem"]
    auc = next(g for g in comp["gates"] if g["rule"] == "max_regression")
    row = next(m for m in comp["metrics"] if m["metric"] == "roc_auc")
    assert row["delta"] < -0.01 and row["ci_high"] < 0, row  # really worse, and shown so
    assert auc["status"] == "fail", auc
    assert r.returncode == 4, r.stderr


def test_on_unscorable_recorded_compares_with_recorded_metrics_and_fails_untestable_gates(
    first_builds: dict[str, Path], example_copy, tmp_path: Path
) -> None:
    project = example_copy("binary-classification")
    _rename_a_column(project)

    def change(cfg: dict) -> None:
        _degrade(cfg)
        cfg["baseline"] = {"on_unscorable": "recorded"}

    edit_config(project, change)
    out = tmp_path / "o"
    r = build(project / "ci-ml.yaml", out, "--baseline", str(first_builds["binary-classification"]))
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["baseline_status"] == "recorded", comp["baseline_problem"]
    assert "worst_radius" in comp["baseline_problem"]
    auc = next(g for g in comp["gates"] if g["rule"] == "max_regression")
    assert auc["status"] == "fail" and "significance not testable" in auc["reason"], auc
    assert r.returncode == 4, r.stderr
    assert "recorded metrics" in (out / "report.md").read_text()


def test_on_unscorable_skip_reports_relative_gates_as_not_evaluated(
    first_builds: dict[str, Path], example_copy, tmp_path: Path
) -> None:
    project = example_copy("binary-classification")
    _rename_a_column(project)
    edit_config(project, lambda c: c.update(baseline={"on_unscorable": "skip"}))
    out = tmp_path / "o"
    r = build(project / "ci-ml.yaml", out, "--baseline", str(first_builds["binary-classification"]))
    assert r.returncode == 0, r.stderr
    comp = json.loads((out / "comparison.json").read_text())
    assert comp["verdict"] == "incomplete"
    statuses = {g["rule"]: g["status"] for g in comp["gates"]}
    assert statuses == {
        "min": "pass",
        "max_regression": "not evaluated",
        "max_regression_pct": "not evaluated",
    }
    assert "relative gates not evaluated" in (out / "report.md").read_text()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_json_file_is_strict_json(name: str, first_builds: dict[str, Path]) -> None:
    files = [p for p in first_builds[name].rglob("*.json")]
    assert len(files) >= 8
    for path in files:
        loads_strict(path.read_text())


def test_a_missing_cell_is_never_nan_but_as_the_file_has_it(example_copy, tmp_path: Path) -> None:
    """A missing value in a column that must not have one is NaN in pandas: the
    failure's example is never a bare NaN; it is the cell as the file has it (here
    empty), on the line it is on."""
    project = example_copy("regression")
    data = project / "data" / "diabetes.csv"
    lines = data.read_text().splitlines()
    cells = lines[5].split(",")
    cells[1] = ""
    lines[5] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o"
    r = build(project / "ci-ml.yaml", out)
    assert r.returncode == 3, r.stderr
    text = (out / "validation.json").read_text()
    assert "NaN" not in text
    validation = loads_strict(text)
    missing = [f for f in validation["failures"] if f["check"] == "not_nullable"]
    assert missing and missing[0]["examples"] == [""] and missing[0]["lines"] == [6], validation


def test_the_headline_defaults_to_the_first_gates_metric(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    edit_config(project, lambda c: c.pop("metrics"))  # the example names roc_auc itself
    edit_config(project, lambda c: c.update(gates=[{"metric": "f1_macro", "min": 0.5}]))
    r = build(project / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["primary"] == "f1_macro"


def test_a_regression_metric_on_a_classification_task_says_so(example_copy, tmp_path) -> None:
    project = example_copy("binary-classification")
    edit_config(project, lambda c: (c.pop("task"), c.update(gates=[{"metric": "rmse", "max": 1}])))
    r = build(project / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 2
    assert "'rmse' is a regression metric, but the task is classification" in r.stderr
    assert "inferred from the target 'diagnosis'" in r.stderr
