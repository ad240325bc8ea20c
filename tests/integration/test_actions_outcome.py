"""Under GitHub Actions every command leaves its outcome where a workflow looks:
step outputs, the job summary, and an annotation on the file and line that broke
(issue 24: a failing `ci-ml validate` wrote none of them, and pointed at schema.yaml)."""

from __future__ import annotations

from pathlib import Path

from ci_ml.github.actions import outcome_summary
from tests.conftest import run_cli
from tests.fresh_data import write_churn


def _actions_env(project: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
    }


def test_a_failing_validate_writes_outputs_summary_and_points_at_the_data_line(
    tmp_path: Path,
) -> None:
    project = write_churn(tmp_path / "p")
    r = run_cli("init", "--data", "data/train.csv", "--target", "churn", cwd=project)
    assert r.returncode == 0, r.stderr
    data = project / "data" / "train.csv"
    lines = data.read_text().splitlines()
    cells = lines[6].split(",")
    cells[1] = "-50"  # tenure_months, which the inferred schema holds at >= 0
    lines[6] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n")

    env = _actions_env(project, tmp_path)
    r = run_cli("validate", cwd=project, env=env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "::error file=data/train.csv,line=7::the data broke its schema" in r.stderr
    outputs = (tmp_path / "output").read_text()
    assert "exit-code=3\n" in outputs
    assert "error=the data broke its schema in 1 way(s); broken columns: tenure_months\n" in outputs
    summary = (tmp_path / "summary.md").read_text()
    assert "**ci-ml validate** failed (exit 3)" in summary and "tenure_months" in summary


def test_a_command_that_passes_says_so(tmp_path: Path) -> None:
    project = write_churn(tmp_path / "p")
    env = _actions_env(project, tmp_path)
    r = run_cli("schema", "infer", "--data", "data/train.csv", cwd=project, env=env)
    assert r.returncode == 0, r.stderr
    assert "exit-code=0\nerror=\n" in (tmp_path / "output").read_text()
    assert "**ci-ml schema infer**: done (exit 0)" in (tmp_path / "summary.md").read_text()


def test_an_error_quoting_markdown_stays_text_in_the_summary() -> None:
    hostile = "value ```` </details> [x](javascript:alert(1)) **bold**"
    text = outcome_summary("ci-ml validate", 3, hostile)
    fence = text.split("\n")[2].removesuffix("text")
    assert len(fence) == 5 and fence not in hostile
    assert text.endswith(f"{hostile}\n{fence}")
