"""The wheel a release ships, installed as a user installs it: built from this
checkout, `pip install`ed (uv's pip) into a fresh venv with its dependencies,
then that venv's `ci-ml` builds an example from outside the checkout (so nothing
of the source tree can stand in for what the wheel lacks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ci_ml
from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.slow


def test_the_built_wheel_installs_in_a_fresh_venv_and_builds_an_example(tmp_path: Path) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    dist, venv = tmp_path / "dist", tmp_path / "venv"
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(dist), str(ROOT)], check=True,
                   capture_output=True, env=env)  # fmt: skip
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"ci_ml-{ci_ml.__version__}-py3-none-any.whl"
    py = venv / "bin" / "python"
    for cmd in (
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        [uv, "pip", "install", "--quiet", "--python", str(py), str(wheel)],
    ):
        subprocess.run(cmd, check=True, capture_output=True, env=env)
    project = tmp_path / "regression"
    shutil.copytree(EXAMPLES / "regression", project, ignore=shutil.ignore_patterns(".ci-ml"))
    ci_ml_bin = venv / "bin" / "ci-ml"
    r = subprocess.run([str(ci_ml_bin), "--version"], capture_output=True, text=True, env=env,
                       cwd=tmp_path)  # fmt: skip
    assert r.stdout.strip() == f"ci-ml {ci_ml.__version__}"
    r = subprocess.run([str(ci_ml_bin), "run", "-q"], capture_output=True, text=True, env=env,
                       cwd=project)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    manifest = json.loads((project / ".ci-ml" / "manifest.json").read_text())
    assert manifest["ci_ml_version"] == ci_ml.__version__
    assert (project / ".ci-ml" / "model.onnx").is_file()
    # The installed package is the wheel's, not this checkout.
    where = subprocess.run([str(py), "-c", "import ci_ml; print(ci_ml.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout
