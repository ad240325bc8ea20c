"""The layout's rules, checked: import contracts, one edge that reads the
environment, and functions short enough to read."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ci_ml"
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else (shutil.which(name) or name)


def test_import_contracts_hold() -> None:
    r = subprocess.run(
        [_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "broken" in r.stdout and " 0 broken" in r.stdout


def test_nothing_imports_the_cli_covers_every_module() -> None:
    """A new top-level module must join the contract, or it could import the CLI unnoticed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["name"] == "nothing imports the CLI")
    top = {
        f"ci_ml.{p.stem}" if p.is_file() else f"ci_ml.{p.name}"
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file()) and p.name != "__pycache__"
    }
    assert top - {"ci_ml.__init__", "ci_ml.__main__", "ci_ml.cli"} == set(
        contract["source_modules"]
    )


def environment_reads(source: str) -> list[int]:
    """Lines that read the process environment (os.environ, os.getenv, os.environb)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "environb", "getenv")
            or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(a.name in ("environ", "environb", "getenv") for a in node.names)
            )
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_cli_reads_the_environment() -> None:
    offenders = {
        str(p.relative_to(ROOT)): environment_reads(p.read_text())
        for p in _modules()
        if "cli" not in p.relative_to(PACKAGE).parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize(
    "snippet",
    ["import os\nx = os.environ['A']", "from os import getenv\n", "import os\nos.getenv('A')"],
)
def test_the_environment_check_can_fail(snippet: str) -> None:
    assert environment_reads(snippet)


def long_functions(source: str) -> list[tuple[str, int]]:
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


def test_no_function_is_longer_than_80_lines() -> None:
    found = {str(p.relative_to(ROOT)): long_functions(p.read_text()) for p in _modules()}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_length_check_can_fail() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
