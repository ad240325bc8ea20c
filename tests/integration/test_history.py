"""The model's history in the PR comment, against the fake GitHub API: the
primary metric of the last model releases and the candidate as a Mermaid line
chart; each release's metrics.json fetched once; any trouble leaves it out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli
from tests.integration.conftest import HEAD_SHA, PR, REPO
from tests.integration.test_registry_flow import env_for, ok, pr_event

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def _n_estimators(project: Path, n: int) -> None:
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["model"]["params"]["n_estimators"] = n
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))


def _mermaid(body: str) -> str:
    blocks = re.findall(r"```mermaid\n(.*?)```", body, re.S)
    assert len(blocks) == 1, body
    return blocks[0]


def _pr_run(project: Path, tmp_path: Path, env: dict, out: str = "pr-out"):
    return run_cli(
        "run", "--config", str(project / "ci-ml.yaml"), "--out", str(tmp_path / out),
        "--baseline", "release", env=env,
    )  # fmt: skip


@pytest.fixture
def project(example_copy) -> Path:
    return example_copy("regression")


def test_three_releases_and_the_candidate_make_four_points(
    fake_github, project: Path, tmp_path: Path
) -> None:
    recorded = {}
    for version, n in enumerate([40, 80, 120], start=1):
        _n_estimators(project, n)
        env = env_for(fake_github, tmp_path, sha=str(version) * 40)
        out = tmp_path / f"main-{version}"
        ok(run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env))
        ok(run_cli("publish", "--config", str(project / "ci-ml.yaml"), "--out", str(out), env=env))
        recorded[f"model-v{version}"] = json.loads((out / "metrics.json").read_text())
    assert sorted(r.tag_name for r in fake_github.state.repo_releases(REPO)) == list(recorded)

    fake_github.requests.clear()
    _n_estimators(project, 60)
    pr_env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    r = _pr_run(project, tmp_path, pr_env)
    assert r.returncode in (0, 4), r.stderr
    ok(run_cli("comment", "--config", str(project / "ci-ml.yaml"), "--out",
               str(tmp_path / "pr-out"), env=pr_env))  # fmt: skip

    body = next(c.body for c in fake_github.state.comments.values() if c.issue == PR)
    chart = _mermaid(body)
    assert 'x-axis ["model-v1", "model-v2", "model-v3", "this PR"]' in chart
    values = [float(v) for v in re.search(r"line \[(.*?)\]", chart).group(1).split(",")]
    candidate = json.loads((tmp_path / "pr-out" / "metrics.json").read_text())
    want = [m["metrics"]["rmse"]["value"] for m in recorded.values()]
    want.append(candidate["metrics"]["rmse"]["value"])
    assert values == pytest.approx(want, rel=1e-5)
    assert "RMSE (lower is better)" in chart and "<summary>History of" in body

    # One page of releases, read once; each release's metrics.json fetched once
    # (model-v3's with the baseline, not again for the history).
    assert len(fake_github.api_requests("GET", r"/releases$")) == 1
    ids = {a.id: (r.tag_name, a.name) for r in fake_github.state.repo_releases(REPO)
           for a in fake_github.state.release_assets(r.id)}  # fmt: skip
    fetched = [ids[int(q["path"].rsplit("/", 1)[1])]
               for q in fake_github.api_requests("GET", r"/releases/assets/\d+$")]  # fmt: skip
    metrics_fetches = sorted(tag for tag, name in fetched if name == "metrics.json")
    assert metrics_fetches == ["model-v1", "model-v2", "model-v3"]
    assert sorted(name for tag, name in fetched if tag == "model-v3") == sorted(
        n for t, n in ids.values() if t == "model-v3"
    )  # the baseline: every asset once
    assert not any(tag in ("model-v1", "model-v2") and name != "metrics.json"
                   for tag, name in fetched)  # fmt: skip

    card = (tmp_path / "pr-out" / "model-card.md").read_text()
    assert _mermaid(card) == chart  # the model card gets the same picture


def _seed(fake, main_out: Path, older: dict[str, bytes]) -> None:
    """Older releases with only a metrics.json each, then the real build as the latest."""
    for tag, data in older.items():
        fake.state.add_release(REPO, tag, assets={"metrics.json": data})
    names = (main_out / "SHA256SUMS").read_text().split()[1::2]
    assets = {n: (main_out / n).read_bytes() for n in [*names, "SHA256SUMS"]}
    fake.state.add_release(REPO, "model-v9", assets=assets)


@pytest.fixture(scope="module")
def main_build(tmp_path_factory, example_build) -> Path:
    return example_build("regression", tmp_path_factory.mktemp("history") / "main")


def test_history_trouble_never_fails_the_build(
    fake_github, project: Path, tmp_path: Path, main_build: Path
) -> None:
    metrics = json.loads((main_build / "metrics.json").read_text())
    metrics["metrics"]["rmse"]["value"] = 61.5
    _seed(
        fake_github,
        main_build,
        {"model-v7": b"{not json", "model-v8": json.dumps(metrics).encode()},
    )
    pr_env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())

    # model-v8's metrics.json is gone when downloaded (deleted since the list was
    # read): no history, no failure.
    v8 = next(r for r in fake_github.state.repo_releases(REPO) if r.tag_name == "model-v8")
    asset = fake_github.state.release_assets(v8.id)[0]
    fake_github.add_fault(rf"GET /repos/{REPO}/releases/assets/{asset.id}$", "status", status=404)
    r = _pr_run(project, tmp_path, pr_env, "out-1")
    ok(r)
    assert "leaves out the model's history" in r.stdout + r.stderr
    report = (tmp_path / "out-1" / "report.md").read_text()
    assert "History of" not in report and "```mermaid" not in report
    assert (
        json.loads((tmp_path / "out-1" / "comparison.json").read_text())["baseline"]["tag"]
        == "model-v9"
    )

    # Without the fault: model-v7's unreadable metrics.json is left out, with a notice.
    fake_github.faults.clear()
    r = _pr_run(project, tmp_path, pr_env, "out-2")
    ok(r)
    assert "model-v7's metrics.json is unreadable" in r.stdout + r.stderr
    chart = _mermaid((tmp_path / "out-2" / "report.md").read_text())
    assert 'x-axis ["model-v8", "model-v9", "this PR"]' in chart
    assert "line [61.5," in chart


def test_history_limit_and_off(
    fake_github, project: Path, tmp_path: Path, main_build: Path
) -> None:
    metrics = json.loads((main_build / "metrics.json").read_text())
    older = {}
    for v in range(1, 6):
        metrics["metrics"]["rmse"]["value"] = 60 + v
        older[f"model-v{v}"] = json.dumps(metrics).encode()
    _seed(fake_github, main_build, older)
    pr_env = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    cfg = yaml.safe_load((project / "ci-ml.yaml").read_text())
    cfg["release"] = {"history": 3}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    ok(_pr_run(project, tmp_path, pr_env, "three"))
    chart = _mermaid((tmp_path / "three" / "report.md").read_text())
    assert 'x-axis ["model-v4", "model-v5", "model-v9", "this PR"]' in chart
    assert len(fake_github.api_requests("GET", r"/releases/assets/")) == 2 + len(
        fake_github.state.release_assets(fake_github.state.repo_releases(REPO)[0].id)
    )  # model-v4 and v5's metrics.json, and the baseline's files

    cfg["release"] = {"history": 0}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(cfg))
    ok(_pr_run(project, tmp_path, pr_env, "none"))
    assert "```mermaid" not in (tmp_path / "none" / "report.md").read_text()
