"""The action's install, cold and warm, under a real runner (act, host mode).

A repository is made as a new user makes one (fresh data, `ci-ml init`), and
its pull-request workflow runs twice per installer, with the local
actions/cache stand-in (tests/e2e/stubs/cache): the first run finds no cached
install and installs from requirements.lock with empty package caches (every
wheel downloaded from PyPI, as on a fresh hosted runner); the second restores
the install the first saved. Reported per run: the restore step (copying the
saved folder back), the action's install step, the save step, the whole job.

    python benchmarks/bench_install.py [--installers uv,pip]

Needs the test extras (act, uv) and PyPI. Prints a Markdown table for
benchmarks/INSTALL.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from act_harness import make_repo  # noqa: E402
from scenarios import Repo, serve_fake  # noqa: E402

from tests.conftest import run_cli  # noqa: E402
from tests.fresh_data import write_churn  # noqa: E402

STEPS = {
    "restore": "Main Restore ci-ml's install",
    "install": "Main Install ci-ml",
    "save": "Main Save ci-ml's install",
}
DURATION = re.compile(r"(?:Success|Failure) - (Main [^\[]+?) \[([\dhmsµn.]+)\]")
PART = re.compile(r"([\d.]+)(h|ms|µs|ns|m|s)")
UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}


def go_duration(text: str) -> float:
    """act logs Go durations: 1m2.5s, 830.2ms, 12µs."""
    return sum(float(v) * UNIT[u] for v, u in PART.findall(text))


def step_seconds(log: str) -> dict[str, float]:
    found = {name.strip(): go_duration(d) for name, d in DURATION.findall(log)}
    return {k: found.get(v, 0.0) for k, v in STEPS.items()}


def folder_size(path: Path) -> tuple[float, float]:
    """(MB on disk, MB as a zstd tarball: about what actions/cache would move)."""
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    raw = sum(p.stat().st_size for p in files) / 1e6
    tar = subprocess.run(
        f"tar -C {path} -cf - . | zstd -q -T0 -3 | wc -c",
        shell=True,
        capture_output=True,
        text=True,
    )
    return raw, int(tar.stdout.strip() or 0) / 1e6


def project(work: Path) -> Path:
    p = write_churn(work / "project")
    r = run_cli(
        "init", "--data", "data/train.csv", "--test", "data/test.csv", "--target", "churn", cwd=p
    )
    assert r.returncode == 0, r.stderr
    return make_repo(work / "repo", p, [])


def run_pair(work: Path, fake, installer: str) -> list[tuple[str, dict[str, float], float, str]]:
    root = project(work)
    repo = Repo(root, work, fake, sorted((root / ".github" / "workflows").glob("*.yml")))
    empty = work / "empty-caches"
    env = {"UV_CACHE_DIR": str(empty / "uv"), "PIP_CACHE_DIR": str(empty / "pip")}
    if installer == "pip":  # what a hosted runner has: no uv on PATH
        bin_dir = work / "act-cache" / "runner-bin"
        env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    rows = []
    for n, label in ((31, "cold"), (31, "warm")):
        base = "main" if label == "cold" else f"pr-{n}"
        repo.env = env
        s = repo.pr(n, f"{installer} {label}", base=base, name=f"{installer}-{label}")
        assert s.run.succeeded, s.run.explain()
        restored = s.run.outputs("ci-ml").get("install-restored")
        how = "restored" if restored == "true" else ("uv" if "with uv" in s.run.log else "pip")
        rows.append((label, step_seconds(s.run.log), s.run.seconds, how))
    saved = next(repo.cache.iterdir())
    raw, packed = folder_size(saved)
    print(f"<!-- {installer}: the saved install is {raw:.0f} MB, {packed:.0f} MB as tar.zst -->")
    return rows


def main() -> None:
    # As on a hosted runner: Python writes the bytecode of what it imports into
    # the venv, so the saved install holds it (a sandbox may set this).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    ap = argparse.ArgumentParser()
    ap.add_argument("--installers", default="uv,pip")
    args = ap.parse_args()
    print(
        "| runner has | run | restore (s) | install step (s) | save (s) | job (s) | installed by |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for installer in args.installers.split(","):
        with tempfile.TemporaryDirectory(prefix=f"bench-install-{installer}-") as d:
            work = Path(d)
            fake_dir = work / "fake"
            fake_dir.mkdir()
            served = serve_fake(fake_dir)
            fake = next(served)
            try:
                for label, secs, job, how in run_pair(work, fake, installer):
                    print(
                        f"| {installer} | {label} | {secs['restore']:.1f} | {secs['install']:.1f} "
                        f"| {secs['save']:.1f} | {job:.0f} | {how} |",
                        flush=True,
                    )
            finally:
                shutil.rmtree(work / "actions-cache", ignore_errors=True)
                served.close()


if __name__ == "__main__":
    main()
