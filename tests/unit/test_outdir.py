"""Folders ci-ml owns: stamped, locked, never a user's."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_ml import outdir
from ci_ml.errors import UsageError


def test_claim_stamps_a_new_or_empty_folder_and_accepts_its_own(tmp_path: Path) -> None:
    new = outdir.claim(tmp_path / "a" / "b", "build")
    assert outdir.is_ours(new, "build")
    (tmp_path / "empty").mkdir()
    assert outdir.is_ours(outdir.claim(tmp_path / "empty", "build"), "build")
    (new / "model.onnx").write_text("x")
    assert outdir.claim(new, "build") == new  # ours: accepted with its files


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda p: (p / "notes.txt").write_text("mine"), "not empty and was not made by ci-ml"),
        (lambda p: p.rmdir() or p.write_text("file"), "is a file"),
        (lambda p: outdir.claim(p, "baseline"), "another kind of ci-ml output"),
    ],
)
def test_claim_refuses_what_is_not_its_own(tmp_path: Path, setup, words: str) -> None:
    target = tmp_path / "t"
    target.mkdir()
    setup(target)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(UsageError, match=words):
        outdir.claim(target, "build")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_forged_stamp_of_another_shape_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / outdir.STAMP).write_text('["ci-ml"]')
    assert not outdir.is_ours(tmp_path)


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    outdir.claim(tmp_path, "build")
    with (
        outdir.locked(tmp_path),
        pytest.raises(UsageError, match="another ci-ml command is using"),
        outdir.locked(tmp_path),
    ):
        pass
    with outdir.locked(tmp_path):  # released on exit
        pass


def test_put_in_place_replaces_only_its_own_folder(tmp_path: Path) -> None:
    new = outdir.fresh_sibling(tmp_path / "into")
    (new / "a.txt").write_text("1")
    outdir.put_in_place(new, tmp_path / "into", "baseline", "--into")
    assert (tmp_path / "into" / "a.txt").read_text() == "1"
    newer = outdir.fresh_sibling(tmp_path / "into")
    (newer / "b.txt").write_text("2")
    outdir.put_in_place(newer, tmp_path / "into", "baseline", "--into")
    assert sorted(p.name for p in (tmp_path / "into").iterdir()) == [outdir.STAMP, "b.txt"]
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    again = outdir.fresh_sibling(user)
    with pytest.raises(UsageError, match="refusing to replace it"):
        outdir.put_in_place(again, user, "baseline", "--into")
    assert (user / "thesis.tex").read_text() == "years of work"


def test_overlaps() -> None:
    assert outdir.overlaps(Path("/a/b"), Path("/a/b"))
    assert outdir.overlaps(Path("/a"), Path("/a/b/c"))
    assert outdir.overlaps(Path("/a/b/c"), Path("/a"))
    assert not outdir.overlaps(Path("/a/b"), Path("/a/c"))
