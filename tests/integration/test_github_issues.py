"""The sticky drift issue against the fake GitHub API: found by its marker, never
duplicated, updated, closed when drift clears, reopened when it returns."""

from __future__ import annotations

import pytest

from ci_ml.errors import GitHubError, NotFound, PermissionDenied
from ci_ml.github import issues as gh

REPO = "octo/ml"  # seeded by the fake_github fixture (with PR 7)
MARKER = "<!-- ci-ml:drift id=abc -->"
LABEL = "ci-ml-drift"


def body(text: str) -> str:
    return f"{MARKER}\n{text}"


def ours(fake) -> list:
    return sorted(
        (i for i in fake.state.issues.values() if MARKER in (i.body or "")), key=lambda i: i.number
    )


def upsert(client, text: str) -> gh.IssueResult:
    return gh.upsert_sticky_issue(
        client, REPO, marker=MARKER, title="drift", body=body(text), label=LABEL
    )


def close(client) -> gh.IssueResult:
    return gh.close_sticky_issue(
        client, REPO, marker=MARKER, label=LABEL, comment="The data returned to normal."
    )


# --- pure decision -------------------------------------------------------------------


def _i(id, state="open", login="github-actions[bot]", type="Bot", text=MARKER, pr=False):
    issue = {
        "id": id,
        "number": id,
        "state": state,
        "body": text,
        "user": {"login": login, "type": type},
        "created_at": f"2024-01-01T00:00:{id:02d}Z",
    }
    if pr:
        issue["pull_request"] = {"url": "x"}
    return issue


@pytest.mark.parametrize(
    ("issues", "author", "keep", "dupes"),
    [
        ([], None, None, []),
        ([_i(1, text="no marker")], None, None, []),
        ([_i(1, login="alice", type="User")], None, None, []),  # a human quoting the marker
        ([_i(1, pr=True)], None, None, []),  # a pull request is no issue
        ([_i(3), _i(2), _i(5)], None, 5, [3, 2]),  # the newest open one wins
        ([_i(3, "closed"), _i(2)], None, 2, []),  # open beats a newer closed one
        ([_i(3, "closed"), _i(4, "closed")], None, 4, []),  # none open: the newest, to reopen
        ([_i(1, login="other-app[bot]"), _i(2)], "github-actions[bot]", 2, []),
        ([_i(1, login="me", type="User")], "me", 1, []),  # a PAT: the caller names the author
    ],
)
def test_select_sticky_issue(issues, author, keep, dupes):
    kept, duplicates = gh.select_sticky_issue(issues, MARKER, author)
    assert (kept["id"] if kept else None) == keep
    assert [d["id"] for d in duplicates] == dupes


def test_a_body_without_the_marker_is_refused_before_any_request(client, fake_github):
    with pytest.raises(ValueError, match="marker"):
        gh.upsert_sticky_issue(client, REPO, marker=MARKER, title="t", body="x", label=LABEL)
    assert fake_github.requests == []


# --- the loop against the fake ---------------------------------------------------------


def test_open_update_close_reopen(client, fake_github):
    first = upsert(client, "drift in `age`")
    assert first.action == "opened"
    (issue,) = ours(fake_github)
    assert (issue.number, issue.labels, issue.state) == (first.number, [LABEL], "open")
    assert issue.number != 7, "issues and pull requests share one sequence of numbers"
    assert LABEL in fake_github.state.labels[REPO], "GitHub creates a label an issue is given"

    second = upsert(client, "drift in `age` again")
    assert (second.action, second.number) == ("updated", first.number)
    (issue,) = ours(fake_github)
    assert issue.body.endswith("again")

    closed = close(client)
    assert (closed.action, closed.number) == ("closed", first.number)
    (issue,) = ours(fake_github)
    assert (issue.state, issue.state_reason) == ("closed", "completed")
    notes = [c.body for c in fake_github.state.comments.values() if c.issue == issue.number]
    assert notes == ["The data returned to normal."]

    assert close(client).action == "absent", "closing twice writes nothing"
    back = upsert(client, "drift returns")
    assert (back.action, back.number) == ("reopened", first.number)
    (issue,) = ours(fake_github)
    assert (issue.state, issue.state_reason) == ("open", "reopened")


def test_nothing_to_close_writes_nothing(client, fake_github):
    assert close(client) == gh.IssueResult("absent")
    assert not [r for r in fake_github.requests if r["method"] != "GET"]


def test_duplicates_converge_on_the_newest_and_are_closed(client, fake_github):
    """Two racing runs each opened one: the next run keeps the newest, says so,
    and closes the other as a duplicate of it."""
    for text in ("run A", "run B"):
        fake_github.state.add_issue(REPO, "drift", body(text), labels=[LABEL])
    older, newer = ours(fake_github)
    result = upsert(client, "run C")
    assert (result.action, result.number, result.duplicates) == (
        "updated",
        newer.number,
        (older.number,),
    )
    assert (older.state, older.state_reason) == ("closed", "duplicate")
    assert newer.state == "open" and newer.body.endswith("run C")


