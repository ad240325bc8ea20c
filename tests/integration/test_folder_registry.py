"""The folder registry (`release.registry: {kind: folder, path: …}`): the flow of
an air-gapped team through the CLI, with no GitHub at all, and what only a folder
has to get right: atomic publishes, the lock, leftovers of an interrupted write,
a folder that is not a registry."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from ci_ml.artifact import write_sums
from ci_ml.errors import UsageError
from ci_ml.registry.base import Upload
from ci_ml.registry.folder import LOCK, RECORD, FolderRegistry
from ci_ml.services import baselines, publishing
from tests.conftest import run_cli
from tests.integration.test_registry_flow import ok
from tests.integration.test_reproduce import committed, git


def _configure(project: Path, **model_params) -> str:
    config = project / "ci-ml.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["release"] = {"registry": {"kind": "folder", "path": "../model-registry"}}
    cfg["model"]["params"].update(model_params)
    config.write_text(yaml.safe_dump(cfg))
    return str(config)


def _baseline_of(out: Path) -> str:
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["baseline"]["source"] == "release"
    return comparison["baseline"]["label"]


def test_a_published_build_is_the_next_builds_baseline_and_promote_rollback_move_it(
    example_copy, tmp_path
) -> None:
    project = example_copy("regression")
    config = _configure(project)
    committed(project)
    env = {"USER": "carol"}  # no GITHUB_* at all: nothing may need GitHub
    a, b = tmp_path / "a", tmp_path / "b"
    ok(run_cli("run", "--config", config, "--out", str(a), env=env))
    r = run_cli("publish", "--config", config, "--out", str(a), env=env)
    ok(r)
    registry = tmp_path / "model-registry"
    assert f"release model-v1 created: {(registry / 'releases' / 'model-v1').as_uri()}" in r.stdout

    _configure(project, n_estimators=60)
    git(project, "commit", "-qam", "fewer trees")
    r = run_cli("run", "--config", config, "--out", str(b), "--baseline", "release", env=env)
    assert r.returncode in (0, 4), r.stderr
    assert _baseline_of(b) == "model-v1"
    ok(run_cli("publish", "--config", config, "--out", str(b), "--force", env=env))

    compare = ("compare", "--config", config, "--out", str(b), "--baseline", "release")
    ok(run_cli(*compare, "--no-fail-on-regression", env=env))
    assert _baseline_of(b) == "model-v2"

    r = run_cli("rollback", "--config", config, "--reason", "drift", env=env)
    ok(r)
    assert "rolled back model-v2: model-v1 is now the latest release" in r.stdout
    ok(run_cli(*compare, "--no-fail-on-regression", env=env))
    assert _baseline_of(b) == "model-v1"
    record = json.loads((registry / "releases" / "model-v2" / RECORD).read_text())
    assert "**rolled back** by @carol; latest is now model-v1: drift" in record["notes"]

    ok(run_cli("promote", "model-v2", "--config", config, env=env))
    ok(run_cli(*compare, "--no-fail-on-regression", env=env))
    assert _baseline_of(b) == "model-v2"

    r = run_cli("registry", "list", "--config", config, "--json", env=env)
    ok(r)
    rows = json.loads(r.stdout)
    assert [(row["tag"], row["latest"]) for row in rows] == [
        ("model-v2", True),
        ("model-v1", False),
    ]
    r = run_cli("verify", "model-v1", "--config", config, "--out", str(tmp_path / "v"), env=env)
    assert r.returncode == 9 and "has no model.sig" in r.stderr  # fetched, then refused unsigned


@pytest.fixture(scope="module")
def built(tmp_path_factory, example_build) -> Path:
    return example_build("regression", tmp_path_factory.mktemp("folder") / "out")


def _publish(registry: FolderRegistry, out: Path, sha: str) -> str:
    staged = publishing.stage(out, sha)
    order = publishing.PublishOrder("diabetes-progression", "model-v")
    return publishing.publish(registry, order, staged).published.tag


def test_a_publish_waits_for_the_lock_and_says_who_holds_it(built, tmp_path) -> None:
    root = tmp_path / "registry"
    registry = FolderRegistry(root, lock_wait=0.3)
    _publish(registry, built, "1" * 40)
    fd = os.open(root / LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(UsageError, match="another ci-ml command has been writing to"):
            _publish(registry, built, "2" * 40)
    finally:
        os.close(fd)
    assert [r.tag for r in registry.listing().releases] == ["model-v1"]
    assert _publish(registry, built, "2" * 40) == "model-v2"


def _waiting_for_the_lock(thread: threading.Thread) -> bool:
    """True while `thread` is inside FolderRegistry's wait for the registry lock."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code is FolderRegistry._wait.__code__:
            return True
        frame = frame.f_back
    return False


