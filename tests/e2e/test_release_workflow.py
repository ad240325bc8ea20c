"""ci-ml's own release workflow (.github/workflows/release.yml) under act, against
the fake GitHub, as far as it goes offline: the sdist and wheel built and checked,
the tag vX.Y.Z pushed, the major tag v0 moved from an older commit to this one,
the GitHub release made with the wheel and the sdist attached, and the PyPI step
handed exactly those files (a stub: PyPI is the one step that needs the network).
The tests step is off here (the suite running this is that step)."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from act_harness import copy_action, git, make_repo, remote_stub_refs, run_act
from e2e_support import ROOT
from scenarios import REPO_SLUG, WRITE_TOKEN

import ci_ml

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("act-release")]  # its runs on one worker

WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
PYPI_ACTION = "pypa/gh-action-pypi-publish@76f52bc884231f62b9a034ebfe128415bbaabdfc"


def _project(dest: Path) -> Path:
    """What the release builds from: the package and what the workflow reads."""
    copy_action(dest)
    for name in ("CHANGELOG.md", "LICENSE", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    (dest / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "release.py", dest / "scripts" / "release.py")
    return dest


def _tags(bare: Path) -> dict[str, str]:
    out = subprocess.run(
        ["git", "-C", str(bare), "show-ref", "--tags"], capture_output=True, text=True
    ).stdout
    return {
        ref.removeprefix("refs/tags/"): sha for sha, ref in (ln.split() for ln in out.splitlines())
    }


@pytest.fixture(scope="module")
def released(tmp_path_factory, fake):
    work = tmp_path_factory.mktemp("release")
    repo = make_repo(work / "repo", _project(work / "project"), [WORKFLOW])
    # The remote the tags go to: a bare repository (act reads GITHUB_REPOSITORY from
    # the fetch URL, which stays GitHub's; pushes go here).
    bare = work / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "config", "remote.origin.pushurl", str(bare))
    # v0 points at an older release; this release must move it.
    old = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "v0", old)
    git(repo, "push", "-q", "origin", "main", "refs/tags/v0")
    (repo / "NOTES").write_text("the commit being released\n")
    git(repo, "add", "NOTES")
    git(repo, "commit", "-q", "-m", "release me")
    head = git(repo, "rev-parse", "HEAD")
    artifacts = work / "artifacts"
    stubs = remote_stub_refs([WORKFLOW])
    stubs[PYPI_ACTION] = ROOT / "tests" / "e2e" / "stubs" / "pypi-publish"
    run = run_act(
        repo,
        "workflow_dispatch",
        repo / ".github" / "workflows" / "release.yml",
        cache_dir=work / "act-cache",
        local_repositories=stubs,
        # As GitHub sends them: workflow_dispatch inputs are strings in the payload.
        payload={"inputs": {"run-tests": "false", "publish-to-pypi": "true"}},
        env={"GITHUB_API_URL": fake.url, "CI_ML_E2E_ARTIFACTS": str(artifacts)},
        secrets={"GITHUB_TOKEN": WRITE_TOKEN},
        timeout=900,
    )
    return run, bare, head, old, artifacts


def test_the_release_runs_to_the_end(released) -> None:
    run, *_ = released
    assert run.succeeded, run.explain()
    steps = run.step_results()
    assert [steps.get(s) for s in ("build", "tag", "github")] == ["success"] * 3, steps


def test_it_tags_the_version_and_moves_v0(released) -> None:
    run, bare, head, old, _ = released
    tags = _tags(bare)
    assert tags.get(f"v{ci_ml.__version__}") == head, run.explain()
    assert tags.get("v0") == head != old


def test_the_github_release_has_the_wheel_and_the_sdist(released, fake) -> None:
    run, *_ = released
    (release,) = [r for r in fake.releases() if r["tag_name"] == f"v{ci_ml.__version__}"]
    names = sorted(a["name"] for a in release["assets"])
    version = ci_ml.__version__
    assert names == [f"ci_ml-{version}-py3-none-any.whl", f"ci_ml-{version}.tar.gz"], run.explain()
    assert release["name"] == f"ci-ml {version}" and "The first version" in release["body"]
    assert release["target_commitish"] == released[2]
    assert fake.state()["latest"][REPO_SLUG] == f"v{version}"


def test_pypi_gets_the_checked_wheel_with_its_licence(released) -> None:
    run, *_, artifacts = released
    wheel = artifacts / "pypi" / f"ci_ml-{ci_ml.__version__}-py3-none-any.whl"
    assert wheel.is_file(), run.explain()
    names = zipfile.ZipFile(wheel).namelist()
    assert f"ci_ml-{ci_ml.__version__}.dist-info/licenses/LICENSE" in names
    assert "ci_ml/py.typed" in names and "ci_ml/schemas/ci-ml.schema.json" in names
