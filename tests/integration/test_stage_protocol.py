"""The stage protocol (issue 20), in-process so a test can add a stage or count calls:

- a stage declared inside a test, added to the one tuple of stages, shows up in
  `ci-ml --help`, the chain, the pipeline's order and the report, and nothing else
  is touched;
- one `ci-ml run --baseline DIR` checks the baseline's digests once and scores its
  model on the holdout once;
- a baseline released by ci-ml 0.1.0 (tests/fixtures/baseline-0.1.0) loads and is
  compared;
- the primary metric is decided once: a classifier without probabilities says
  the same headline metric in metrics.json, the manifest and the slice tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_ml import stages
from ci_ml.cli import build_parser, main
from ci_ml.stage import Section, Stage, StageRun

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def run_here(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """`ci-ml ARGS` in this process (so what a test patched is what runs); the
    modules a project's own test suite brought in are let go afterwards, as a
    process of its own would."""
    import sys

    out, err = io.StringIO(), io.StringIO()
    before, modules = Path.cwd(), set(sys.modules)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(before)
        for name in set(sys.modules) - modules:
            where = getattr(sys.modules[name], "__file__", None) or ""
            if where.startswith(str(cwd.resolve())) or where.startswith(str(cwd)):
                del sys.modules[name]
    return code, out.getvalue(), err.getvalue()


# --- a stage added from a test --------------------------------------------------------


@dataclass
class CountResult:
    """The dummy stage's record: how many holdout rows it saw."""

    rows: int
    first_target: str


def _count(r: StageRun) -> CountResult:
    _, y = r.build.dataset.xy("test")
    return CountResult(rows=len(y), first_target=str(y.iloc[0]))


DUMMY = Stage(
    name="row_count",
    command="count-rows",
    help="count the holdout rows (a stage declared by a test)",
    run=_count,
    summary=lambda result: f"counted {result.rows} holdout rows",
    reads=("data",),
    record=CountResult,
    record_file="row-count.json",
    sections=(
        Section(
            order=85,
            source="### Row count\n\n{{ results.row_count.rows }} holdout rows counted by a dummy stage.\n\n",
        ),
    ),
)


@pytest.fixture
def with_dummy(monkeypatch: pytest.MonkeyPatch) -> tuple[Stage, ...]:
    """The tuple of stages with the dummy before the report: the one line a new stage adds."""
    names = [s.name for s in stages.STAGES]
    at = names.index("report")
    added = (*stages.STAGES[:at], DUMMY, *stages.STAGES[at:])
    monkeypatch.setattr(stages, "STAGES", added)
    return added


