"""Two commands on one --out: the second is refused, never mixed in."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

# Real processes: the full run only.
pytestmark = pytest.mark.slow


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_it(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("mixed-tabular")
    model = project / "model.py"
    # A factory that takes its time, so the first run is still building.
    model.write_text(
        model.read_text().replace(
            "def build_model(C: float = 1.0) -> Pipeline:\n",
            "def build_model(C: float = 1.0) -> Pipeline:\n    import time\n\n    time.sleep(4)\n",
        )
    )
    out = tmp_path / "o"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_ml",
            "run",
            "--config",
            str(project / "ci-ml.yaml"),
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # the first run holds the lock once _build/ exists
            if (out / "_build").is_dir() or first.poll() is not None:
                break
            time.sleep(0.05)
        second = run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out))
    finally:
        stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert second.returncode == 2, second.stderr
    assert "another ci-ml command is using --out" in second.stderr
    assert "Traceback" not in second.stderr
