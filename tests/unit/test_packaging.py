"""The conventions a stranger expects of a Python package: a licence file that
ships, one version, complete metadata, a changelog with a policy, pre-commit
and Dependabot configs that cover what the project pins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

import ci_ml
from ci_ml import install

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]


def test_the_licence_is_the_apache_2_text_and_ships_in_the_wheel() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    # PEP 639: a licence expression and a licence classifier do not go together.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]


def test_the_build_needs_a_setuptools_that_reads_the_spdx_licence() -> None:
    (req,) = (Requirement(r) for r in PYPROJECT["build-system"]["requires"])
    assert req.name == "setuptools"
    assert Version("76.1") not in req.specifier and Version("77.0") in req.specifier


def test_the_version_has_one_source() -> None:
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "ci_ml.__version__"}
    assert install.version_of(ROOT) == ci_ml.__version__
    literal = re.compile(rf"""["']{re.escape(ci_ml.__version__)}["']""")
    written = [
        str(p.relative_to(ROOT))
        for p in [
            *ROOT.joinpath("ci_ml").rglob("*.py"),
            ROOT / "pyproject.toml",
            ROOT / "action.yml",
        ]
        if literal.search(p.read_text())
    ]
    assert written == ["ci_ml/__init__.py"]


def test_the_metadata_names_every_python_the_lock_covers() -> None:
    lowest = min(install.PYTHONS)
    assert PROJECT["requires-python"] == f">={lowest[0]}.{lowest[1]}"
    for major, minor in install.PYTHONS:
        assert f"Programming Language :: Python :: {major}.{minor}" in PROJECT["classifiers"]
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert {"Homepage", "Repository", "Issues", "Changelog", "Documentation"} <= set(
        PROJECT["urls"]
    )
    assert len(PROJECT["keywords"]) >= 5


def test_py_typed_ships() -> None:
    assert (ROOT / "ci_ml" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["ci_ml"]


def test_the_changelog_has_this_version_and_the_compatibility_policy() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert "Unreleased" in headings and ci_ml.__version__ in headings
    policy = text.split("## Versioning and compatibility policy", 1)[1].split("\n## ", 1)[0]
    for subject in ("Configs", "Artifacts", "Baselines", "schema_version"):
        assert subject in policy, subject


def test_pre_commit_runs_ruff_the_import_contracts_and_the_type_checker() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {h["id"]: h for repo in config["repos"] for h in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "import-linter", "mypy"} <= set(hooks)
    assert hooks["import-linter"]["entry"] == "lint-imports"
    assert hooks["mypy"]["entry"] == "mypy"
    ruff = next(r for r in config["repos"] if "ruff-pre-commit" in r["repo"])
    assert re.fullmatch(r"v\d+\.\d+\.\d+", ruff["rev"])


def test_dependabot_watches_every_folder_of_pinned_actions_and_the_python_ranges() -> None:
    path = ROOT / ".github" / "dependabot.yml"
    subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.dependabot", path],
        check=True,
        capture_output=True,
    )
    updates = yaml.safe_load(path.read_text())["updates"]
    actions = next(u for u in updates if u["package-ecosystem"] == "github-actions")
    # Dependabot reads "/" as .github/workflows (and the root action.yml).
    watched = {ROOT / ".github" / "workflows" if d == "/" else ROOT / d.strip("/")
               for d in actions["directories"]}  # fmt: skip
    pinning = {
        p.parent
        for p in [*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob("workflows/*.yml")]
        if re.search(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}", p.read_text())
    }
    assert pinning and pinning <= watched
    assert any(u["package-ecosystem"] == "pip" and u["directory"] == "/" for u in updates)
    # The lock itself: a scheduled workflow regenerates it, checks it, proposes it.
    lock = yaml.safe_load((ROOT / ".github" / "workflows" / "lock.yml").read_text())
    steps = "\n".join(s.get("run", "") for s in lock["jobs"]["update"]["steps"])
    assert "schedule" in lock[True] and "scripts/update-lock.sh --upgrade" in steps
    assert "tests/unit/test_lock.py" in steps and "gh pr create" in steps
