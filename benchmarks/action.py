"""The action path: the real workflow template (workflows/ml-pull-request.yml)
and the real action.yml, run by act in host mode against the fake GitHub API,
as tests/e2e does (tests/e2e/act_harness.py: make_repo, run_act, copy_action,
and the stubs for setup-python and upload-artifact).

Setup (once per size × format, not timed): a git repository holding the
project's config and schema (the data stay in the cache and are named by
absolute path, so act's checkout copies a few kilobytes, as every contender
reads the same files), a fake GitHub server of its own, the baseline build
published to it as release model-v1 with `ci-ml publish`, and the pull request.

Timed (`python -m benchmarks.action SPEC`, a fresh process per run): one act
run of the pull-request workflow; the job installs ci-ml into a fresh venv with
uv, plans, runs `ci-ml run --baseline release` (which downloads model-v1 from
the fake), comments on the PR, and uploads the build. The step times come from
act's JSON log; `_build/timings.json` and `train.json` from the uploaded build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.data import ROOT, Project, ci_ml_cmd, clean_env

E2E = ROOT / "tests" / "e2e"
WORKFLOW = "ml-pull-request.yml"
TOKEN = "ghs_bench_write_token_0123456789"
PR = 7


def _harness():
    if str(E2E) not in sys.path:
        sys.path.insert(0, str(E2E))
    import act_harness

    return act_harness


class FakeServer:
    """The fake GitHub API (python -m tests.fake_github) as a process of ours."""

    def __init__(self, folder: Path, seed: dict):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "seed.json").write_text(json.dumps(seed))
        port_file = folder / "port"
        port_file.unlink(missing_ok=True)
        self.log = (folder / "server.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_github", "--port-file", str(port_file),
             "--seed", str(folder / "seed.json"), "--state-file", str(folder / "state.json")],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=clean_env(),
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the fake GitHub did not start; see {folder / 'server.log'}")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def setup(project: Project, warm: bool = False) -> tuple[FakeServer, Path]:
    """Repository, fake server with the baseline release and the PR; returns the
    server (stop it after the runs) and the spec file the timed runs read. `warm`:
    the runs share one actions/cache folder (else each run has an empty one)."""
    h = _harness()
    work = project.folder / "act"
    src = work / "project"
    src.mkdir(parents=True)
    for name in ("ci-ml.yaml", "schema.yaml"):
        (src / name).write_bytes((project.folder / name).read_bytes())
    workflow = ROOT / "workflows" / WORKFLOW
    repo = h.make_repo(work / "repo", src, [workflow])
    main = h.git(repo, "rev-parse", "HEAD")
    # The PR is a commit of its own: a build never compares with a release made for
    # its own commit (that is a re-run on main, which compares with the model before).
    h.git(repo, "commit", "--allow-empty", "-q", "-m", "the pull request")
    head = h.git(repo, "rev-parse", "HEAD")
    fake = FakeServer(
        work / "fake",
        {
            "repos": [h.REPO_SLUG],
            "tokens": {TOKEN: {"login": "github-actions[bot]", "type": "Bot"}},
            "pulls": [{"repo": h.REPO_SLUG, "number": PR, "head_sha": head}],
        },
    )
    env = {
        **clean_env(),
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": h.REPO_SLUG,
        "GITHUB_API_URL": fake.url,
        "GITHUB_SHA": main,
    }
    r = subprocess.run(
        ci_ml_cmd("publish", "--config", str(project.baseline_config),
                  "--out", str(project.baseline), "--tag", "model-v1"),
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    if r.returncode != 0:
        fake.stop()
        raise SystemExit(f"publishing the baseline failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    action = h.copy_action(work / "ci-ml-action")
    wf = repo / ".github" / "workflows" / WORKFLOW
    local = {ref: str(action) for ref in h.own_action_refs([wf])}
    local.update({ref: str(p) for ref, p in h.remote_stub_refs([wf]).items()})
    payload = {
        "number": PR,
        "action": "synchronize",
        "pull_request": {
            "number": PR,
            "head": {"sha": head, "ref": f"pr-{PR}", "repo": {"full_name": h.REPO_SLUG}},
            "base": {"ref": "main", "repo": {"full_name": h.REPO_SLUG}},
        },
        "repository": {"full_name": h.REPO_SLUG, "default_branch": "main"},
    }
    spec = work / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "repo": str(repo),
                "workflow": str(wf),
                "cache_dir": str(work / "act-cache"),
                "actions_cache": str(work / "actions-cache") if warm else None,
                "local_repositories": local,
                "payload": payload,
                "api_url": fake.url,
                "token": TOKEN,
            }
        )
    )
    return fake, spec


class _StampingSubprocess:
    """Stands in for the `subprocess` module inside act_harness for one call: runs act
    with its stdout read line by line, and stamps every JSON line with the seconds
    since the start at which it arrived (`_t`). act's own `time` field has whole
    seconds only; act writes a step's lines as the step runs, and its result line
    when it ends."""

    DEVNULL = subprocess.DEVNULL
    TimeoutExpired = subprocess.TimeoutExpired

    @staticmethod
    def run(cmd, *, env=None, timeout=None, **kwargs):  # noqa: ANN001, ANN205
        if kwargs.get("check"):  # git, not act
            return subprocess.run(cmd, env=env, timeout=timeout, **kwargs)
        t0 = time.perf_counter()
        with open(os.devnull, "rb") as devnull:
            proc = subprocess.Popen(
                cmd, env=env, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            errors: list[str] = []
            reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()))
            reader.start()
            lines = []
            for line in proc.stdout:
                stamp = time.perf_counter() - t0
                try:
                    entry = json.loads(line)
                    entry["_t"] = stamp
                    line = json.dumps(entry) + "\n"
                except ValueError:
                    pass
                lines.append(line)
            proc.wait(timeout=timeout)
            reader.join()
        return subprocess.CompletedProcess(cmd, proc.returncode, "".join(lines), "".join(errors))


def step_seconds(entries: list[dict]) -> dict[str, float]:
    """'a/b' step path -> seconds from its first to its last line in act's log (Main stage),
    timed by arrival (`_t`)."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for e in entries:
        ids = e.get("stepID")
        t = e.get("_t")
        if not ids or t is None or e.get("stage") not in (None, "Main"):
            continue
        key = "/".join(ids)
        first.setdefault(key, t)
        last[key] = t
    return {k: round(last[k] - first[k], 4) for k in first}


