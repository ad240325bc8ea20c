"""`ci-ml drift` as a user runs it, against the shipped examples' builds: the data
they were built from does not drift; shifted data does, column by column; a label
relationship that moved shows only in the metrics; a release without a profile
says how to get one; a release fetched from the registry carries its profile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ci_ml.errors import EXIT_DATA, EXIT_DRIFT, EXIT_USAGE
from ci_ml.records import DriftReport, load
from tests.conftest import EXAMPLES, run_cli

CHURN = EXAMPLES / "mixed-tabular" / "data" / "customers.csv"


def drift(reference: Path, *current: Path, out: Path, extra: tuple[str, ...] = ()):
    args = ["drift", "--reference", str(reference), "--current", *map(str, current)]
    r = run_cli(*args, "--out", str(out), *extra)
    report = None
    if (out / "drift.json").is_file():
        report = load(DriftReport, json.loads((out / "drift.json").read_text()))
    return r, report


def columns(report: DriftReport) -> dict[str, object]:
    return {d.column: d for d in report.columns}


def test_the_data_a_model_was_built_from_does_not_drift(example_build, tmp_path) -> None:
    built = example_build("mixed-tabular")
    profile = json.loads((built / "profile.json").read_text())
    assert "profile.json" in (built / "SHA256SUMS").read_text()
    assert profile["predictions"]["name"] == "predicted class" and profile["scores"]
    r, report = drift(built, CHURN, out=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert report is not None and not report.drifted and not report.findings
    assert report.current.rows == 3000 and report.current.labelled == 3000
    assert report.prediction is not None and report.prediction_score is not None
    perf = report.performance
    assert perf is not None and perf.primary == "roc_auc"
    assert all(m.verdict == "within noise" for m in perf.metrics)
    md = (tmp_path / "d" / "drift.md").read_text()
    assert md.startswith("<!-- ci-ml:drift -->\n## ✅ No drift") and "xychart-beta" in md


def test_a_parquet_dataset_is_read_as_its_files_together(example_build, tmp_path) -> None:
    # Fresh data often arrive partitioned: a directory (hive-style folders too) or
    # a glob is what one CSV of the same rows is.
    built = example_build("mixed-tabular")
    df = pd.read_csv(CHURN)
    for i, rows in enumerate(np.array_split(np.arange(len(df)), 3)):
        (tmp_path / "fresh" / f"day={i}").mkdir(parents=True)
        df.iloc[rows].to_parquet(tmp_path / "fresh" / f"day={i}" / "part.parquet", index=False)
    whole = tmp_path / "whole.parquet"
    df.to_parquet(whole, index=False)
    _, one = drift(built, whole, out=tmp_path / "one")
    r, parts = drift(built, tmp_path / "fresh", out=tmp_path / "parts")
    assert r.returncode == 0, r.stderr
    assert one is not None and parts is not None and parts.current.rows == 3000
    assert len(parts.current.files) == 3
    assert [(d.column, d.statistic, d.p) for d in parts.columns] == [
        (d.column, d.statistic, d.p) for d in one.columns
    ]
    r, globbed = drift(built, tmp_path / "fresh" / "day=*" / "*.parquet", out=tmp_path / "glob")
    assert r.returncode == 0 and globbed is not None and globbed.current.rows == 3000
    df.drop(columns="plan").to_parquet(tmp_path / "fresh" / "day=0" / "part.parquet")
    r, report = drift(built, tmp_path / "fresh", out=tmp_path / "bad")
    assert r.returncode == EXIT_DATA and report is None
    assert "its columns are not those of" in r.stderr and "plan" in r.stderr


def test_shifted_data_drifts_column_by_column_and_exits_10(example_build, tmp_path) -> None:
    built = example_build("mixed-tabular")
    df = pd.read_csv(CHURN)
    rng = np.random.default_rng(3)
    df["monthly_fee"] = df["monthly_fee"] * 1.4
    df.loc[rng.random(len(df)) < 0.25, "plan"] = "enterprise <b>"
    current = tmp_path / "current.parquet"
    df.to_parquet(current, row_group_size=400)  # read a row group at a time
    r, report = drift(built, current, out=tmp_path / "d")
    assert r.returncode == EXIT_DRIFT, r.stderr
    assert "drift found" in r.stderr and "drift.md" in r.stderr
    found = columns(report)
    assert {n for n, d in found.items() if d.drifted} == {"monthly_fee", "plan"}
    assert found["monthly_fee"].after > found["monthly_fee"].before
    assert found["plan"].new_categories == ["enterprise <b>"]
    assert report.findings[0].severity == "drift"
    md = (tmp_path / "d" / "drift.md").read_text()
    assert "## 🔴 Drift: 2 of 7 column(s) moved" in md
    assert "<b>" not in md and "enterprise &lt;b&gt;" in md  # data is escaped


def test_a_feature_the_model_leans_on_moves_its_predictions(example_build, tmp_path) -> None:
    built = example_build("mixed-tabular")
    df = pd.read_csv(CHURN)
    df["tenure_months"] = df["tenure_months"] + 36  # long-standing customers churn less
    current = tmp_path / "current.csv"
    df.drop(columns=["churned"]).to_csv(current, index=False)
    r, report = drift(built, current, out=tmp_path / "d")
    assert r.returncode == EXIT_DRIFT and report.performance is None  # no labels
    assert [d.column for d in report.columns if d.drifted] == ["tenure_months"]
    score = report.prediction_score
    assert score.column == "probability of yes" and score.drifted and score.after < score.before
    assert score.p_adjusted < 1e-4  # beyond the Monte Carlo's resolution: the chi-squared tail
    assert report.prediction.drifted and report.prediction.level == "no"


def test_a_label_relationship_that_moved_shows_in_the_metrics_alone(
    example_build, tmp_path
) -> None:
    """The labels shuffled among the rows: every column and the label's own mix are
    as they were, but the model's ROC AUC falls to chance."""
    built = example_build("mixed-tabular")
    df = pd.read_csv(CHURN)
    df["churned"] = np.random.default_rng(0).permutation(df["churned"].to_numpy())
    current = tmp_path / "current.csv"
    df.to_csv(current, index=False)
    r, report = drift(built, current, out=tmp_path / "d", extra=())
    assert r.returncode == EXIT_DRIFT, r.stderr
    assert not any(d.drifted for d in report.columns)
    assert report.prediction is not None and not report.prediction.drifted
    auc = next(m for m in report.performance.metrics if m.metric == "roc_auc")
    assert auc.drifted and auc.verdict == "worse" and auc.delta < -0.1
    assert auc.delta_ci_high < 0
    assert "ROC AUC on the labelled current rows" in report.findings[0].message


