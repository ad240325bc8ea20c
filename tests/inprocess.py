"""The CLI run inside the test process: what `ci-ml ARGS` does, with an explicit
environment, working directory and captured output, at no interpreter start and
no imports. tests/conftest.py::run_cli uses it unless a test asks for a process
(`process=True`: exit codes and tracebacks at the top level, locks between
processes, hash seeds, signals)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Modules a run may import that belong to the interpreter, the installed libraries
# or ci-ml itself stay loaded; anything else (a user's pytest suite or conftest in
# a temporary project) is forgotten after the run, as a new process would.
_KEEP = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
              sysconfig.get_paths()["platlib"], sys.prefix, sys.base_prefix, ROOT / "ci_ml"}
)  # fmt: skip


@contextmanager
def _process_state(env: dict[str, str], cwd: Path | None) -> Iterator[None]:
    """os.environ, the working directory and the bytecode settings as a child would
    have them, restored after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_bytecode = sys.dont_write_bytecode, sys.pycache_prefix
    os.environ.clear()
    os.environ.update(env)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    sys.pycache_prefix = env.get("PYTHONPYCACHEPREFIX")
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        sys.dont_write_bytecode, sys.pycache_prefix = saved_bytecode
        os.environ.clear()
        os.environ.update(saved_env)


def _forget_foreign_modules(before: set[str]) -> None:
    """Drop modules the run imported from outside the installed code (a project's
    own test files and conftests): the next run may bring a different file under
    the same name, which pytest would refuse as an import mismatch."""
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and not str(Path(file).resolve()).startswith(_KEEP):
            del sys.modules[name]


def run_in_process(
    args: Sequence[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`ci-ml ARGS` through ci_ml.cli.main; the result reads as subprocess.run's."""
    from ci_ml.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = set(sys.modules)
    with _process_state(env, cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's usage errors and --help exit this way
            if isinstance(e.code, str):
                print(e.code, file=sys.stderr)
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    _forget_foreign_modules(before)
    return subprocess.CompletedProcess(
        ["ci-ml", *args], code, stdout=out.getvalue(), stderr=err.getvalue()
    )
