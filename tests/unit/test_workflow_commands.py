"""ci_ml/github/actions.py: the workflow commands ci-ml prints inside Actions
(annotations, masks, log groups, step outputs, the job summary), and what it
prints elsewhere."""

from __future__ import annotations

from pathlib import Path

from ci_ml.github.actions import Actions, annotation


def test_annotations_escape_what_the_runner_would_misread() -> None:
    assert annotation("error", "50% done\r\nnext", file="a:b,c.yaml", title="x") == (
        "::error file=a%3Ab%2Cc.yaml,title=x::50%25 done%0D%0Anext"
    )
    assert annotation("notice", "plain") == "::notice::plain"


def test_inside_actions_commands_are_workflow_commands(tmp_path: Path, capsys) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary"
    a = Actions(
        {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    )
    a.error("broken", file="ci-ml.yaml", title="ci-ml")
    a.warning("careful")
    a.mask("s3cret\nline")
    with a.group("ci-ml train"):
        print("inside")
    a.set_outputs({"verdict": "pass", "body": "two\nlines", "none": None})
    assert a.append_summary("## report\n")
    printed = capsys.readouterr()
    assert "::error file=ci-ml.yaml,title=ci-ml::broken" in printed.err
    assert "::warning::careful" in printed.err
    assert printed.out.splitlines() == [
        "::add-mask::s3cret%0Aline",
        "::group::ci-ml train",
        "inside",
        "::endgroup::",
    ]
    lines = out.read_text().splitlines()
    assert lines[0] == "verdict=pass" and lines[-1] == "none="
    delim = lines[1].removeprefix("body<<")
    assert lines[1:5] == [f"body<<{delim}", "two", "lines", delim]
    assert summary.read_text() == "## report\n\n"


def test_outside_actions_plain_lines_and_no_files(capsys) -> None:
    a = Actions({})
    a.error("broken", file="x")
    a.notice("fyi")
    a.mask("s3cret")
    with a.group("ci-ml train"):
        pass
    a.set_outputs({"verdict": "pass"})
    assert not a.append_summary("x")
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.splitlines() == ["error: broken", "notice: fyi", "── ci-ml train"]
