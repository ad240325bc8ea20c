"""The build cache: a build made of exactly its baseline's data, config, schema,
training code and packages reuses the baseline's model instead of training; any
change to one of them trains; `--no-cache` always trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.integration.conftest import HEAD_SHA
from tests.integration.test_registry_flow import env_for, ok, pr_event

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too


def run(project: Path, out: Path, *extra: str, env=None):
    r = run_cli("run", "--config", str(project / "ci-ml.yaml"), "--out", str(out), *extra, env=env)
    ok(r)
    return r


def test_an_unchanged_build_reuses_the_baseline_and_a_change_trains(example_copy, tmp_path):
    project = example_copy("mixed-tabular")
    base = tmp_path / "base"
    run(project, base)
    r = run(project, tmp_path / "same", "--baseline", str(base))
    assert "model unchanged" in r.stdout and "training skipped" in r.stdout
    same = tmp_path / "same"
    assert (same / "model.onnx").read_bytes() == (base / "model.onnx").read_bytes()
    assert (same / "metrics.json").read_bytes() == (base / "metrics.json").read_bytes()
    comp = json.loads((same / "comparison.json").read_text())
    assert comp["verdict"] == "pass" and all(m["delta"] == 0 for m in comp["metrics"])
    report = (same / "report.md").read_text()
    assert "model unchanged: training skipped" in report and "**Model unchanged**" in report
    manifest = json.loads((same / "manifest.json").read_text())
    assert manifest["model"]["estimator"] and manifest["fingerprint"]["sha256"]
    assert not (same / "_build" / "model.joblib").exists()
    # The chain is sealed as a complete build: it can be signed and published.
    ok(
        run_cli(
            "sign", "--config", str(project / "ci-ml.yaml"), "--out", str(same), "--sign", "none"
        )
    )
    r = run_cli("export", "--config", str(project / "ci-ml.yaml"), "--out", str(same))
    assert r.returncode == 2 and "reused" in r.stderr and "Traceback" not in r.stderr

    r = run(project, tmp_path / "forced", "--baseline", str(base), "--no-cache")
    assert "training: the build cache is off" in r.stdout

    (project / "model.py").write_text((project / "model.py").read_text() + "\n# a change\n")
    r = run(project, tmp_path / "code", "--baseline", str(base))
    assert "training: changed: code: model.py" in r.stdout


def test_main_with_an_unchanged_model_publishes_nothing_new(fake_github, example_copy, tmp_path):
    project = example_copy("regression")
    config = str(project / "ci-ml.yaml")
    main = env_for(fake_github, tmp_path, sha="1" * 40)
    run(project, tmp_path / "v1", env=main)
    ok(run_cli("publish", "--config", config, "--out", str(tmp_path / "v1"), env=main))

    pr = env_for(fake_github, tmp_path, sha=HEAD_SHA, event=pr_event())
    r = run(project, tmp_path / "pr", "--baseline", "release", env=pr)
    assert "model unchanged" in r.stdout

    again = env_for(fake_github, tmp_path, sha="2" * 40)
    run(project, tmp_path / "v2", "--baseline", "release", env=again)
    r = run_cli("publish", "--config", config, "--out", str(tmp_path / "v2"), env=again)
    ok(r)
    assert "model unchanged since model-v1: no new release" in r.stdout
    assert [r.tag_name for r in fake_github.state.releases.values()] == ["model-v1"]
