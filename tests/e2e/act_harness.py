"""Run workflows with act in host mode (no Docker), offline, against a fake GitHub.

What act does here, found by trying (act 0.2.x):
- `-P ubuntu-latest=-self-hosted` runs steps on this machine; the workspace and
  RUNNER_TEMP live under `--action-cache-path` and are deleted after the job.
- `actions/checkout` (of the repository itself) is never fetched: act copies the
  local repository into the workspace instead (honouring .gitignore).
- every other remote action is mapped to a local directory with
  `--local-repository owner/name@ref=DIR`; ci-ml itself becomes a copy of this
  checkout, and setup-python/upload-artifact/download-artifact become the stubs
  in tests/e2e/stubs. Nothing is cloned, so no network is needed.
- `--env GITHUB_API_URL=...` sets both the variable and `${{ github.api_url }}`.
- `-s GITHUB_TOKEN=...` becomes `${{ github.token }}` (masked as ***).
- `-e event.json` is the payload; a pull_request payload needs a top-level
  `number` for act to build GITHUB_REF (refs/pull/N/merge).
- GITHUB_REPOSITORY comes from the `origin` remote's URL; GITHUB_SHA from HEAD.
- `--defaultbranch main` fills repository.default_branch when there is no payload.
- `--no-cache-server` keeps act from starting its cache server.
- with stdin closed and -P given, act asks nothing. It also reads flags from
  ~/.actrc and $XDG_CONFIG_HOME/act/actrc; the harness empties the second
  (a developer with a ~/.actrc should keep it free of -P/--env lines).
- `--json` logs one JSON object a line: step results, `set-output` and `summary`
  commands (the job summary is only in the log, its file is gone with the job).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from e2e_support import ROOT, tool

STUBS = Path(__file__).parent / "stubs"
# The paths of this checkout that make up the action (what `uses:` installs).
ACTION_FILES = (
    "action.yml",
    "pyproject.toml",
    "requirements.lock",
    "README.md",
    "LICENSE",
    "ci_ml",
)
REPO_SLUG = "octo/ml"


@dataclass
class ActRun:
    """One `act` invocation: its exit code and its parsed JSON log."""

    returncode: int
    entries: list[dict]
    stderr: str
    seconds: float
    cmd: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        lines = (str(e.get("msg", "")).rstrip("\n") for e in self.entries)
        return "\n".join(lines) + "\n" + self.stderr

    @property
    def job_result(self) -> str | None:
        results = [e["jobResult"] for e in self.entries if "jobResult" in e]
        return results[-1] if results else None

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and self.job_result == "success"

    def summary(self) -> str:
        """The job summary: what the steps appended to $GITHUB_STEP_SUMMARY."""
        # act reports a composite action's summary under the inner step, and
        # sometimes again under the `uses:` step: skip such repeats.
        entries = [e for e in self.entries if e.get("command") == "summary"]
        inner = {e["stepID"][0] for e in entries if len(e.get("stepID") or []) > 1}
        return "".join(
            e.get("content", "")
            for e in entries
            if len(e.get("stepID") or []) > 1 or (e.get("stepID") or [""])[0] not in inner
        )

    def outputs(self, step_id: str) -> dict[str, str]:
        """Outputs of a top-level step (for a `uses:` step: the action's outputs)."""
        out: dict[str, str] = {}
        for e in self.entries:
            if e.get("command") == "set-output" and (e.get("stepID") or []) == [step_id]:
                out[e["name"]] = e.get("arg", "")
        return out

    def step_results(self) -> dict[str, str]:
        """'a/b' step-id path -> success/failure/skipped, for every step act ran."""
        return {
            "/".join(e["stepID"]): e["stepResult"]
            for e in self.entries
            if "stepResult" in e and e.get("stepID") and e.get("stage") == "Main"
        }

    def explain(self) -> str:
        """For assertion messages: the command and the log's tail."""
        return f"$ {' '.join(self.cmd)}\nexit {self.returncode}, job {self.job_result}\n{self.log[-6000:]}"


def copy_action(dest: Path) -> Path:
    """A clean copy of the action (this checkout's action.yml and package)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ACTION_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src,
                dest / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
            )
        elif src.is_file():
            shutil.copy2(src, dest / name)
    if not (dest / "README.md").exists():  # pyproject's readme must exist to build
        (dest / "README.md").write_text("ci-ml\n")
    return dest


def own_action_refs(workflows: list[Path]) -> set[str]:
    """Every `ci-ml/ci-ml@ref` the workflows name."""
    refs: set[str] = set()
    for wf in workflows:
        refs.update(re.findall(r"uses:\s*(ci-ml/ci-ml@[\w.-]+)", wf.read_text()))
    return refs


def remote_stub_refs(workflows: list[Path]) -> dict[str, Path]:
    """`actions/<name>@sha` -> its stub, for every such action the workflows name
    (`actions/cache/restore@sha` is a folder of `actions/cache@sha`)."""
    mapping = {}
    for wf in workflows:
        for owner_name, ref in re.findall(
            r"uses:\s*(actions/[\w-]+)(?:/[\w/-]+)?@([0-9a-f]{40}|v[\w.]+)", wf.read_text()
        ):
            name = owner_name.split("/", 1)[1]
            if name == "checkout":
                continue  # act copies the repository itself
            stub = STUBS / name
            if not stub.is_dir():
                raise AssertionError(f"{wf.name} uses {owner_name}; add a stub in {STUBS}")
            mapping[f"{owner_name}@{ref}"] = stub
    return mapping


def git(repo: Path, *args: str) -> str:
    env = {
        **_clean_env(),
        "GIT_AUTHOR_NAME": "e2e",
        "GIT_AUTHOR_EMAIL": "e2e@example.invalid",
        "GIT_COMMITTER_NAME": "e2e",
        "GIT_COMMITTER_EMAIL": "e2e@example.invalid",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def make_repo(path: Path, project: Path, workflows: list[Path]) -> Path:
    """A git repository holding the project and the workflows, on branch main."""
    shutil.copytree(project, path, ignore=shutil.ignore_patterns(".ci-ml", "__pycache__"))
    wf_dir = path / ".github" / "workflows"
    wf_dir.mkdir(parents=True, exist_ok=True)
    for wf in workflows:
        shutil.copy2(wf, wf_dir / wf.name)
    (path / ".gitignore").write_text(".ci-ml/\n__pycache__/\n")
    git(path, "init", "-q", "-b", "main")
    # act reads GITHUB_REPOSITORY from this URL; nothing ever fetches from it.
    git(path, "remote", "add", "origin", f"https://github.com/{REPO_SLUG}.git")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def _clean_env(runner_bin: Path | None = None) -> dict[str, str]:
    """This process's environment without anything that belongs to a real runner."""
    drop = ("GITHUB_", "RUNNER_", "ACTIONS_", "ACT_", "CI_ML_", "INPUT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "ACT"}
    # The action's venv writes its bytecode once (under the tests' cache prefix)
    # instead of recompiling some 1,600 modules in every process of every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "ci-ml-tests-pycache"))
    # The venv's bin holds uv (the action's fast path) and python3.
    path = [str(Path(sys.executable).parent), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(([str(runner_bin)] if runner_bin else []) + path)
    return env


def runner_bin(folder: Path) -> Path:
    """What the runner image has on PATH and this host may not: python3.12 (the
    action's default interpreter, and the templates' setup-python version), here
    the Python running the tests."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "python3.12"
    if not link.exists():
        link.symlink_to(sys.executable)
    return folder


def run_act(
    repo: Path,
    event: str,
    workflow: Path,
    *,
    cache_dir: Path,
    local_repositories: dict[str, Path],
    payload: dict | None = None,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    timeout: float = 600,
) -> ActRun:
    cmd = [
        tool("act"),
        event,
        "-C",
        str(repo),
        "-W",
        str(workflow),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--json",
        "--no-cache-server",
        "--action-offline-mode",
        "--action-cache-path",
        str(cache_dir),
        "--defaultbranch",
        "main",
    ]
    if payload is not None:
        event_file = cache_dir.parent / f"event-{event}-{time.monotonic_ns()}.json"
        event_file.write_text(json.dumps(payload))
        cmd += ["-e", str(event_file)]
    for k, v in (env or {}).items():
        cmd += ["--env", f"{k}={v}"]
    for k, v in (secrets or {}).items():
        cmd += ["-s", f"{k}={v}"]
    for ref, path in local_repositories.items():
        cmd += ["--local-repository", f"{ref}={path}"]
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    # A developer's act config must not change the runs (see the module docstring).
    act_env = {
        **_clean_env(runner_bin(cache_dir / "runner-bin")),
        "XDG_CONFIG_HOME": str(cache_dir / "xdg-config"),
    }
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=act_env, stdin=subprocess.DEVNULL
    )
    entries = []
    extra = []
    for line in proc.stdout.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            extra.append(line)
    stderr = "\n".join(extra) + proc.stderr
    return ActRun(proc.returncode, entries, stderr, time.monotonic() - started, cmd)
