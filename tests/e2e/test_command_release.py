"""A model trained by `model.command` on main, under act, against the fake
GitHub: the release workflow publishes it as an estimator's build is published
(the same assets, the manifest and model card naming the command), and a pull
request that widens the network is compared with that release, gated, tested
and commented on. The network is examples/command-nn's (NumPy, its own ONNX);
tests/e2e/test_act.py has the pull request that moves from a released forest
to it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from act_harness import REPO_SLUG, make_repo
from e2e_support import ROOT, TEMPLATES
from scenarios import MARKER, WRITE_TOKEN, Repo, Scenario, train_by_command

from tests.conftest import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("act-command")]  # its runs on one worker

EXAMPLE = ROOT / "examples" / "binary-classification"
PR = 21
RELEASE_ASSETS = {"model.onnx", "metrics.json", "manifest.json", "report.md", "model-card.md"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, fake) -> Repo:
    work = tmp_path_factory.mktemp("command-release")
    project = work / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".ci-ml"))
    train_by_command(project)
    return Repo(make_repo(work / "repo", project, TEMPLATES), work, fake)


@pytest.fixture(scope="module")
def released(repo) -> Scenario:
    return repo.push_to_main()


def _wider(root: Path) -> None:
    config_path = root / "ci-ml.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["model"]["params"]["hidden"] = 32
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def wider(repo, released) -> Scenario:
    return repo.pr(PR, "a wider network", _wider)


def test_main_publishes_the_command_model_like_an_estimators(
    repo, released, fake, tmp_path
) -> None:
    assert released.run.succeeded, released.run.explain()
    assert "parity not checked (trained by model.command)" in released.run.log
    (release,) = fake.releases()
    assert release["tag_name"].startswith("model-v") and not release["prerelease"]
    names = {a["name"] for a in release["assets"]}
    assert names >= RELEASE_ASSETS, names
    # What a later build or a drift check downloads of it: verified, and naming the command.
    env = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO_SLUG, "GITHUB_TOKEN": WRITE_TOKEN}
    out = tmp_path / "fetched"
    r = run_cli("baseline", "fetch", "--out", str(out), "--any-commit", env=env, cwd=repo.root)
    assert r.returncode == 0, r.stdout + r.stderr
    base = out / "baseline"
    manifest = json.loads((base / "manifest.json").read_text())
    assert manifest["model"]["estimator"].startswith("command: python train.py")
    assert manifest["model"]["command"]["exit_code"] == 0
    assert manifest["export"]["parity"]["skipped"].startswith("trained by model.command")
    assert "command: python train.py" in (base / "model-card.md").read_text()
    assert fake.failures() == []


def test_a_pr_is_compared_with_the_released_command_model(wider, fake) -> None:
    run = wider.run
    assert run.succeeded, run.explain()
    outputs = run.outputs("ci-ml")
    assert outputs.get("verdict") == "pass" and outputs.get("model-tests") == "passed", outputs
    (body,) = [c["body"] for c in fake.comments(PR) if MARKER in c["body"]]
    assert fake.releases()[0]["tag_name"] in body, "compared with the released network"
    assert "hidden" in body and "32" in body, "the changed parameter is in the comment"
    assert "parity not checked" in body
    assert fake.failures() == []