def test_two_publishes_at_once_number_two_releases(built, tmp_path) -> None:
    """Two publishes start while a fetch reads the registry: each decides its tag
    only once it holds the write lock, so they make model-v1 and model-v2 (had
    they listed the releases first, both would have taken model-v1)."""
    root = tmp_path / "registry"
    _publish(FolderRegistry(root), built, "0" * 40)  # model-v1: the registry exists
    tags: dict[str, str] = {}
    fd = os.open(root / LOCK, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a fetch holds while it copies
        threads = [
            threading.Thread(
                target=lambda c=c: tags.update({c: _publish(FolderRegistry(root), built, c * 40)})
            )
            for c in "12"
        ]
        for t in threads:
            t.start()
        for _ in range(6000):  # until both wait to write (at most a minute)
            if all(_waiting_for_the_lock(t) or not t.is_alive() for t in threads):
                break
            time.sleep(0.01)
        assert all(_waiting_for_the_lock(t) for t in threads)
    finally:
        os.close(fd)
    for t in threads:
        t.join()
    assert sorted(tags.values()) == ["model-v2", "model-v3"]
    listing = FolderRegistry(root).listing()
    assert {r.tag: r.commit for r in listing.releases} == {
        "model-v1": "0" * 40,
        **{tag: c * 40 for c, tag in tags.items()},
    }
    names = sorted(p.name for p in publishing.publishable_files(built))
    assert all(sorted(r.assets) == names for r in listing.releases)


def test_an_interrupted_write_is_never_seen_and_is_tidied(built, tmp_path) -> None:
    root = tmp_path / "registry"
    registry = FolderRegistry(root)
    _publish(registry, built, "1" * 40)
    # What a publish killed mid-copy leaves: a staging folder with half a release, and
    # a half-written files-2 beside the files-1 that record.json still points at.
    half = root / "releases" / ".new-killed" / "files-1"
    half.mkdir(parents=True)
    (half / "model.onnx").write_bytes(b"half")
    (root / "releases" / "model-v1" / "files-2").mkdir()
    (root / "releases" / "model-v1" / "files-2" / "model.onnx").write_bytes(b"half")

    assert [r.tag for r in registry.listing().releases] == ["model-v1"]
    fetched = baselines.fetch_baseline(
        registry, baselines.BaselineOrder(tmp_path / "o" / "baseline", "model-v")
    ).fetched
    assert (fetched.directory / "model.onnx").read_bytes() == (built / "model.onnx").read_bytes()

    assert _publish(registry, built, "2" * 40) == "model-v2"  # a write tidies first
    assert not (root / "releases" / ".new-killed").exists()
    assert not (root / "releases" / "model-v1" / "files-2").exists()


def test_a_republish_switches_to_new_files_in_one_step(built, tmp_path) -> None:
    root = tmp_path / "registry"
    registry = FolderRegistry(root)
    _publish(registry, built, "1" * 40)
    changed = tmp_path / "changed"
    shutil.copytree(built, changed)
    (changed / "model-card.md").write_text((built / "model-card.md").read_text() + "\nmore\n")
    write_sums(changed)
    _publish(registry, changed, "1" * 40)
    d = root / "releases" / "model-v1"
    assert json.loads((d / RECORD).read_text())["files"] == "files-2"
    assert sorted(p.name for p in d.iterdir()) == ["files-2", RECORD]  # the old files are gone
    assert (d / "files-2" / "model-card.md").read_text().endswith("more\n")


def test_someone_elses_folder_is_never_written_into(built, tmp_path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not a ci-ml model registry"):
        _publish(FolderRegistry(notes), built, "1" * 40)
    assert sorted(p.name for p in notes.iterdir()) == ["todo.txt"]
    with pytest.raises(UsageError, match="is not a ci-ml model registry"):
        FolderRegistry(notes).listing()


@pytest.mark.parametrize("tag", ["", "../x", ".hidden", "a..b", "a b", "x/", "v1.lock"])
def test_a_tag_git_would_refuse_is_refused(built, tmp_path, tag) -> None:
    upload = Upload(tag, "1" * 40, "t", (built / "model.onnx",), lambda sent: "notes")
    with pytest.raises(UsageError, match="is not a valid release tag"):
        FolderRegistry(tmp_path / "registry").publish(upload)
    assert not (tmp_path / "registry").exists()


def test_a_tag_with_a_slash_is_one_release(built, tmp_path) -> None:
    registry = FolderRegistry(tmp_path / "registry")
    upload = Upload("team/model+v1", "1" * 40, "t", (built / "model.onnx",), lambda sent: "n")
    assert registry.publish(upload).created
    assert [p.name for p in (tmp_path / "registry" / "releases").iterdir()] == ["team%2Fmodel%2Bv1"]
    assert registry.find("team/model+v1").assets == ("model.onnx",)


def test_a_release_changed_by_hand_is_refused(built, tmp_path) -> None:
    root = tmp_path / "registry"
    registry = FolderRegistry(root)
    _publish(registry, built, "1" * 40)
    files = root / "releases" / "model-v1" / "files-1"
    (files / "extra").symlink_to("/etc/hostname")
    into = tmp_path / "o" / "baseline"
    with pytest.raises(UsageError, match="a release holds plain files only"):
        baselines.fetch_baseline(registry, baselines.BaselineOrder(into, "model-v"))
    assert not into.exists()

    (root / "releases" / "model-v1" / RECORD).write_text("{not json")
    with pytest.raises(UsageError, match=r"record.json is damaged"):
        registry.listing()


def test_a_registry_on_read_only_storage_is_read_without_the_lock(built, tmp_path) -> None:
    root = tmp_path / "registry"
    _publish(FolderRegistry(root), built, "1" * 40)
    (root / LOCK).unlink()  # a copy of the registry, say, without its lock file
    registry = FolderRegistry(root)
    assert registry.latest("model-v").tag == "model-v1"
    fetched = registry.fetch(registry.latest("model-v"), tmp_path / "o" / "baseline")
    assert (fetched.directory / "SHA256SUMS").is_file()


@pytest.mark.parametrize(
    ("registry", "message", "example"),
    [
        ({"kind": "folder"}, "a folder registry needs its path", "path: ../model-registry}"),
        ({"kind": "github", "path": "x"}, "path is for kind: folder", "{kind: github}"),
        ({"kind": "s3"}, "release.registry.kind: Input should be", "kind: github"),
    ],
)
def test_a_wrong_registry_setting_names_the_key(example_copy, registry, message, example) -> None:
    project = example_copy("regression")
    config = project / "ci-ml.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["release"] = {"registry": registry}
    config.write_text(yaml.safe_dump(cfg))
    r = run_cli("registry", "list", "--config", str(config))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert message in r.stderr
    example_line = next(line for line in r.stderr.splitlines() if "example:" in line)
    assert example in example_line
