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
