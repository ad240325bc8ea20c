"""Data safeguards on data with planted problems, through the CLI: each problem
trips its own check, clean data trips none, and no raw personal value appears
in any output, log or comment."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import EXAMPLES, run_cli

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

EMAILS = ["ada.lovelace@example.org", "grace.hopper@navy.example.com"]
CARDS = ["4111 1111 1111 1111", "5500-0055-5555-5559"]


def build(project: Path, out: Path, *args: str):
    return run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), *args)


def edit_config(project: Path, change) -> None:
    path = project / "ci-ml.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def check_data(config: Path, out: Path, *args: str):
    """`ci-ml validate` then `ci-ml check-data`, the stage alone."""
    r = run_cli("validate", "--config", str(config), "--out", str(out))
    assert r.returncode == 0, r.stderr
    return run_cli("check-data", "--config", str(config), "--out", str(out), *args)


def findings(out: Path) -> list[dict]:
    return json.loads((out / "safeguards.json").read_text())["findings"]


def frames(project: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.read_csv(project / "data" / "train.csv"), pd.read_csv(project / "data" / "test.csv")


def save(project: Path, train: pd.DataFrame, test: pd.DataFrame) -> None:
    train.to_csv(project / "data" / "train.csv", index=False)
    test.to_csv(project / "data" / "test.csv", index=False)


@pytest.mark.parametrize("name", ["binary-classification", "regression", "mixed-tabular"])
def test_the_examples_trip_no_safeguard(name: str, tmp_path: Path) -> None:
    r = check_data(EXAMPLES / name / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert findings(tmp_path / "o") == []


def test_copied_test_rows_are_contamination(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    train, test = frames(project)
    save(project, train, pd.concat([test, train.head(12)], ignore_index=True))
    r = build(project, tmp_path / "o")
    assert r.returncode == 6, r.stderr
    (f,) = [f for f in findings(tmp_path / "o") if f["check"] == "contamination"]
    assert f["severity"] == "error" and f["value"] == pytest.approx(12 / 183)
    assert not (tmp_path / "o" / "model.onnx").exists()  # stopped before training
    assert "contamination" in (tmp_path / "o" / "report.md").read_text()


def test_a_leaking_column_is_target_leakage(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    train, test = frames(project)
    for df in (train, test):
        df.insert(
            0, "review_outcome", df["diagnosis"].map({"malignant": "refer", "benign": "home"})
        )
    save(project, train, test)
    r = build(project, tmp_path / "o")
    assert r.returncode == 6, r.stderr
    leaks = [f for f in findings(tmp_path / "o") if f["check"] == "leakage"]
    assert [f["column"] for f in leaks] == ["review_outcome"]
    assert "function of the target" in leaks[0]["message"]


def test_a_near_copy_of_the_target_is_leakage_by_its_score(example_copy, tmp_path) -> None:
    project = example_copy("regression")
    path = project / "data" / "diabetes.csv"
    df = pd.read_csv(path)
    df["lab_score"] = (df["progression"] // 10) * 10  # the target, rounded
    df.to_csv(path, index=False)
    r = check_data(project / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 6, r.stderr
    assert {f["column"] for f in findings(tmp_path / "o") if f["check"] == "leakage"} == {
        "lab_score"
    }


def test_conflicting_labels_and_duplicates_are_warnings(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    train, test = frames(project)
    flipped = train.head(10).copy()
    flipped["diagnosis"] = flipped["diagnosis"].map({"malignant": "benign", "benign": "malignant"})
    save(project, pd.concat([train, flipped, train.head(25)], ignore_index=True), test)
    r = check_data(project / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    got = {f["check"]: f for f in findings(tmp_path / "o")}
    assert got["conflicting_labels"]["severity"] == "warn"
    assert got["duplicates"]["severity"] == "warn"
    assert "::warning" not in r.stderr and "warning: data safeguard" in r.stderr


def test_a_shifted_test_set_is_skew(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    train, test = frames(project)
    test["mean_texture"] = test["mean_texture"] * 1.8
    save(project, train, test)
    r = check_data(project / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    (f,) = [f for f in findings(tmp_path / "o") if f["check"] == "skew"]
    assert f["column"] == "mean_texture"
    # which way and how far (the means, x1.8), the evidence and the rows
    assert f["skew"]["before"] == pytest.approx(train["mean_texture"].mean())
    assert f["skew"]["after"] == pytest.approx(test["mean_texture"].mean())  # x1.8
    assert f["skew"]["after"] > f["skew"]["before"] and f["skew"]["p_adjusted"] < 0.01
    assert f["skew"]["rows"] == [len(train), len(test)]
    assert "mean_texture moved in the holdout: mean " in f["message"] and "SD)" in f["message"]


def _with_notes(project: Path) -> None:
    path = project / "data" / "customers.csv"
    df = pd.read_csv(path)
    notes = ["called about billing", "happy with the plan", ""] * (len(df) // 3 + 1)
    df["notes"] = notes[: len(df)]
    df.loc[3, "notes"] = f"write to {EMAILS[0]} please"
    df.loc[40, "notes"] = f"new contact {EMAILS[1]}"
    df.loc[77, "notes"] = f"paid with {CARDS[0]}"
    df.loc[90, "notes"] = f"card {CARDS[1]} declined"
    df.to_csv(path, index=False)
    model = project / "model.py"  # the factory ignores columns it does not name
    assert "CATEGORICAL" in model.read_text()


def _everything_written(out: Path, r) -> str:
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in {".json", ".md", ".yaml", ""}]
    return r.stdout + r.stderr + "".join(p.read_text(errors="replace") for p in files)


def test_personal_data_is_found_and_never_repeated(example_copy, tmp_path: Path) -> None:
    project = example_copy("mixed-tabular")
    _with_notes(project)
    schema = yaml.safe_load((project / "schema.yaml").read_text())
    schema["columns"]["notes"] = {"dtype": "str", "nullable": True}
    (project / "schema.yaml").write_text(yaml.safe_dump(schema))
    out = tmp_path / "o"
    r = build(project, out)
    assert r.returncode == 6, r.stderr
    kinds = {f["message"].split(" holds ")[1].split(" (")[0] for f in findings(out)}
    assert kinds == {"e-mail addresses", "payment card numbers"}, findings(out)  # not "addresss"
    written = _everything_written(out, r)
    for raw in [*EMAILS, *CARDS, "lovelace", "hopper", "1111 1111"]:
        assert raw not in written, raw
    assert "a•••@e•••.org" in written  # masked examples do appear

    # Declared as allowed, with the reason: the build goes on, and the manifest says why.
    def allow(c: dict) -> None:
        c["safeguards"] = {"allow_personal_data": {"notes": "support tickets, consented"}}
        del c["model_tests"]["golden"]  # its rows predate the notes column

    edit_config(project, allow)
    out2 = tmp_path / "o2"
    r = build(project, out2)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out2 / "manifest.json").read_text())
    assert manifest["safeguards"]["allowed_personal_data"] == {
        "notes": "support tickets, consented"
    }
    for raw in [*EMAILS, *CARDS]:
        assert raw not in _everything_written(out2, r)
    # The drift profile keeps no value of a column declared to hold personal data.
    profile = json.loads((out2 / "profile.json").read_text())
    notes = next(c for c in profile["columns"] if c["name"] == "notes")
    assert notes["kind"] == "masked" and "categories" not in notes


def test_a_jump_in_a_features_power_against_the_baseline_is_a_warning(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("binary-classification")
    assert build(project, tmp_path / "base").returncode == 0
    train, test = frames(project)
    rng = __import__("numpy").random.default_rng(0)
    for df in (train, test):
        noisy = df["diagnosis"].eq("malignant") ^ (rng.random(len(df)) < 0.12)
        df["mean_symmetry"] = noisy.astype(float) + rng.uniform(0, 0.01, len(df))
    save(project, train, test)
    r = check_data(project / "ci-ml.yaml", tmp_path / "o", "--baseline", str(tmp_path / "base"))
    assert r.returncode == 0, r.stderr
    (jump,) = [f for f in findings(tmp_path / "o") if f["check"] == "leakage"]
    assert jump["severity"] == "warn" and "far better than in the baseline" in jump["message"]


def test_severity_off_silences_a_check(example_copy, tmp_path: Path) -> None:
    project = example_copy("binary-classification")
    train, test = frames(project)
    save(project, train, pd.concat([test, train.head(12)], ignore_index=True))
    edit_config(project, lambda c: c.update(safeguards={"contamination": {"severity": "off"}}))
    r = check_data(project / "ci-ml.yaml", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert [f for f in findings(tmp_path / "o") if f["check"] == "contamination"] == []
