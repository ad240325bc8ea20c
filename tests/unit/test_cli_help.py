"""`ci-ml --help` must start fast: no heavy library may be imported."""

import json
import subprocess
import sys

HEAVY = [
    "pandas",
    "sklearn",
    "onnx",
    "onnxruntime",
    "pandera",
    "skl2onnx",
    "scipy",
    "numpy",
    "requests",
    "jinja2",
    # The stage declarations --help reads import no record (pydantic) and no config (yaml).
    "pydantic",
    "yaml",
    # The Dask engine (engine: {kind: dask}) is an optional extra.
    "dask",
    "distributed",
]

PROBE = """
import contextlib, io, json, sys
from ci_ml.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r)))
"""


def loaded(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_nothing_heavy() -> None:
    assert loaded("--help") == []


def test_subcommand_help_imports_nothing_heavy() -> None:
    assert loaded("run", "--help") == []


def test_probe_would_notice_a_heavy_import() -> None:
    """Guard against a probe that cannot fail: a real command does load them."""
    assert "numpy" in loaded("schema", "infer", "--data", "examples/regression/data/diabetes.csv")


def test_usage_error_exit_code() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "ci_ml", "run", "--bogus"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr


def _commands(parser, path=()):
    """Every command of the CLI, nested ones too: (words, parser)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _commands(sub, (*path, name))


def test_every_command_has_a_description_its_exit_codes_and_q_v() -> None:
    from ci_ml.cli import build_parser
    from ci_ml.errors import EXIT_CODES

    commands = list(_commands(build_parser()))
    names = {" ".join(words) for words, _ in commands}
    assert {"run", "baseline fetch", "registry list", "schema infer", "diff"} <= names
    for words, p in commands:
        name = " ".join(words)
        assert p.description and len(p.description) > 15, name
        text = p.format_help()
        assert "exit codes:" in text, name
        for code in EXIT_CODES:
            assert f" {code}  " in text.split("exit codes:", 1)[1], (name, code)
        runs = p.get_default("handler")
        if runs:  # a command, not a group of them
            assert "-q, --quiet" in text and "-v, --verbose" in text, name


def test_a_closed_output_stops_quietly_with_its_exit_code() -> None:
    """Whatever the command, a reader that went away before it wrote (`| head`) is
    exit 141 with nothing on stderr, never a traceback."""
    import os

    from ci_ml.errors import EXIT_OUTPUT_CLOSED

    # argparse writes --help itself and ignores a failed write (exit 0, nothing lost
    # that anyone reads); every output of ci-ml's own is exit 141.
    cases = {("--help",): 0, ("run", "--help"): 0, ("diff", FIXTURE, FIXTURE): EXIT_OUTPUT_CLOSED}
    cases[("diff", "--json", FIXTURE, FIXTURE)] = EXIT_OUTPUT_CLOSED
    for args, code in cases.items():
        read, write = os.pipe()
        os.close(read)  # the reader is gone before ci-ml writes a byte
        r = subprocess.run(
            [sys.executable, "-m", "ci_ml", *args], stdout=write, stderr=subprocess.PIPE, text=True
        )
        os.close(write)
        assert (r.returncode, r.stderr) == (code, ""), args


FIXTURE = "tests/fixtures/baseline-0.1.0"
