"""Running one contender in a fresh subprocess and measuring it.

Wall time is `time.perf_counter()` around the child, from spawn to reaping.
CPU time and peak memory come from `os.wait4`, which returns the rusage of that
one child: user + system CPU of the child and of every descendant it waited
for, and `ru_maxrss`, the peak resident set of the largest single process in
that tree (Linux reports it in KiB). So for `ci-ml run` and the scripts it is
their own peak; for the action under act it is the largest process of the job
(ci-ml run), not the sum of act and the processes it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_rss_mib: float
    returncode: int
    stdout: str
    stderr: str
    load_before: float
    load_after: float


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def run_measured(
    cmd: list[str], *, env: dict[str, str], cwd: Path, logs: Path, timeout: float
) -> Measured:
    """Run `cmd`, its output into files under `logs` (no pipes to drain), and reap it
    with wait4 to get its own rusage. The child leads a process group of its own,
    which a timeout kills as a whole."""
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / "stdout.txt", logs / "stderr.txt"
    load_before = loadavg()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        timer = threading.Timer(timeout, lambda: _kill_group(proc.pid))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
        load_before=load_before,
        load_after=loadavg(),
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