def test_a_stage_declared_in_a_test_joins_help_chain_pipeline_and_report(
    with_dummy, example_copy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --help: its command and its help line
    help_text = build_parser().format_help()
    assert "count-rows" in help_text and "count the holdout rows" in help_text
    # the chain: after model_tests, before the report, with its file
    chain = stages.chain()
    assert chain.names[-2:] == ["row_count", "report"]
    assert "row_count" in chain.ancestors("report") or chain.get("report").always
    assert "row-count.json" in chain.outputs(["row_count"])
    assert chain.descendants("row_count") == ["row_count", "report"]

    project = example_copy("binary-classification")
    out = tmp_path / "out"
    code, stdout, stderr = run_here(["run", "--out", str(out)], project)
    assert code == 0, stdout + stderr
    # the pipeline: it ran in its place, between the model tests and the report
    lines = [line for line in stderr.splitlines() if line.startswith("── ci-ml ")]
    assert lines[-3:] == ["── ci-ml test-model", "── ci-ml count-rows", "── ci-ml report"], lines
    assert "counted 171 holdout rows" in stdout
    # its record, typed and sealed like any stage's
    assert json.loads((out / "row-count.json").read_text()) == {
        "rows": 171,
        "first_target": json.loads((out / "row-count.json").read_text())["first_target"],
    }
    sealed = json.loads((out / "_build" / "chain.json").read_text())["stages"]["row_count"]
    assert sealed["status"] == "sealed" and "row-count.json" in sealed["files"]
    # the report: its section, between the model tests and the build table
    report = (out / "report.md").read_text()
    assert "### Row count\n\n171 holdout rows counted by a dummy stage." in report
    assert (
        report.index("Model tests") < report.index("### Row count") < report.index("<summary>Build")
    )
    # and alone, as its own command
    code, stdout, _ = run_here(["count-rows", "--out", str(out)], project)
    assert code == 0 and "counted 171 holdout rows" in stdout


# --- the baseline, resolved once --------------------------------------------------------


@pytest.mark.parametrize(
    "example",
    [pytest.param("binary-classification", marks=pytest.mark.slow), "regression"],
)
def test_one_run_checks_the_baseline_once_and_scores_it_once(
    example: str, example_copy, example_build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """regression runs the project's own pytest suite too, whose `baseline` fixture
    takes the verified baseline instead of checking it again."""
    import ci_ml.baseline
    import ci_ml.scoring.pairing

    project = example_copy(example)
    base = example_build(example)  # the shipped example's build: read only
    # a different model, so the cache does not take the baseline's
    config = project / "ci-ml.yaml"
    config.write_text(
        config.read_text().replace("seed: 42", "seed: 7").replace("seed: 0\n", "seed: 5\n")
    )

    calls = {"verify": 0, "score": 0}
    verify, score = ci_ml.baseline.verify_sums, ci_ml.scoring.pairing.score

    def counted_verify(*a, **k):
        calls["verify"] += 1
        return verify(*a, **k)

    def counted_score(*a, **k):
        calls["score"] += 1
        return score(*a, **k)

    monkeypatch.setattr(ci_ml.baseline, "verify_sums", counted_verify)
    monkeypatch.setattr(ci_ml.baseline, "score", counted_score)
    code, stdout, stderr = run_here(
        ["run", "--out", str(tmp_path / "cand"), "--baseline", str(base)], project
    )
    assert code == 0, stdout + stderr
    comparison = json.loads((tmp_path / "cand" / "comparison.json").read_text())
    tests = json.loads((tmp_path / "cand" / "model-tests.json").read_text())
    assert comparison["baseline_status"] == "scored" and tests["baseline"] == "compared"
    assert calls == {"verify": 1, "score": 1}


# --- compatibility ------------------------------------------------------------------------


def test_a_baseline_released_by_ci_ml_0_1_0_loads_and_is_compared(
    example_copy, tmp_path: Path
) -> None:
    """tests/fixtures/baseline-0.1.0: mixed-tabular built by ci-ml 0.1.0 before the
    records were typed (no schema_version in any file)."""
    fixture = FIXTURES / "baseline-0.1.0"
    assert "schema_version" not in (fixture / "manifest.json").read_text()
    project = example_copy("mixed-tabular")
    out = tmp_path / "out"
    code, stdout, stderr = run_here(
        ["run", "--out", str(out), "--baseline", str(fixture), "--no-cache"], project
    )
    assert code == 0, stdout + stderr
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["baseline_status"] == "scored" and comparison["verdict"] == "pass"
    # the same model, data and split: every delta is exactly zero
    assert all(m["delta"] == 0 for m in comparison["metrics"])
    assert comparison["schema_version"] == 1


def test_a_record_from_a_newer_ci_ml_is_refused_with_the_fix(example_copy, tmp_path: Path) -> None:
    import shutil

    baseline = tmp_path / "newer"
    shutil.copytree(FIXTURES / "baseline-0.1.0", baseline)
    manifest = json.loads((baseline / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (baseline / "manifest.json").write_text(json.dumps(manifest))
    sums = (baseline / "SHA256SUMS").read_text().splitlines()
    import hashlib

    digest = hashlib.sha256((baseline / "manifest.json").read_bytes()).hexdigest()
    (baseline / "SHA256SUMS").write_text(
        "\n".join(f"{digest}  manifest.json" if s.endswith(" manifest.json") else s for s in sums)
        + "\n"
    )
    project = example_copy("mixed-tabular")
    code, _, stderr = run_here(
        ["run", "--out", str(tmp_path / "out"), "--baseline", str(baseline)], project
    )
    assert code == 2 and "newer ci-ml" in stderr and "upgrade ci-ml" in stderr
    assert "Traceback" not in stderr


# --- the primary metric, decided once ------------------------------------------------------


def test_a_classifier_without_probabilities_has_one_headline_metric_everywhere(
    example_copy, tmp_path: Path
) -> None:
    """RidgeClassifier gives labels only, so roc_auc cannot
    head the report; metrics.json, the manifest and the slice tests all say accuracy."""
    import yaml

    project = example_copy("binary-classification")
    config = project / "ci-ml.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["model"] = {"estimator": "sklearn.linear_model.RidgeClassifier", "seed": 42}
    cfg.pop("metrics")  # the task's headline, ROC AUC, needs probabilities
    cfg["gates"] = []
    cfg["model_tests"] = {"slices": {"columns": {"mean_radius": [0, 12, 15, float("inf")]}}}
    config.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    code, stdout, stderr = run_here(["run", "--out", str(out)], project)
    assert code == 0, stdout + stderr
    metrics = json.loads((out / "metrics.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    tests = json.loads((out / "model-tests.json").read_text())
    assert "roc_auc" in metrics["skipped"]
    assert metrics["primary"] == manifest["metrics"]["primary"] == "accuracy"
    assert tests["slices"]["ranked_by"] == "accuracy"