def test_a_race_after_create_converges(client, fake_github):
    """Another run opens its issue between our list and our create: after the
    re-read we keep the newest (ours) and close theirs."""
    original = gh.create_issue

    def racing_create(*args, **kwargs):
        fake_github.state.add_issue(REPO, "drift", body("the other run"), labels=[LABEL])
        return original(*args, **kwargs)

    gh.create_issue = racing_create
    try:
        result = upsert(client, "this run")
    finally:
        gh.create_issue = original
    theirs, mine = ours(fake_github)
    assert (result.action, result.number, result.duplicates) == (
        "opened",
        mine.number,
        (theirs.number,),
    )
    assert theirs.state == "closed" and mine.state == "open"


def test_found_without_its_label(client, fake_github):
    """Someone removed the label: the open issue is still found by its marker."""
    fake_github.state.add_issue(REPO, "drift", body("old"), labels=[])
    result = upsert(client, "new")
    assert result.action == "updated"
    assert len(ours(fake_github)) == 1


def test_a_humans_issue_quoting_the_marker_is_left_alone(client, fake_github):
    fake_github.state.add_issue(
        REPO, "how does ci-ml find it?", body("I saw this"), labels=[LABEL], login="alice",
        type="User",
    )  # fmt: skip
    assert upsert(client, "drift").action == "opened"
    alice = [i for i in fake_github.state.issues.values() if i.user["login"] == "alice"]
    assert alice[0].body.endswith("I saw this") and alice[0].state == "open"


def test_listing_follows_every_page(client, fake_github):
    """The oldest issue, ours, is on the second page (newest first)."""
    fake_github.state.add_issue(REPO, "drift", body("the first"), labels=[LABEL])
    for n in range(120):  # more than one page of 100
        fake_github.state.add_issue(REPO, f"noise {n}", "x", labels=[LABEL])
    assert len(gh.list_issues(client, REPO, labels=[LABEL], state="all")) == 121
    assert upsert(client, "again").action == "updated"
    assert len(ours(fake_github)) == 1


def test_a_label_github_will_not_create_leaves_the_issue_unlabelled(client, fake_github):
    """The issue matters more than its label: opened without it, found by its marker."""
    fake_github.state.refuse_new_labels = True
    first = upsert(client, "drift")
    assert (first.action, first.unlabelled) == ("opened", True)
    (issue,) = ours(fake_github)
    assert issue.labels == []
    again = upsert(client, "drift again")
    assert (again.action, again.number, again.unlabelled) == ("updated", first.number, False)
    assert len(ours(fake_github)) == 1


def test_listing_filters_by_label_creator_and_state(client, fake_github):
    add = fake_github.state.add_issue
    add(REPO, "a", "x", labels=[LABEL, "bug"], login="alice", type="User")
    add(REPO, "b", "x", labels=["bug"], login="bob", type="User")
    add(REPO, "c", "x", labels=[LABEL], login="alice", type="User", state="closed")

    def titles(**how) -> list[str]:
        return [i["title"] for i in gh.list_issues(client, REPO, **how)]

    assert titles() == ["b", "a"]  # open ones, newest first
    assert titles(state="all") == ["c", "b", "a"]
    assert titles(labels=[LABEL], state="all") == ["c", "a"]
    assert titles(labels=[LABEL, "bug"]) == ["a"]  # every label named
    assert titles(creator="bob", state="all") == ["b"]
    assert titles(state="closed") == ["c"]


def test_a_read_only_token_is_a_permission_error(make_client, fake_github):
    fake_github.add_token("ghs_ro", read_only=True)
    with pytest.raises(PermissionDenied):
        upsert(make_client("ghs_ro"), "drift")


def test_an_unknown_repository_is_not_found(client):
    with pytest.raises(NotFound):
        gh.upsert_sticky_issue(
            client, "octo/none", marker=MARKER, title="t", body=body("x"), label=LABEL
        )


def test_a_lost_create_reply_is_recovered_by_the_re_read(client, fake_github):
    """The create went through but its reply was lost (connection dropped after
    processing): the re-read finds the issue, and no second one is opened."""
    fake_github.add_fault(r"POST /repos/octo/ml/issues$", "drop_after")
    result = upsert(client, "drift")
    assert result.action == "updated"
    assert len(ours(fake_github)) == 1


def test_a_create_that_never_happened_is_an_error(client, fake_github):
    fake_github.add_fault(r"POST /repos/octo/ml/issues$", "drop", times=10)
    with pytest.raises(GitHubError, match="could not open the drift issue"):
        upsert(client, "drift")
    assert ours(fake_github) == []