def test_a_regression_model_compares_its_predicted_values(example_build, tmp_path) -> None:
    built = example_build("regression")
    config = yaml.safe_load((EXAMPLES / "regression" / "ci-ml.yaml").read_text())
    data = EXAMPLES / "regression" / config["data"].get("path", config["data"].get("train"))
    r, report = drift(
        built, data, out=tmp_path / "d", extra=("--config", str(tmp_path / "none.yaml"))
    )
    assert r.returncode == EXIT_USAGE and "none.yaml" in r.stderr  # an explicit config must exist
    r, report = drift(built, data, out=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert report.prediction is not None and report.prediction.kind == "numeric"
    assert report.performance is not None and report.performance.primary


def test_a_release_made_before_profiles_says_how_to_get_one(example_build, tmp_path) -> None:
    old = example_build("mixed-tabular", tmp_path / "old")
    (old / "profile.json").unlink()
    sums = old / "SHA256SUMS"
    sums.write_text(
        "".join(x for x in sums.read_text().splitlines(True) if "profile.json" not in x)
    )
    r, report = drift(old, CHURN, out=tmp_path / "d")
    assert r.returncode == EXIT_USAGE and report is None
    assert "has no profile.json" in r.stderr and "ci-ml publish" in r.stderr


@pytest.mark.parametrize(
    ("current", "code", "says"),
    [
        ("missing.csv", EXIT_USAGE, "not found"),
        ("data.xlsx", EXIT_USAGE, "unsupported data file type"),
        ("broken.parquet", EXIT_DATA, "could not be read as parquet"),
        # No rows is no answer: "no drift" would close the issue of a data step that
        # wrote nothing.
        ("header.csv", EXIT_DATA, "the current data hold no rows"),
        ("empty.parquet", EXIT_DATA, "the current data hold no rows"),
    ],
)
def test_bad_current_data_is_a_clear_error(example_build, tmp_path, current, code, says) -> None:
    (tmp_path / "data.xlsx").write_text("x")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    header = CHURN.read_text().splitlines()[0]
    (tmp_path / "header.csv").write_text(header + "\n")
    pd.read_csv(CHURN).iloc[:0].to_parquet(tmp_path / "empty.parquet")
    r, report = drift(example_build("mixed-tabular"), tmp_path / current, out=tmp_path / "d")
    assert r.returncode == code and says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and report is None


def test_the_latest_release_is_fetched_with_its_profile(example_build, example_copy, tmp_path):
    """`--reference latest` (the default) fetches the latest release from the
    registry the config names, verified as a baseline is: its profile came with it."""
    from ci_ml.registry.folder import FolderRegistry
    from ci_ml.services import publishing

    project = example_copy("mixed-tabular")
    config = project / "ci-ml.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["release"] = {"registry": {"kind": "folder", "path": "../model-registry"}}
    cfg["drift"] = {"min_share_shift": 0.05}
    config.write_text(yaml.safe_dump(cfg))
    built = example_build("mixed-tabular", tmp_path / "built")
    staged = publishing.stage(built, "1" * 40)
    order = publishing.PublishOrder("churn", "model-v")
    publishing.publish(FolderRegistry(tmp_path / "model-registry"), order, staged)
    r = run_cli(
        "drift", "--current", str(CHURN), "--config", str(config), "--out", str(tmp_path / "d")
    )
    assert r.returncode == 0, r.stderr
    report = load(DriftReport, json.loads((tmp_path / "d" / "drift.json").read_text()))
    assert report.reference.source == "release" and report.reference.label == "model-v1"
    assert report.settings["min_share_shift"] == 0.05
    assert (tmp_path / "d" / "reference" / "profile.json").is_file()
    shutil.rmtree(tmp_path / "model-registry")
    r = run_cli(
        "drift", "--current", str(CHURN), "--config", str(config), "--out", str(tmp_path / "e")
    )
    assert r.returncode == EXIT_USAGE and "no release tagged model-v*" in r.stderr
