"""The two examples beyond a plain estimator, built as a user builds them:
examples/command-nn (a NumPy network trained by `model.command`, compared with a
baseline, gated and tested like any model) and examples/search-binary (a
`model.search` on the training rows, refitted with the best params)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import EXAMPLES, run_cli

NN = EXAMPLES / "command-nn"
BINARY = EXAMPLES / "binary-classification"


def read(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text())


def nn_project(tmp_path: Path, script: str, params: dict | None = None) -> Path:
    """examples/command-nn in a folder of its own: `script` beside a config that
    names the shipped data by absolute path."""
    project = tmp_path / "nn"
    project.mkdir()
    shutil.copy(NN / script, project / script)
    cfg = yaml.safe_load((NN / "ci-ml.yaml").read_text())
    cfg["data"]["train"] = str(BINARY / "data/train.csv")
    cfg["data"]["test"] = str(BINARY / "data/test.csv")
    cfg["schema"] = str(BINARY / "schema.yaml")
    cfg["model"]["command"] = f"{{python}} {script} --out {{model_dir}}"
    if params is not None:
        cfg["model"]["params"] = params
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    return project


@pytest.mark.slow  # two builds, one training command each
def test_a_command_model_is_compared_gated_and_tested_like_an_estimator(
    example_build, tmp_path: Path
) -> None:
    baseline = example_build("command-nn")
    # The candidate: a wider net. (A narrower one, hidden 4 or 8, fails the example's
    # directional model test: a larger tumour looks less malignant on 8-12 % of rows.)
    project = nn_project(tmp_path, "train.py", {"hidden": 32, "epochs": 400})
    out = tmp_path / "out"

    r = run_cli("run", "--out", str(out), "--baseline", str(baseline), cwd=project)

    assert r.returncode == 0, r.stderr
    assert "parity not checked (trained by model.command)" in r.stdout + r.stderr
    comparison = read(out, "comparison.json")
    assert comparison["baseline_status"] == "scored" and comparison["verdict"] == "pass"
    assert {g["status"] for g in comparison["gates"]} == {"pass"}
    changed = {p["param"]: (p["baseline"], p["candidate"]) for p in comparison["params_diff"]}
    assert changed == {"hidden": (16, 32)}  # from the params.json train.py wrote
    tests = read(out, "model-tests.json")
    assert tests["configured"] and tests["total"] >= 4 and tests["baseline"] == "compared"
    manifest = read(out, "manifest.json")
    assert manifest["model"]["estimator"].startswith("command: python")
    assert manifest["model"]["command"]["exit_code"] == 0
    assert manifest["export"]["parity"]["skipped"].startswith("trained by model.command")
    assert manifest["fingerprint"]["parts"]["code"].keys() == {"train.py"}
    report = (out / "report.md").read_text()
    assert "parity not checked (trained by command)" in report
    assert "Trained by command: exit 0" in report
    # What ships: the same metadata as a model ci-ml exported itself.
    assert (out / "model.onnx").is_file() and "model.onnx" in (out / "SHA256SUMS").read_text()
    card = (out / "model-card.md").read_text()
    assert "command: python train.py" in card
    # `ci-ml export` alone takes the model the command wrote, and only that one.
    r = run_cli("export", "--out", str(out), cwd=project)
    assert r.returncode == 0, r.stderr
    written = out / "_build/command/model/model.onnx"
    written.write_bytes(written.read_bytes() + b"\0")
    r = run_cli("export", "--out", str(out), cwd=project)
    assert r.returncode == 2 and "is not the model the training command wrote" in r.stderr


@pytest.mark.slow  # a build with 18 cross-validation fits
def test_a_search_runs_on_the_training_rows_and_refits_the_best(example_build) -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    out = example_build("search-binary")
    train = read(out, "_build/train.json")
    search = train["search"]
    assert (search["method"], search["planned"], search["trials"], search["cv"]) == (
        "random",
        6,
        6,
        3,
    )
    assert len(search["top"]) == 3 and search["top"][0]["params"] == search["best"]
    assert [t["rank"] for t in search["top"]] == [1, 2, 3]
    assert all(train["params"][k] == v for k, v in search["best"].items())  # refitted with them
    assert read(out, "manifest.json")["model"]["search"] == search
    # The table's best score is the cross-validation of the training rows alone.
    data = pd.read_csv(BINARY / "data/train.csv")
    X, y = data.drop(columns="diagnosis"), data["diagnosis"]
    model = RandomForestClassifier(n_estimators=30, random_state=42, **search["best"])
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=42)
    again = cross_val_score(model, X, y, cv=folds, scoring="roc_auc").mean()
    assert round(again, 6) == search["top"][0]["mean"]
    report = (out / "report.md").read_text()
    assert "<details><summary>Search: best of 6 candidates by 3-fold roc\\_auc" in report


@pytest.mark.slow  # a build; skipped where torch is not installed (this repository's CI)
def test_the_pytorch_variant_builds_where_torch_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")  # torch.onnx.export's exporter
    project = nn_project(tmp_path, "train_torch.py")
    out = tmp_path / "out"

    r = run_cli("run", "--out", str(out), cwd=project)

    assert r.returncode in (0, 7), r.stderr  # 7: a model test failed; the build is whole
    train = read(out, "_build/train.json")
    assert "ONNX export matches the network" in train["command"]["output_tail"]
    assert train["params"]["hidden"] == 16
    assert read(out, "metrics.json")["metrics"]["roc_auc"]["value"] > 0.95
    assert "parity not checked" in (out / "report.md").read_text()


@pytest.mark.slow  # a build and its rebuild
def test_reproduce_reruns_the_command_of_the_recorded_commit(tmp_path: Path) -> None:
    from tests.integration.test_reproduce import committed

    project = nn_project(tmp_path, "train.py")
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    shutil.copytree(BINARY / "data", project / "data")
    shutil.copy(BINARY / "schema.yaml", project / "schema.yaml")
    cfg["data"] = {**cfg["data"], "train": "data/train.csv", "test": "data/test.csv"}
    cfg["schema"] = "schema.yaml"
    cfg.pop("model_tests")  # not what this test is about
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    committed(project, untracked_data=False)
    built = tmp_path / "built"
    r = run_cli("run", "--out", str(built), cwd=project)
    assert r.returncode == 0, r.stderr
    # The working tree's script changes after the build; the record's commit has the old one.
    script = project / "train.py"
    changed = script.read_text().replace("default_rng(seed)", "default_rng(seed + 1)")
    assert changed != script.read_text()
    script.write_text(changed)

    r = run_cli("reproduce", str(built), "--repo", str(project), "--out", str(tmp_path / "r"))

    assert r.returncode == 0, r.stdout + r.stderr
    result = json.loads((tmp_path / "r" / "reproduce.json").read_text())
    assert result["matched"] and result["model"]["equal"], result
