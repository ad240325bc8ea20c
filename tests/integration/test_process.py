"""What only a real process shows. The other tests run the CLI in the test process
(tests/inprocess.py); these start `python -m ci_ml` as a user's shell does: a build
end to end, the exit status and the message of an unexpected error at the top level,
and Ctrl-C in the middle of a build. (Elsewhere in processes: the folder lock between
two processes, test_concurrency.py; hash seeds, unit/test_determinism.py; the import
weight of --help, unit/test_cli_help.py; a user's pytest suite, test_model_tests.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, child_python_env, cli_env, run_cli

# Real processes: the full run only.
pytestmark = pytest.mark.slow


def test_a_build_in_a_process_writes_every_output_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = str(EXAMPLES / "regression" / "ci-ml.yaml")
    r = run_cli("run", "--config", config, "--out", str(out), process=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "comparison.json").read_text())["verdict"] == "no-baseline"
    assert (out / "report.md").is_file() and (out / "model.onnx").is_file()


def test_an_unexpected_error_is_exit_1_with_the_traceback_and_a_request_to_report_it(
    tmp_path: Path,
) -> None:
    probe = (
        "import sys, ci_ml.cli as cli\n"
        "def broken(argv, rt):\n"
        "    raise RuntimeError('planted by the test')\n"
        "cli.main_inner = broken\n"
        "sys.exit(cli.main(['validate']))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe],
        env=child_python_env(cli_env()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 1, r.stderr
    assert "RuntimeError: planted by the test" in r.stderr
    assert "This is a bug in ci-ml: please report it" in r.stderr


def test_ctrl_c_in_a_build_exits_130_leaves_nothing_publishable_and_frees_the_folder(
    example_copy, tmp_path: Path
) -> None:
    project = example_copy("mixed-tabular")
    model = project / "model.py"
    # A factory that takes its time, so that the signal lands during training.
    model.write_text(
        model.read_text().replace(
            "def build_model(C: float = 1.0) -> Pipeline:\n",
            "def build_model(C: float = 1.0) -> Pipeline:\n    import time\n\n    time.sleep(30)\n",
        )
    )
    out = tmp_path / "o"
    args = ["run", "--config", str(project / "ci-ml.yaml"), "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ci_ml", *args],
        env=child_python_env(cli_env()),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job ignores SIGINT, and its children inherit that:
        # the build gets the default a terminal's Ctrl-C meets.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    seen = ""
    while "── ci-ml train" not in seen:  # the stage headers go to stderr as they start
        line = proc.stderr.readline()
        assert line, f"the build ended before training: {seen}"
        seen += line
    time.sleep(1)  # inside the factory's sleep
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    stderr = seen + rest
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    r = run_cli("publish", "--out", str(out), cwd=project)
    assert r.returncode == 2 and "not a complete" in r.stderr, r.stderr
    # The lock went with the process: the same folder builds again at once.
    model.write_text(model.read_text().replace("    time.sleep(30)\n", ""))
    assert run_cli(*args).returncode == 0
