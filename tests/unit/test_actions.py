"""Workflow commands inside Actions (GITHUB_ACTIONS=true): annotations, groups,
masks and outputs, escaped as the runner reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_ml.github.actions import Actions, annotation


def test_annotations_escape_what_the_runner_would_misread() -> None:
    assert (
        annotation("error", "50% bad\nline 2", file="a:b,c.yaml", title="t")
        == "::error file=a%3Ab%2Cc.yaml,title=t::50%25 bad%0Aline 2"
    )
    assert annotation("notice", "plain") == "::notice::plain"


def test_inside_actions_commands_are_workflow_commands(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out, summary = tmp_path / "out", tmp_path / "summary"
    a = Actions(
        {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary)}
    )
    a.warning("careful", file="ci-ml.yaml")
    a.notice("fyi")
    a.mask("s3cret")
    with a.group("ci-ml train"):
        print("inside")
    a.set_outputs({"verdict": "pass", "report": "two\nlines", "none": None})
    assert a.append_summary("## report\n")
    got = capsys.readouterr()
    assert "::warning file=ci-ml.yaml::careful" in got.err and "::notice::fyi" in got.err
    assert got.out.splitlines() == [
        "::add-mask::s3cret",
        "::group::ci-ml train",
        "inside",
        "::endgroup::",
    ]
    lines = out.read_text().splitlines()
    assert lines[0] == "verdict=pass" and lines[-1] == "none="
    delim = lines[1].split("<<")[1]
    assert lines[1:5] == [f"report<<{delim}", "two", "lines", delim]
    assert summary.read_text() == "## report\n\n"


def test_outside_actions_everything_is_plain(capsys: pytest.CaptureFixture[str]) -> None:
    a = Actions({})
    a.mask("s3cret")
    with a.group("ci-ml train"):
        pass
    a.set_outputs({"verdict": "pass"})
    assert not a.append_summary("x")
    got = capsys.readouterr()
    assert got.out == "" and got.err == "── ci-ml train\n"
