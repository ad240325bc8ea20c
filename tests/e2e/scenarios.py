"""What the act scenarios share: the fake GitHub's test endpoints, a repository
with its workflows, and one act run's results. See act_harness for how act
runs offline, and conftest.py for the fake GitHub fixture."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml
from act_harness import (
    REPO_SLUG,
    ActRun,
    copy_action,
    git,
    own_action_refs,
    remote_stub_refs,
    run_act,
)
from e2e_support import ROOT, TEMPLATES

WRITE_TOKEN = "ghs_e2e_write_token_0123456789"
READ_ONLY_TOKEN = "ghs_e2e_fork_token_0123456789"
MARKER = "<!-- ci-ml"  # the sticky comment's hidden marker starts with this


class Fake:
    def __init__(self, url: str, proc: subprocess.Popen):
        self.url = url
        self.proc = proc

    def _call(self, method: str, path: str, body: object | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + "/_fake/" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def state(self) -> dict:
        return self._call("GET", "state")

    def seed(self, doc: dict) -> dict:
        return self._call("POST", "seed", doc)

    def failures(self) -> list:
        return self._call("GET", "failures")

    def requests(self) -> list:
        return self._call("GET", "requests")

    def comments(self, issue: int) -> list[dict]:
        return [
            c
            for c in self.state()["comments"]
            if c.get("issue_url", "").endswith(f"/issues/{issue}") or c.get("issue") == issue
        ]

    def releases(self) -> list[dict]:
        return self.state()["releases"]


def serve_fake(d: Path) -> Iterator[Fake]:
    """The fake GitHub as its own process, serving from folder d, until closed."""
    seed = d / "seed.json"
    seed.write_text(
        json.dumps(
            {
                "repos": [REPO_SLUG],
                "tokens": {
                    WRITE_TOKEN: {"login": "github-actions[bot]", "type": "Bot"},
                    READ_ONLY_TOKEN: {
                        "login": "github-actions[bot]",
                        "type": "Bot",
                        "read_only": True,
                    },
                },
            }
        )
    )
    port_file = d / "port"
    log = (d / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_github",
            "--port-file",
            str(port_file),
            "--seed",
            str(seed),
            "--state-file",
            str(d / "state.json"),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120  # a liveness bound: it loads GitHub's API description
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the fake GitHub did not start:\n{(d / 'server.log').read_text()}")
        time.sleep(0.05)
    server = Fake(f"http://127.0.0.1:{port_file.read_text().strip()}", proc)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@dataclass
class Scenario:
    """One act run and what it left: its artifacts and the commit it built."""

    run: ActRun
    artifacts: Path
    head: str


class Repo:
    """The test repository plus everything act needs to run its workflows."""

    def __init__(self, root: Path, work: Path, fake: Fake, workflows: list[Path] = TEMPLATES):
        self.root = root
        self.work = work
        self.fake = fake
        # What actions/cache saves, shared by every run on this repository.
        self.cache = work / "actions-cache"
        # More variables for every run (benchmarks/bench_install.py empties caches).
        self.env: dict[str, str] = {}
        action = copy_action(work / "ci-ml-action")
        self.local_repositories = {ref: action for ref in own_action_refs(workflows)}
        self.local_repositories.update(remote_stub_refs(workflows))

    def workflow(self, name: str) -> Path:
        return self.root / ".github" / "workflows" / name

    def head(self) -> str:
        return git(self.root, "rev-parse", "HEAD")

    def on_branch(self, branch: str, message: str, edit=None, base: str = "main") -> str:
        """Commit an optional edit on a branch of its own (made from `base`)."""
        git(self.root, "checkout", "-q", "-B", branch, base)
        if edit is not None:
            edit(self.root)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def act(
        self,
        name: str,
        event: str,
        workflow: str,
        *,
        payload: dict | None = None,
        token: str = WRITE_TOKEN,
        artifacts: Path | None = None,
    ) -> Scenario:
        """Run a workflow at the current commit; artifacts go to a folder of the run's own."""
        artifacts = artifacts or self.work / f"artifacts-{name}"
        artifacts.mkdir(exist_ok=True)
        head = self.head()
        run = run_act(
            self.root,
            event,
            self.workflow(workflow),
            cache_dir=self.work / "act-cache",
            local_repositories=self.local_repositories,
            payload=payload,
            env={
                "GITHUB_API_URL": self.fake.url,
                "CI_ML_E2E_ARTIFACTS": str(artifacts),
                "CI_ML_E2E_CACHE": str(self.cache),
                **self.env,
            },
            secrets={"GITHUB_TOKEN": token},
        )
        git(self.root, "checkout", "-q", "main")
        print(f"act {name} ({event} {workflow}): exit {run.returncode}, {run.seconds:.1f}s")
        return Scenario(run, artifacts, head)

    def push_to_main(self) -> Scenario:
        """The release workflow on a push of the current commit to main."""
        payload = {
            "ref": "refs/heads/main",
            "after": self.head(),
            "repository": {"full_name": REPO_SLUG, "default_branch": "main"},
        }
        return self.act("release", "push", "ml-release.yml", payload=payload)

    def pr_payload(self, number: int, *, fork: bool = False) -> dict:
        head_repo = "fork-owner/ml" if fork else REPO_SLUG
        sha = self.head()
        self.fake.seed({"pulls": [{"repo": REPO_SLUG, "number": number, "head_sha": sha}]})
        return {
            "number": number,
            "action": "synchronize",
            "pull_request": {
                "number": number,
                "head": {"sha": sha, "ref": f"pr-{number}", "repo": {"full_name": head_repo}},
                "base": {"ref": "main", "repo": {"full_name": REPO_SLUG}},
            },
            "repository": {"full_name": REPO_SLUG, "default_branch": "main"},
        }

    def pr(
        self,
        number: int,
        message: str,
        edit=None,
        *,
        fork: bool = False,
        base: str = "main",
        token: str = WRITE_TOKEN,
        name: str | None = None,
    ) -> Scenario:
        self.on_branch(f"pr-{number}", message, edit, base=base)
        payload = self.pr_payload(number, fork=fork)
        return self.act(
            name or f"pr-{number}",
            "pull_request",
            "ml-pull-request.yml",
            payload=payload,
            token=token,
        )

    def workflow_run(
        self, name: str, source: Scenario, number: int, artifacts: Path | None = None
    ) -> Scenario:
        """The fork-comment workflow, triggered by the PR run `source`."""
        payload = {
            "action": "completed",
            "workflow_run": {
                "id": 4242 + len(name),
                "event": "pull_request",
                "conclusion": "success",
                "head_sha": source.head,
                "head_branch": f"pr-{number}",
                "head_repository": {"full_name": "fork-owner/ml"},
                "pull_requests": [],
            },
            "repository": {"full_name": REPO_SLUG, "default_branch": "main"},
        }
        return self.act(
            name,
            "workflow_run",
            "ml-fork-comment.yml",
            payload=payload,
            artifacts=artifacts or source.artifacts,
        )


def train_by_command(root: Path) -> None:
    """examples/command-nn's network instead of the example's random forest."""
    shutil.copy(ROOT / "examples" / "command-nn" / "train.py", root / "train.py")
    config_path = root / "ci-ml.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["model"] = {
        "command": "{python} train.py --out {model_dir}",
        "params": {"hidden": 16, "epochs": 400},
        "seed": 42,
    }
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
