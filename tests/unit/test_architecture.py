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


def _top_level() -> set[str]:
    return {
        f"ci_ml.{p.stem}" if p.is_file() else f"ci_ml.{p.name}"
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file()) and p.name != "__pycache__"
    } - {"ci_ml.__init__", "ci_ml.__main__"}


def test_every_module_has_its_layer() -> None:
    """A new top-level module must join the layers contract, or its imports would
    point anywhere unnoticed."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(
        c for c in config["contracts"] if c["name"] == "the layers of ci_ml, top to bottom"
    )
    listed = {m.strip() for layer in contract["layers"] for m in layer.replace(":", "|").split("|")}
    assert listed == _top_level()


def _import_graph(exclude_type_checking: bool) -> dict[str, set[str]]:
    import grimp

    g = grimp.build_graph(
        "ci_ml",
        include_external_packages=False,
        exclude_type_checking_imports=exclude_type_checking,
    )
    return {m: set(g.find_modules_directly_imported_by(m)) for m in g.modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of a graph with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_module_graph_has_no_cycle() -> None:
    """Module by module, TYPE_CHECKING imports included: no circle of imports."""
    assert cycles(_import_graph(exclude_type_checking=False)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# Modules `ci-ml --help` imports (the CLI builds its subcommands from the stages'
# declarations): they import ci-ml's heavier modules inside functions, to stay light.
LIGHT = ("ci_ml/cli/", "ci_ml/stages/", "ci_ml/stage.py", "ci_ml/chain.py")


def function_level_imports(source: str) -> list[int]:
    """Lines of `from ci_ml… import` / `import ci_ml…` inside a function."""
    lines = []
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith("ci_ml")
                    or isinstance(node, ast.Import)
                    and any(a.name.startswith("ci_ml") for a in node.names)
                ):
                    lines.append(node.lineno)
    return sorted(set(lines))


def test_ci_mls_own_modules_are_imported_at_the_top_outside_the_light_ones() -> None:
    """A function-level import of ci-ml's own module hides an import cycle, unless it
    keeps `ci-ml --help` light (the CLI and the stage declarations), which the
    modules that may do it say in their docstring."""
    offenders = {}
    for p in _modules():
        rel = str(p.relative_to(ROOT))
        if rel.startswith(LIGHT):
            continue
        found = function_level_imports(p.read_text())
        if found:
            offenders[rel] = found
    assert offenders == {}


def test_the_function_level_import_rule_can_fail() -> None:
    assert function_level_imports("def f():\n    from ci_ml.data import x\n") == [2]
    assert function_level_imports("from ci_ml.data import x\ndef f():\n    import numpy\n") == []


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
