"""A pull request that drops a feature through `data.drop` (issue 22, 1).

The files still have the column; the baseline was built with it. Each model is
scored on the holdout with its own columns, from the rows as they are in the
files, so the comparison is paired and the default significance gate judges a
small dip as noise. Before, ci-ml refused to re-score the baseline ("the baseline
needs column(s) the data no longer has") and compared with recorded metrics,
without an interval, failing `only_if_significant` gates on any dip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.test_stage_protocol import run_here

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

DROPPED = "mean_fractal_dimension"


def _drop(project: Path, *, schema_too: bool) -> None:
    config = yaml.safe_load((project / "ci-ml.yaml").read_text())
    config["data"]["drop"] = [DROPPED]
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(config))
    if schema_too:
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        del schema["columns"][DROPPED]
        (project / "schema.yaml").write_text(yaml.safe_dump(schema))


@pytest.mark.slow
def test_dropping_a_feature_is_compared_pair_by_pair_and_passes_the_default_gate(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("binary-classification")
    base = tmp_path / "base"
    assert run_here(["run", "--out", str(base)], project)[0] == 0
    _drop(project, schema_too=True)
    out = tmp_path / "out"
    code, stdout, stderr = run_here(["run", "--out", str(out), "--baseline", str(base)], project)
    assert code == 0, stdout + stderr
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["baseline_status"] == "scored", comparison.get("baseline_problem")
    assert comparison["data_changes"]["columns"]["removed"] == [DROPPED]
    auc = next(m for m in comparison["metrics"] if m["metric"] == "roc_auc")
    assert auc["ci_low"] is not None and auc["ci_low"] <= auc["delta"] <= auc["ci_high"]
    assert comparison["verdict"] == "pass"
    tests = json.loads((out / "model-tests.json").read_text())
    assert tests["baseline"] == "compared"  # the slice and calibration deltas are paired too


def test_dropping_a_column_the_schema_requires_is_a_config_error_naming_the_fix(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("binary-classification")
    _drop(project, schema_too=False)
    code, stdout, stderr = run_here(["validate", "--out", str(tmp_path / "out")], project)
    assert code == 2, stdout + stderr
    assert f"data.drop removes '{DROPPED}', which the schema (schema.yaml) requires" in stderr
    assert "the data has not changed, the config has" in stderr
    assert "take" in stderr and "out of the schema" in stderr
    assert "Traceback" not in stderr and "broke its schema" not in stderr
