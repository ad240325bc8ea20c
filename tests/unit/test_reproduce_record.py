"""`ci-ml reproduce`'s decisions on a record, without a rebuild: what the manifest
must name, which data files still match, how a mismatch is reported and why it fails."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from ci_ml.errors import NotReproduced, UsageError
from ci_ml.records import Evaluation, Manifest, load
from ci_ml.reproduce import (
    Outcome,
    data_problems,
    fail,
    markdown,
    metric_changes,
    package_changes,
    recorded_source,
    toplevel,
    worktree,
)


@pytest.mark.parametrize(
    ("git", "message"),
    [
        (None, "records no git commit"),
        ({"commit": "", "config_path": "ci-ml.yaml"}, "records no git commit"),
        ({"commit": "abc123"}, "does not record where the config is"),
    ],
)
def test_a_record_without_its_source_cannot_be_reproduced(git, message) -> None:
    with pytest.raises(UsageError, match=message):
        recorded_source(manifest(git=git))


def manifest(**parts: object) -> Manifest:
    return load(Manifest, {"task": "classification", "features": [], **parts})


def evaluation(**metrics: dict) -> Evaluation:
    values = {
        name: {"label": name, "greater_is_better": True, "value": None, "ci_low": None,
               "ci_high": None, **m}
        for name, m in metrics.items()
    }  # fmt: skip
    return load(
        Evaluation,
        {"task": "classification", "primary": "auc", "rows": 10, "confidence": 0.95,
         "resamples": 10, "metrics": values},
    )  # fmt: skip


def test_the_recorded_source_is_commit_and_config_path() -> None:
    assert recorded_source(manifest(git={"commit": "abc", "config_path": "m/ci-ml.yaml"})) == (
        "abc",
        "m/ci-ml.yaml",
    )


def test_outside_a_git_clone_and_for_a_missing_commit_the_error_says_what_to_do(
    tmp_path: Path,
) -> None:
    with pytest.raises(UsageError, match="not inside a git clone"):
        toplevel(tmp_path)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(UsageError, match="fetch-depth: 0"), worktree(tmp_path, "0" * 40):
        pass


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_data_files_come_from_the_commit_or_the_clone_and_must_keep_their_hash(
    tmp_path: Path,
) -> None:
    worktree_dir, clone = tmp_path / "wt", tmp_path / "clone"
    (worktree_dir / "data").mkdir(parents=True)
    (clone / "data").mkdir(parents=True)
    (worktree_dir / "data" / "train.csv").write_text("a\n1\n")  # in the commit, unchanged
    (clone / "data" / "test.csv").write_text("a\n2\n")  # untracked: from the clone, changed
    record = manifest(
        data={
            "files": {
                "train": {
                    "path": "data/train.csv",
                    "sha256": _sha("a\n1\n"),
                    "rows": 1,
                    "columns": 1,
                },
                "test": {
                    "path": "data/test.csv",
                    "sha256": _sha("a\n3\n"),
                    "rows": 1,
                    "columns": 1,
                },
                "extra": {"path": "data/gone.csv", "sha256": _sha("x"), "rows": 1, "columns": 1},
            }
        }
    )
    problems = data_problems(record, worktree_dir, clone)
    assert problems == [
        "data file data/gone.csv (extra) is neither in the commit nor in the clone",
        f"data file data/test.csv (test) has sha256 {_sha('a' + chr(10) + '2' + chr(10))[:12]}…, "
        f"the record says {_sha('a' + chr(10) + '3' + chr(10))[:12]}…",
    ]
    assert (worktree_dir / "data" / "test.csv").read_text() == "a\n2\n"  # brought in


def test_metric_and_package_changes_name_what_moved() -> None:
    recorded = evaluation(auc={"value": 0.9, "ci_low": 0.8, "ci_high": 0.95}, acc={})
    rebuilt = evaluation(auc={"value": 0.91, "ci_low": 0.8, "ci_high": 0.95}, acc={})
    # an undefined metric (null) on both sides is no change
    assert metric_changes(recorded, rebuilt) == [
        {"metric": "auc", "field": "value", "recorded": 0.9, "rebuilt": 0.91}
    ]
    record = manifest(environment={"python": "2.7.18", "packages": {"no-such-package-xyz": "1.0"}})
    changed = {p["package"]: p for p in package_changes(record)}
    assert changed["python"]["recorded"] == "2.7"
    assert changed["no-such-package-xyz"] == {
        "package": "no-such-package-xyz",
        "recorded": "1.0",
        "now": None,
    }


def test_a_mismatch_is_reported_and_fails_with_what_differs() -> None:
    o = Outcome(
        False,
        {"recorded": "a" * 64, "rebuilt": "b" * 64, "equal": False},
        [{"metric": "auc", "field": "value", "recorded": 0.9, "rebuilt": 0.91}],
        [{"package": "numpy", "recorded": "1.0", "now": "2.0"}],
    )
    text = markdown("model-v3", o)
    assert "does not match" in text and "**model.onnx** sha256: different" in text
    assert "| auc | value | 0.9 | 0.91 |" in text and "- numpy: recorded 1.0, now 2.0" in text
    err = fail(o)
    assert isinstance(err, NotReproduced)
    assert err.message.endswith("model.onnx differs, 1 metric(s) differ")
    assert "package versions differ from the record: numpy" in err.hint


def test_a_failed_rebuild_and_changed_data_fail_with_their_reason() -> None:
    broken = Outcome(False, {}, error="exit 3: the data broke their schema")
    assert "The rebuild failed: exit 3" in markdown("dir", broken)
    assert fail(broken).message.endswith("the rebuild failed: exit 3: the data broke their schema")
    stale = Outcome(False, {}, data=["data file d.csv (train) has sha256 …"])
    assert "- data file d.csv" in markdown("dir", stale)
    assert "the data no longer match the record: data file d.csv" in fail(stale).message
    same = Outcome(True, {"recorded": "a", "rebuilt": "a", "equal": True})
    text = markdown("dir", same)
    assert "✅" in text and "**metrics**: identical" in text and "recorded versions" in text