# The workflow's steps around the action that move ci-ml's installed environment
# (actions/cache stand-ins): part of installing, reported apart like the install.
CACHE_STEPS = ("Restore ci-ml's install", "Save ci-ml's install")


def named_seconds(entries: list[dict], names: tuple[str, ...]) -> float:
    """Seconds from the first to the last line of each step named in `names`, summed."""
    spans: dict[str, list[float]] = {}
    for e in entries:
        t = e.get("_t")
        if e.get("step") in names and t is not None and e.get("stage") in (None, "Main"):
            spans.setdefault(e["step"], []).append(t)
    return round(sum(max(ts) - min(ts) for ts in spans.values()), 4)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    artifacts = Path(sys.argv[2])
    h = _harness()
    h.subprocess = _StampingSubprocess  # only this process, only for the run below
    run = h.run_act(
        Path(spec["repo"]),
        "pull_request",
        Path(spec["workflow"]),
        cache_dir=Path(spec["cache_dir"]),
        local_repositories={k: Path(v) for k, v in spec["local_repositories"].items()},
        payload=spec["payload"],
        env={
            "GITHUB_API_URL": spec["api_url"],
            "CI_ML_E2E_ARTIFACTS": str(artifacts),
            # Shared by the runs (warm: they restore what the warm-up saved), else an
            # empty cache per run: every run installs (timed apart), as a cold runner does.
            "CI_ML_E2E_CACHE": spec.get("actions_cache") or str(artifacts / "actions-cache"),
        },
        secrets={"GITHUB_TOKEN": spec["token"]},
        timeout=3600,
    )
    build = artifacts / "ci-ml-build" / "_build"
    stamps = [e["_t"] for e in run.entries if e.get("stepID") and "_t" in e]
    result = {
        # act's own work before the first step and after the last (set up and complete job).
        "before_steps": round(min(stamps), 4) if stamps else None,
        "after_steps": round(run.seconds - max(stamps), 4) if stamps else None,
        "succeeded": run.succeeded,
        "act_seconds": run.seconds,
        "steps": step_seconds(run.entries),
        "cache_steps": named_seconds(run.entries, CACHE_STEPS),
        "step_results": run.step_results(),
        "timings": json.loads((build / "timings.json").read_text())
        if (build / "timings.json").is_file()
        else None,
        "fit": json.loads((build / "train.json").read_text())["fit_seconds"]
        if (build / "train.json").is_file()
        else None,
        "verdict": run.outputs("ci-ml").get("verdict"),
    }
    (artifacts / "act-log.jsonl").write_text("\n".join(json.dumps(e) for e in run.entries))
    if not run.succeeded:
        sys.stderr.write(run.explain())
    print(json.dumps(result))
    sys.exit(0 if run.succeeded else 1)


if __name__ == "__main__":
    main()
