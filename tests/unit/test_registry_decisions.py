"""The registry's and the cache's decisions, as tables: pure functions of release
listings and fingerprints, no HTTP."""

from __future__ import annotations

import pytest

from ci_ml import fingerprint
from ci_ml.github.api import approvers
from ci_ml.marker import release_marker
from ci_ml.registry import audit
from ci_ml.registry.audit import Event
from ci_ml.registry.base import Release


def rel(n: int, *, commit: str | None = None, body: str = "", draft=False, pre=False, tag=None):
    return Release(
        key=n,
        tag=tag or f"model-v{n}",
        commit=commit or f"{n}" * 40,
        draft=draft,
        prerelease=pre,
        created_at=f"2024-01-0{n}T00:00:00Z",
        published_at=None if draft else f"2024-01-0{n}T00:00:00Z",
        notes=body,
    )


ROLLED = audit.with_event("card", None, Event("rolled-back", "t", by="x"))


@pytest.mark.parametrize(
    ("releases", "latest", "exclude", "want"),
    [
        ([], None, None, None),
        ([rel(1), rel(2)], None, None, "model-v2"),  # no latest flag: the newest
        ([rel(1), rel(2)], 1, None, "model-v1"),  # promote/rollback decide
        ([rel(1), rel(2, body=ROLLED)], None, None, "model-v1"),  # rolled back is skipped
        ([rel(1), rel(2)], 2, "2" * 40, "model-v1"),  # a re-run never compares with itself
        ([rel(1), rel(2, draft=True), rel(3, pre=True)], None, None, "model-v1"),
        ([rel(1), rel(2, tag="v9.0")], 2, None, "model-v1"),  # the repo's latest is no model
    ],
)
def test_pick_baseline(releases, latest, exclude, want) -> None:
    got = audit.pick_baseline(releases, latest, "model-v", exclude_commit=exclude)
    assert (got.tag if got else None) == want


def test_plan_rollback_is_idempotent() -> None:
    assert audit.plan_rollback([], "model-v") is None
    plan = audit.plan_rollback([rel(1), rel(2), rel(3)], "model-v")
    assert (plan.source.tag, plan.target.tag, plan.done_already) == (
        "model-v3",
        "model-v2",
        False,
    )
    after = [rel(1), rel(2, body=ROLLED), rel(3, body=ROLLED)]
    plan = audit.plan_rollback(after, "model-v")
    assert plan.done_already and plan.target.tag == "model-v1"
    promoted_again = audit.with_event(ROLLED, ROLLED, Event("promoted", "u"))
    assert not audit.rolled_back(rel(3, body=promoted_again))


def test_notes_keep_their_log_across_republishes() -> None:
    first = audit.with_event("# card v1\n", None, Event("published", "t1", by="a"))
    second = audit.with_event("# card v1, rebuilt\n", first, Event("republished", "t2"))
    assert second.startswith("# card v1, rebuilt")
    assert [e.action for e in audit.events(second)] == ["published", "republished"]
    assert audit.card_of(second) == "# card v1, rebuilt\n"
    assert audit.with_event("# card\n", second, None).count("ci-ml:event") == 2


def test_user_text_in_an_audit_line_stays_one_plain_line() -> None:
    line = audit.describe(Event("promoted", "", by="x", reason="a\n## [link](http://e) -->"))
    assert "\n" not in line and "](" not in line and "-->" not in line.replace("\\>", "")


@pytest.mark.parametrize(
    ("body", "assets", "ok"),
    [
        (release_marker({"name": "churn"}), [], True),
        (release_marker({"name": "other"}), [], False),
        ("", [{"name": n} for n in ("model.onnx", "manifest.json", "SHA256SUMS")], True),
        ("", [{"name": "app.tar.gz"}], False),
        (None, [], False),
    ],
)
def test_ownership(body, assets, ok) -> None:
    release = Release("v1", 1, "t", notes=body or "", assets=tuple(a["name"] for a in assets))
    problem = audit.ownership_problem(release, "churn")
    assert (problem is None) is ok


@pytest.mark.parametrize(
    ("reviews", "want"),
    [
        ([], []),
        ([("bob", "APPROVED")], ["bob"]),
        ([("bob", "APPROVED"), ("bob", "COMMENTED")], ["bob"]),  # a comment changes nothing
        ([("bob", "APPROVED"), ("bob", "CHANGES_REQUESTED")], []),
        ([("bob", "APPROVED"), ("bob", "DISMISSED"), ("amy", "APPROVED")], ["amy"]),
    ],
)
def test_approvers(reviews, want) -> None:
    shaped = [{"user": {"login": u}, "state": s} for u, s in reviews] + [
        {"user": None, "state": "APPROVED"}
    ]
    assert approvers(shaped) == want


def fp(**change):
    parts = {
        "data": {"data": "d"},
        "config": {"model": 1},
        "schema": "s",
        "code": {},
        "packages": {"onnx": "1"},
    }
    parts.update(change)
    return fingerprint.make(
        parts["data"], parts["config"], parts["schema"], parts["code"], parts["packages"]
    )


@pytest.mark.parametrize(
    ("baseline", "enabled", "reuse", "reason"),
    [
        (None, True, False, "no baseline"),
        ({}, True, False, "records no fingerprint"),
        ({"fingerprint": fp().as_json()}, True, True, "same data"),
        ({"fingerprint": fp().as_json()}, False, False, "--no-cache"),
        ({"fingerprint": fp(schema="t").as_json()}, True, False, "changed: schema"),
        ({"fingerprint": fp(code={"model.py": "x"}).as_json()}, True, False, "code: model.py"),
        ({"fingerprint": fp(packages={"onnx": "2"}).as_json()}, True, False, "packages: onnx"),
        ({"fingerprint": fp(data={"data": "e"}).as_json()}, True, False, "data: data"),
        (
            {"fingerprint": {"sha256": fp().sha256, "parts": {"lies": True}}},
            True,
            False,
            "does not match its parts",
        ),
    ],
)
def test_cache_decision(baseline, enabled, reuse, reason) -> None:
    from ci_ml.records import Manifest, load

    manifest = (
        None
        if baseline is None
        else load(Manifest, {"task": "regression", "features": [], **baseline})
    )
    decision = fingerprint.decide(fp(), manifest, enabled)
    assert decision.reuse is reuse and reason in decision.reason


def test_config_sections_that_do_not_shape_the_model_do_not_change_the_fingerprint() -> None:
    a = fingerprint.config_sha256({"model": {"C": 1}, "gates": [1]})
    assert a == fingerprint.config_sha256({"model": {"C": 1}, "gates": [2], "metrics": {}})
    assert a != fingerprint.config_sha256({"model": {"C": 2}, "gates": [1]})
