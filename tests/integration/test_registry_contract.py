"""One contract, two registries: every test here runs against GitHub Releases (the
fake GitHub API on 127.0.0.1) and against a folder (in tmp_path), through the
use-cases the CLI calls: publish, latest, fetch, promote, rollback, list, history."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci_ml.artifact import read_json, write_json, write_sums
from ci_ml.baseline import load_baseline
from ci_ml.errors import BaselineError, SignatureError, UsageError
from ci_ml.github.registry import GitHubRegistry
from ci_ml.registry import audit
from ci_ml.registry.base import Registry
from ci_ml.registry.folder import RECORD, FolderRegistry
from ci_ml.services import baselines, publishing, releases
from tests.integration.conftest import REPO

SHA = {n: str(n) * 40 for n in range(1, 5)}
PREFIX = "model-v"
MODEL = "diabetes-progression"  # the regression example's name


@pytest.fixture(scope="module")
def built(tmp_path_factory, example_build) -> Path:
    """One real build of the regression example, shared by the module."""
    return example_build("regression", tmp_path_factory.mktemp("contract") / "out")


@dataclass
class Kind:
    """A registry under test, and how the test reaches behind it."""

    registry: Registry
    tamper: Callable[[str, str], None]  # (tag, file name): change the stored bytes


def _github(fake, client) -> Kind:
    def tamper(tag: str, name: str) -> None:
        with fake.state.lock:
            (release,) = [r for r in fake.state.releases.values() if r.tag_name == tag]
            asset = next(a for a in fake.state.release_assets(release.id) if a.name == name)
            asset.data = asset.data[:-1] + b"\x00"

    return Kind(GitHubRegistry(client, REPO), tamper)


def _folder(root: Path) -> Kind:
    registry = FolderRegistry(root)

    def tamper(tag: str, name: str) -> None:
        d = root / "releases" / tag
        path = d / read_json(d / RECORD)["files"] / name
        path.write_bytes(path.read_bytes()[:-1] + b"\x00")

    return Kind(registry, tamper)


@pytest.fixture(params=["github", "folder"])
def kind(request, tmp_path) -> Iterator[Kind]:
    if request.param == "github":
        fake = request.getfixturevalue("fake_github")
        yield _github(fake, request.getfixturevalue("client"))
    else:
        yield _folder(tmp_path / "model-registry")


def variant(built: Path, tmp_path: Path, value: float) -> Path:
    """A copy of the build whose recorded RMSE is `value` (SHA256SUMS rewritten)."""
    copy = tmp_path / f"build-{value:g}"
    shutil.copytree(built, copy)
    metrics = read_json(copy / "metrics.json")
    metrics["metrics"]["rmse"]["value"] = value
    write_json(copy / "metrics.json", metrics)
    write_sums(copy)
    return copy


def publish(kind: Kind, out: Path, sha: str, **order) -> publishing.PublishOutcome:
    order.setdefault("by", "alice")
    staged = publishing.stage(out, sha)
    return publishing.publish(
        kind.registry, publishing.PublishOrder(MODEL, PREFIX, **order), staged
    )


def latest_tag(kind: Kind, **how) -> str | None:
    found = kind.registry.latest(PREFIX, **how)
    return found.tag if found else None


def marked(kind: Kind) -> str | None:
    found = kind.registry.marked_latest()
    return found.tag if found else None


def actor(name: str) -> releases.Actor:
    return releases.Actor(lambda: name, "https://ci.example/run/1")


MODEL_ID = releases.Model(MODEL, PREFIX)


def test_publish_numbers_releases_and_reuses_the_commits_own(kind, built, tmp_path) -> None:
    first = publish(kind, built, SHA[1])
    assert (first.published.tag, first.verb, first.latest) == ("model-v1", "created", True)
    names = sorted(p.name for p in publishing.publishable_files(built))
    assert sorted(first.published.assets) == names == sorted(first.published.sent)
    second = publish(kind, built, SHA[2])
    assert (second.published.tag, second.latest) == ("model-v2", True)
    assert marked(kind) == "model-v2"

    # A re-run of commit 1's release job: same release, nothing sent, latest left alone.
    again = publish(kind, built, SHA[1])
    assert (again.published.tag, again.verb, again.latest) == ("model-v1", "updated", None)
    assert again.published.sent == ()
    assert marked(kind) == "model-v2"
    listing = kind.registry.listing()
    assert sorted(r.tag for r in listing.releases) == ["model-v1", "model-v2"]
    v1 = listing.by_tag("model-v1")
    assert sorted(v1.assets) == names and v1.commit == SHA[1]
    assert [e.action for e in audit.events(v1.notes)] == ["published"]  # nothing re-sent

    # A changed file is sent again, and the log says which.
    changed = variant(built, tmp_path, 61.5)
    redone = publish(kind, changed, SHA[1])
    assert redone.published.sent == ("SHA256SUMS", "metrics.json")
    events = audit.events(kind.registry.find("model-v1").notes)
    assert [(e.action, e.sent) for e in events] == [
        ("published", None),
        ("republished", ("SHA256SUMS", "metrics.json")),
    ]


def test_latest_is_the_baseline_and_never_the_commits_own(kind, built, tmp_path) -> None:
    assert latest_tag(kind) is None and kind.registry.listing().releases == ()
    publish(kind, built, SHA[1])
    publish(kind, built, SHA[2])
    assert latest_tag(kind) == "model-v2"
    assert latest_tag(kind, exclude_commit=SHA[2]) == "model-v1"  # a re-run on main

    order = baselines.BaselineOrder(tmp_path / "out" / "baseline", PREFIX, exclude_commit=SHA[3])
    fetched = baselines.fetch_baseline(kind.registry, order).fetched
    assert fetched is not None and fetched.tag == "model-v2"
    origin = json.loads((fetched.directory / "release.json").read_text())
    assert origin["tag"] == "model-v2" and origin["repository"] == kind.registry.where
    base = load_baseline(fetched.directory)
    assert (base.source, base.label) == ("release", "model-v2")
    for f in publishing.publishable_files(built):
        assert (fetched.directory / f.name).read_bytes() == f.read_bytes()


def test_a_new_model_never_moves_latest_backwards(kind, built) -> None:
    publish(kind, built, SHA[1], tag="model-v5")
    outcome = publish(kind, built, SHA[2], tag="model-v3")
    assert outcome.latest is False and marked(kind) == "model-v5"
    assert publish(kind, built, SHA[3]).published.tag == "model-v6"


def test_promote_and_rollback_decide_the_baseline_with_a_log_line(kind, built) -> None:
    publish(kind, built, SHA[1])
    publish(kind, built, SHA[2])
    done = releases.rollback(kind.registry, MODEL_ID, actor("carol"), "drifted")
    assert (done.source.tag, done.target.tag, done.changed) == ("model-v2", "model-v1", True)
    assert latest_tag(kind) == marked(kind) == "model-v1"
    v2 = kind.registry.find("model-v2").notes
    assert "**rolled back** by @carol" in v2 and "latest is now model-v1: drifted" in v2
    assert "**promoted to latest** by @carol" in kind.registry.find("model-v1").notes

    # Idempotent: a second rollback changes nothing, and writes nothing.
    before = {t: kind.registry.find(t).notes for t in ("model-v1", "model-v2")}
    assert not releases.rollback(kind.registry, MODEL_ID, actor("carol")).changed
    assert {t: kind.registry.find(t).notes for t in before} == before
    # Re-running v2's release job does not undo the rollback.
    publish(kind, built, SHA[2])
    assert latest_tag(kind) == "model-v1"

    promoted = releases.promote(kind.registry, "model-v2", MODEL_ID, actor("bob"), "fixed")
    assert promoted.changed and latest_tag(kind) == marked(kind) == "model-v2"
    notes = kind.registry.find("model-v2").notes
    assert "**promoted to latest** by @bob; latest was model-v1: fixed" in notes
    assert not releases.promote(kind.registry, "model-v2", MODEL_ID, actor("bob")).changed
    assert kind.registry.find("model-v2").notes == notes
    assert publish(kind, built, SHA[3]).latest is True and latest_tag(kind) == "model-v3"

    with pytest.raises(UsageError, match="no published release model-v9"):
        releases.promote(kind.registry, "model-v9", MODEL_ID, actor("bob"))


def test_nothing_to_roll_back_to_is_said(kind, built) -> None:
    with pytest.raises(UsageError, match="has no model release"):
        releases.rollback(kind.registry, MODEL_ID, actor("carol"))
    publish(kind, built, SHA[1])
    with pytest.raises(UsageError, match="no earlier model release in good standing"):
        releases.rollback(kind.registry, MODEL_ID, actor("carol"))


def test_list_shows_the_models_releases_newest_first(kind, built) -> None:
    publish(kind, built, SHA[1])
    publish(kind, built, SHA[2])
    publish(kind, built, SHA[3], prerelease=True)
    releases.rollback(kind.registry, MODEL_ID, actor("carol"))
    rows = releases.rows(kind.registry, PREFIX)
    assert [(r.tag, r.latest, r.state) for r in rows] == [
        ("model-v3", False, "prerelease"),
        ("model-v2", False, "rolled back"),
        ("model-v1", True, ""),
    ]
    assert rows[1].primary_metric == "rmse" and rows[1].primary_value > 0
    assert releases.rows(kind.registry, "other-v") == []


def test_a_prerelease_is_never_latest_nor_a_baseline_unless_asked(kind, built) -> None:
    publish(kind, built, SHA[1])
    outcome = publish(kind, built, SHA[2], prerelease=True)
    assert outcome.published.tag == "model-v2" and outcome.latest is False
    assert marked(kind) == latest_tag(kind) == "model-v1"
    # The release marked latest wins; past it, a prerelease counts only when asked for.
    assert latest_tag(kind, include_prereleases=True) == "model-v1"
    assert latest_tag(kind, exclude_commit=SHA[1]) is None
    assert latest_tag(kind, exclude_commit=SHA[1], include_prereleases=True) == "model-v2"


def test_promoting_a_prerelease_makes_it_a_release_and_the_baseline(kind, built) -> None:
    """A candidate retrained on fresh data is published as a prerelease; promoting
    it (deliberately) makes it a full release, the latest, and what builds compare with."""
    publish(kind, built, SHA[1])
    publish(kind, built, SHA[2], prerelease=True)
    promoted = releases.promote(kind.registry, "model-v2", MODEL_ID, actor("bob"), "fresh data")
    assert promoted.changed and not promoted.release.prerelease
    found = kind.registry.find("model-v2")
    assert not found.prerelease and "**promoted to latest** by @bob" in found.notes
    assert marked(kind) == latest_tag(kind) == "model-v2"
    assert releases.rows(kind.registry, PREFIX)[0].state == ""


def test_history_reads_each_releases_metrics_once(kind, built, tmp_path) -> None:
    for n, value in enumerate([63.0, 62.0, 61.0], start=1):
        publish(kind, variant(built, tmp_path, value), SHA[n])
    order = baselines.BaselineOrder(tmp_path / "o" / "baseline", PREFIX, history=2)
    resolved = baselines.fetch_baseline(kind.registry, order)
    assert resolved.fetched.tag == "model-v3" and resolved.notices == ()
    points = resolved.history.releases
    assert [(p.tag, p.metrics["rmse"]) for p in points] == [("model-v2", 62.0), ("model-v3", 61.0)]

    # A release whose metrics.json is not JSON is left out, with a notice.
    kind.tamper("model-v2", "metrics.json")
    listing = kind.registry.listing()
    history, notices = baselines.release_history(kind.registry, listing, PREFIX, 10, None)
    assert [p.tag for p in history.releases] == ["model-v1", "model-v3"]
    assert len(notices) == 1 and "model-v2's metrics.json is unreadable" in notices[0]
    tiny = kind.registry.history(list(kind.registry.listing().releases), "metrics.json", 10)
    assert all("bytes" in (f.problem or "") for f in tiny)
    none = kind.registry.history(list(kind.registry.listing().releases), "absent.txt", 10)
    assert sorted(f.problem for f in none) == [f"model-v{n} has no absent.txt" for n in (1, 2, 3)]


def test_a_tampered_release_is_refused_and_nothing_is_left(kind, built, tmp_path) -> None:
    publish(kind, built, SHA[1])
    kind.tamper("model-v1", "model.onnx")
    into = tmp_path / "o" / "baseline"
    with pytest.raises(BaselineError, match="model.onnx does not match SHA256SUMS"):
        baselines.fetch_baseline(kind.registry, baselines.BaselineOrder(into, PREFIX))
    assert not into.exists() and not list(into.parent.glob(".baseline-*"))


def test_a_failed_signature_check_leaves_nothing(kind, built, tmp_path) -> None:
    publish(kind, built, SHA[1])

    def refuse(directory: Path) -> None:
        assert (directory / "model.onnx").is_file()  # checked after the download
        raise SignatureError(f"the signature of {directory} does not verify")

    into = tmp_path / "o" / "baseline"
    with pytest.raises(SignatureError):
        baselines.fetch_baseline(kind.registry, baselines.BaselineOrder(into, PREFIX, check=refuse))
    assert not into.exists()


def test_another_models_release_is_never_taken_over(kind, built) -> None:
    publish(kind, built, SHA[1])
    with pytest.raises(UsageError, match=r"it holds another model \('diabetes-progression'\)"):
        publishing.publish(
            kind.registry,
            publishing.PublishOrder("churn", PREFIX, tag="model-v1"),
            publishing.stage(built, SHA[2]),
        )
    with pytest.raises(UsageError, match="is not a model release of churn"):
        releases.promote(kind.registry, "model-v1", releases.Model("churn", PREFIX), actor("x"))
