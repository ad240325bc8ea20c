import pytest

from ci_ml.errors import UsageError
from ci_ml.github.api import MAX_COMMENT_CHARS as GITHUB_LIMIT
from ci_ml.github.comment import fit_comment
from ci_ml.marker import read_marker, release_marker, with_comment_id
from ci_ml.registry.audit import choose_tag, version_of
from ci_ml.registry.base import Release

MARK = "<!-- ci-ml:comment id=abc -->"


def big_report(details: int, rows: int) -> str:
    table = "| a | b |\n| --- | --- |\n" + "".join(f"| {i} | {'x' * 50} |\n" for i in range(rows))
    det = "".join(
        f"<details><summary>d{i}</summary>\n\n{'y' * 5000}\n\n</details>\n\n"
        for i in range(details)
    )
    chart = "```mermaid\nxychart-beta\n    bar [1, 2]\n```\n\n"
    return f"{MARK}\n## headline\n\n{table}\n{chart}{det}<sub>footer</sub>\n"


def test_small_comment_untouched() -> None:
    body = big_report(1, 3)
    assert fit_comment(body) == (body, False)


def test_details_go_first_then_the_note_points_to_the_summary() -> None:
    body = big_report(20, 10)
    assert len(body) > GITHUB_LIMIT
    out, short = fit_comment(body, full_report_url="https://run")
    assert short and len(out) <= GITHUB_LIMIT
    assert out.startswith(MARK) and "## headline" in out and "```mermaid" in out
    assert "[the job summary](https://run)" in out
    assert out.count("<details>") < 20


def test_huge_tables_are_cut_but_marker_stays() -> None:
    out, short = fit_comment(big_report(0, 3000))
    assert short and len(out) <= GITHUB_LIMIT and read_marker(out) == MARK


def test_comment_id_override() -> None:
    assert (
        read_marker(with_comment_id(f"{MARK}\nbody", "second"))
        == "<!-- ci-ml:comment id=second -->"
    )
    with pytest.raises(UsageError, match="comment id"):
        with_comment_id("body", "bad id -->")


@pytest.mark.parametrize(
    ("releases", "want"),
    [
        ([], ("model-v1", False)),
        (
            [
                {"tag_name": "model-v1", "target_commitish": "a"},
                {"tag_name": "model-v7", "target_commitish": "b"},
                {"tag_name": "app-v99", "target_commitish": "c"},
                {"tag_name": "model-v3rc", "target_commitish": "d"},
            ],
            ("model-v8", False),
        ),
        (
            [
                {"tag_name": "model-v2", "target_commitish": "sha"},
                {"tag_name": "model-v3", "target_commitish": "x"},
            ],
            ("model-v2", True),
        ),
    ],
)
def test_choose_tag(releases, want) -> None:
    records = [
        Release(r["tag_name"], i, "t", r["target_commitish"]) for i, r in enumerate(releases)
    ]
    assert choose_tag(records, "model-v", "sha") == want


def _marked(tag: str, key: int, commit: str, fingerprint: str | None) -> Release:
    notes = release_marker({"name": "m", "fingerprint": fingerprint}) if fingerprint else ""
    return Release(tag, key, "t", commit, notes=notes)


@pytest.mark.parametrize(
    ("theirs", "ours", "want"),
    [
        ("fp-a", "fp-a", ("model-v1", True)),  # a re-run of the same build
        ("fp-a", "fp-b", ("model-v2", False)),  # retrained on fresh data at the same commit
        (None, "fp-b", ("model-v1", True)),  # an older release without a fingerprint
        ("fp-a", None, ("model-v1", True)),  # a build without one: the commit decides
    ],
)
def test_choose_tag_reuses_the_commits_release_only_for_the_same_build(theirs, ours, want):
    releases = [_marked("model-v1", 1, "sha", theirs)]
    assert choose_tag(releases, "model-v", "sha", ours) == want


def test_version_of() -> None:
    assert version_of("model-v12", "model-v") == 12
    assert version_of("model-v12-rc", "model-v") is None
    assert version_of("x.y+1", "x.y+") == 1
