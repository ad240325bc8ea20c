"""The docs site: generated pages up to date with their sources (the config
models, action.yml, the exit codes), holding every field, input, output and
code; `mkdocs build --strict` with no warning and no broken link or anchor."""

from __future__ import annotations

import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from ci_ml.config import Config
from ci_ml.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import gen_docs  # noqa: E402

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def test_the_generated_files_are_up_to_date() -> None:
    """Fails after a change to the config models, action.yml or the exit codes until
    `python scripts/gen_docs.py` has run."""
    assert [p.relative_to(ROOT).as_posix() for p in gen_docs.stale()] == []


def _fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key of ci-ml.yaml, from the models (not from the schema the page uses)."""
    keys = []
    for name, field in model.model_fields.items():
        if name in ("base_dir", "source"):
            continue
        key = f"{prefix}{field.alias or name}"
        keys.append(key)
        # X, X | None, list[X] or list[X] | None: X's keys under this one.
        options = typing.get_args(field.annotation) if typing.get_origin(field.annotation) in (
            typing.Union, getattr(__import__("types"), "UnionType", typing.Union)
        ) else (field.annotation,)  # fmt: skip
        for option in options:
            is_list = typing.get_origin(option) is list
            inner = typing.get_args(option)[0] if is_list else option
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                keys += _fields(inner, f"{key}{'[].' if is_list else '.'}")
    return keys


def test_the_config_reference_has_a_row_for_every_key() -> None:
    page = (ROOT / "docs" / "reference" / "config.md").read_text()
    keys = _fields(Config)
    assert len(keys) > 80
    for key in keys:
        assert f"| `{key}` |" in page, key


def test_the_action_reference_has_every_input_and_output() -> None:
    page = (ROOT / "docs" / "reference" / "action.md").read_text()
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"| `{name}` |" in page, name


def test_the_exit_code_page_has_every_code() -> None:
    page = (ROOT / "docs" / "reference" / "exit-codes.md").read_text()
    for code in EXIT_CODES:
        assert f"\n| {code} |" in page, code


def _build(config: Path) -> subprocess.CompletedProcess[str]:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    return subprocess.run(
        [str(mkdocs), "build", "--strict", "-f", str(config), "-d", str(config.parent / "site")],
        capture_output=True,
        text=True,
        env={"PATH": str(mkdocs.parent), "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.mark.slow
def test_the_site_builds_strictly_and_a_broken_link_would_fail_it(tmp_path: Path) -> None:
    r = _build(ROOT / "mkdocs.yml")
    shutil.rmtree(ROOT / "site", ignore_errors=True)
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    # The same site with one broken anchor: the check is live.
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    with open(copy / "docs" / "troubleshooting.md", "a") as f:
        f.write("\n[broken](guide/build.md#no-such-heading)\n")
    r = _build(copy / "mkdocs.yml")
    assert r.returncode != 0 and "no-such-heading" in r.stderr
