"""Static checks of action.yml and the workflows: linters, schemas, and our own rules.

Every tool runs offline: actionlint and check-jsonschema's built-in schemas
need no network, zizmor gets --offline.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from e2e_support import ACTION, ALL_WORKFLOWS, ROOT, TEMPLATES, tool

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# The templates refer to ci-ml itself by tag: a user pins their own copy.
OWN_ACTION = re.compile(r"^ci-ml/ci-ml@")


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_there_are_workflows():
    assert {p.name for p in TEMPLATES} >= {
        "ml-pull-request.yml",
        "ml-release.yml",
        "ml-fork-comment.yml",
    }
    assert ACTION.is_file()


@pytest.mark.parametrize("workflow", ALL_WORKFLOWS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_actionlint(workflow):
    r = _run([tool("actionlint"), "-no-color", str(workflow)])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("workflow", ALL_WORKFLOWS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_workflow_schema(workflow):
    r = _run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)]
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_action_schema():
    r = _run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_zizmor_finds_nothing():
    files = [str(ACTION), *map(str, ALL_WORKFLOWS)]
    r = _run([tool("zizmor"), "--offline", "--no-progress", "--persona", "pedantic", *files])
    assert r.returncode == 0, r.stdout + r.stderr


# --- our own rules for action.yml -------------------------------------------------------


@pytest.fixture(scope="module")
def action():
    return _load(ACTION)


def _steps(action):
    return action["runs"]["steps"]


def test_action_is_composite_without_uses(action):
    assert action["runs"]["using"] == "composite"
    assert not any("uses" in step for step in _steps(action))
    # and not hidden anywhere else in the file either
    assert not re.search(r"^\s*(-\s*)?uses\s*:", ACTION.read_text(), re.MULTILINE)


def test_no_expressions_inside_run(action):
    for step in _steps(action):
        assert "${{" not in step.get("run", ""), step.get("name")


def test_every_run_step_is_strict_bash(action):
    for step in _steps(action):
        assert step.get("shell") == "bash", step.get("name")
        assert step["run"].lstrip().startswith("set -eEuo pipefail"), step.get("name")


def test_every_input_is_documented_and_used(action):
    env_text = "\n".join(
        str(v) for step in _steps(action) for v in (step.get("env") or {}).values()
    )
    for name, spec in action["inputs"].items():
        assert name == name.lower() and "_" not in name, f"input {name} is not kebab-case"
        assert (spec.get("description") or "").strip(), f"input {name} has no description"
        assert re.search(r"inputs\." + re.escape(name) + r"\b", env_text), (
            f"input {name} is not passed to any step's env"
        )


def test_expected_inputs_and_defaults(action):
    inputs = action["inputs"]
    assert {k: str(v.get("default")) for k, v in inputs.items()} == {
        "config": "ci-ml.yaml",
        "working-directory": ".",
        "github-token": "${{ github.token }}",
        "mode": "auto",
        "comment": "true",
        "publish": "auto",
        "fail-on-regression": "true",
        "baseline": "release",
        "tag-prefix": "model-v",
        "python": "python3.12",
        "api-url": "${{ github.api_url }}",
        "cache": "true",
        "sign": "auto",
        "signing-key": "",
        "current-data": "",
        "retrain": "false",
        "promote-on-pass": "false",
        "data-snapshot": "",
    }


def test_every_output_maps_to_a_step_output(action):
    ids = {step.get("id") for step in _steps(action)}
    assert set(action["outputs"]) == {
        "verdict",
        "primary-metric",
        "primary-delta",
        "report-path",
        "model-path",
        "model-tests",
        "exit-code",
        "error",
        "data-invalid",
        "data-unsafe",
        "gate-failed",
        "model-tests-failed",
        "release-url",
        "release-tag",
        "comment-url",
        "comment-deferred",
        "install-key",
        "install-restored",
        "drifted",
        "drift-report",
        "drift-json",
        "issue-url",
        "issue-number",
        "issue-action",
        "candidate-tag",
        "candidate-url",
        "candidate-verdict",
    }
    for name, spec in action["outputs"].items():
        assert (spec.get("description") or "").strip(), f"output {name} has no description"
        m = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", spec["value"])
        assert m, f"output {name}: {spec['value']!r} is not a step output"
        assert m.group(1) in ids, f"output {name} names a step id that does not exist"


# The ci-ml code that writes each step's outputs: (file, function). `_tell_actions`
# writes exit-code and error after every command; the build step's are the action's.
WRITERS = {
    "build": [("ci_ml/report/context.py", "outputs"), ("ci_ml/cli/__init__.py", "_tell_actions")],
    "comment": [("ci_ml/cli/github.py", "cmd_comment")],
    "publish": [("ci_ml/cli/registry.py", "cmd_publish")],
    "drift": [("ci_ml/cli/drift.py", "cmd_drift")],
    "issue": [("ci_ml/cli/monitor.py", "cmd_drift_issue")],
    # The retrain step is a build (the build step's outputs) and a publish: the
    # action re-exports only the candidate's tag, URL and verdict (candidate-*).
}


def _keys_written(path: str, function: str) -> set[str]:
    """The output names a function writes: the string keys of the dicts it passes
    to set_outputs, or returns (report.context.outputs)."""
    import ast

    tree = ast.parse((ROOT / path).read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    dicts = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return)]
    dicts += [
        arg
        for n in ast.walk(fn)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "set_outputs"
        for arg in n.args
    ]
    return {
        k.value
        for d in dicts
        if isinstance(d, ast.Dict)
        for k in d.keys
        if isinstance(k, ast.Constant) and isinstance(k.value, str)
    }


def test_every_output_a_step_writes_is_declared(action):
    """An output written but not declared is empty to the workflow (issue 24:
    release-tag and comment-deferred were)."""
    declared = {spec["value"] for spec in action["outputs"].values()}
    steps = {step.get("id"): step for step in _steps(action)}
    for step_id, writers in WRITERS.items():
        keys = set().union(*(_keys_written(*w) for w in writers))
        keys |= set(re.findall(r'echo "([\w-]+)=', steps[step_id]["run"]))
        assert keys, step_id
        for key in keys:
            assert f"${{{{ steps.{step_id}.outputs.{key} }}}}" in declared, (step_id, key)


def test_keyless_signing_has_its_token_where_a_model_is_published():
    """`sign: auto` signs through Sigstore only with the job's OIDC token."""
    for path in ALL_WORKFLOWS:
        wf = _load(path)
        for job in wf["jobs"].values():
            publishes = any(
                OWN_ACTION.match(s.get("uses", ""))
                and (s.get("with") or {}).get("publish") not in (None, "false")
                for s in job.get("steps", [])
            )
            if publishes:
                assert job["permissions"].get("id-token") == "write", path.name


def test_the_comment_mode_installs_only_what_comment_needs(action):
    install = _steps(action)[0]["run"]
    assert 'if [ "$CI_ML_MODE" = comment ]' in install and "comment-lock" in install
    assert _steps(action)[0]["env"]["CI_ML_MODE"] == "${{ inputs.mode }}"


def test_step_ifs_name_existing_steps(action):
    ids = {step.get("id") for step in _steps(action)}
    for step in _steps(action):
        texts = [str(step.get("if", ""))] + [str(v) for v in (step.get("env") or {}).values()]
        for ref in re.findall(r"steps\.([\w-]+)\.", " ".join(texts)):
            assert ref in ids, f"{step.get('name')}: unknown step {ref}"


def test_the_action_installs_from_its_lock(action):
    install = _steps(action)[0]["run"]
    assert '--require-hashes -r "$lock"' in install  # uv
    assert install.count("--require-hashes") == 2  # and pip
    assert install.count("--no-deps --no-build-isolation") == 2  # ci-ml itself, nothing unpinned
    assert 'lock="$CI_ML_ACTION_PATH/requirements.lock"' in install
    assert (ROOT / "requirements.lock").is_file()
    # Every later step reports the lock to ci-ml, which records it in the manifest.
    for step in _steps(action)[1:]:
        if '"$CI_ML_ENTRY"' in step["run"]:
            assert step["env"]["CI_ML_LOCK_FILE"] == "${{ steps.install.outputs.lock }}"


@pytest.mark.parametrize("name", ["ml-pull-request.yml", "ml-release.yml"])
def test_templates_cache_the_install_under_the_actions_key(action, name):
    """Restore before the action, save after it under the key the action names;
    the same path both times (a cache's version hashes its paths); the restore
    prefix is how the action's key starts (ci_ml/install.py)."""
    steps = list(_workflow_steps(_load(ROOT / "workflows" / name)))
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    python = steps[uses.index("actions/setup-python")]
    restore = steps[uses.index("actions/cache/restore")]
    own = next(i for i, u in enumerate(uses) if OWN_ACTION.match(u + "@"))
    save = steps[uses.index("actions/cache/save")]
    assert uses.index("actions/setup-python") < uses.index("actions/cache/restore") < own
    assert own < uses.index("actions/cache/save")
    venv = action["runs"]["steps"][0]["env"]["CI_ML_VENV"]
    assert restore["with"]["path"] == save["with"]["path"] == venv
    prefix = "ci-ml-install-${{ runner.os }}-${{ runner.arch }}-py${{ steps.python.outputs.python-version }}-"
    assert restore["with"]["restore-keys"] == prefix and python["id"] == "python"
    assert save["with"]["key"] == f"${{{{ steps.{steps[own]['id']}.outputs.install-key }}}}"
    assert "install-restored == 'false'" in save["if"] and "!cancelled()" in save["if"]
    # The action's default interpreter is the templates' Python.
    assert action["inputs"]["python"]["default"] == f"python{python['with']['python-version']}"


@pytest.mark.parametrize("name", ["ml-pull-request.yml", "ml-release.yml"])
def test_templates_can_run_on_a_larger_runner_and_a_dask_cluster(name):
    """Data beyond a hosted runner (docs/guide/scale.md): the runner's label from a
    repository variable, the hosted runner when it is unset; the scheduler's address
    from a secret, handed to the action's step alone (no run step sees it)."""
    wf = _load(ROOT / "workflows" / name)
    (job,) = wf["jobs"].values()
    assert job["runs-on"] == "${{ vars.CI_ML_RUNS_ON || 'ubuntu-latest' }}"
    steps = list(_workflow_steps(wf))
    holding = [s for s in steps if "DASK_SCHEDULER_ADDRESS" in (s.get("env") or {})]
    assert [OWN_ACTION.match(s.get("uses", "")) is not None for s in holding] == [True]
    assert holding[0]["env"]["DASK_SCHEDULER_ADDRESS"] == "${{ secrets.DASK_SCHEDULER_ADDRESS }}"


def test_token_is_masked_first(action):
    first = _steps(action)[0]
    assert "::add-mask::" in first["run"]
    assert first["env"]["CI_ML_TOKEN"] == "${{ inputs.github-token }}"


# --- our own rules for the workflows -----------------------------------------------------


def _workflow_steps(wf):
    for job in wf["jobs"].values():
        yield from job.get("steps", [])


@pytest.mark.parametrize("workflow", ALL_WORKFLOWS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_remote_actions_are_pinned_with_a_version_comment(workflow):
    text = workflow.read_text()
    for step in _workflow_steps(_load(workflow)):
        uses = step.get("uses")
        if not uses or uses.startswith("./") or OWN_ACTION.match(uses):
            continue
        assert SHA_PIN.match(uses), f"{workflow.name}: {uses} is not pinned to a commit SHA"
        assert re.search(re.escape(uses) + r" # v\d+\.\d+\.\d+", text), (
            f"{workflow.name}: {uses} has no '# vX.Y.Z' comment"
        )


@pytest.mark.parametrize("workflow", ALL_WORKFLOWS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_least_privilege(workflow):
    wf = _load(workflow)
    triggers = wf.get(True, wf.get("on"))  # PyYAML reads the key `on` as True
    assert "pull_request_target" not in triggers
    assert wf.get("permissions") == {}, "default permissions should be none"
    for job in wf["jobs"].values():
        assert "permissions" in job


def test_pr_template():
    wf = _load(ROOT / "workflows" / "ml-pull-request.yml")
    assert wf["permissions"] == {}
    job = wf["jobs"]["ml"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert "pull_request.number" in wf["concurrency"]["group"]
    uploads = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    assert any(
        s["with"]["name"] == "ci-ml-comment" and s["with"]["path"].startswith(".ci-ml/comment")
        for s in uploads
    )


def test_release_template():
    wf = _load(ROOT / "workflows" / "ml-release.yml")
    assert wf[True]["push"]["branches"] == ["main"]
    assert wf["jobs"]["release"]["permissions"] == {"contents": "write", "id-token": "write"}
    assert wf["concurrency"]["cancel-in-progress"] is False


def test_fork_comment_template_runs_no_pr_code():
    wf = _load(ROOT / "workflows" / "ml-fork-comment.yml")
    pr_wf = _load(ROOT / "workflows" / "ml-pull-request.yml")
    assert wf[True]["workflow_run"]["workflows"] == [pr_wf["name"]]
    assert wf[True]["workflow_run"]["types"] == ["completed"]
    steps = list(_workflow_steps(wf))
    assert not any("checkout" in s.get("uses", "") for s in steps)
    assert not any("setup-python" in s.get("uses", "") for s in steps)
    download = next(s for s in steps if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == "ci-ml-comment"
    assert "workflow_run.id" in download["with"]["run-id"]
    for s in steps:
        assert "${{" not in s.get("run", ""), s.get("name")
    action_step = next(s for s in steps if OWN_ACTION.match(s.get("uses", "")))
    assert action_step["with"]["mode"] == "comment"


def _extras_part(action) -> str:
    """The install step's lines that pick the lock and key for the config's extras."""
    install = _steps(action)[0]["run"]
    start = install.index('if [ "$CI_ML_MODE" != comment ]; then')
    return install[start : install.index('if [ "$CI_ML_MODE" = comment ]; then')]


@pytest.mark.parametrize(
    ("estimator", "suffix", "has"),
    [
        ("xgboost.XGBClassifier", "-xgboost", "xgboost-cpu=="),
        ("sklearn.linear_model.Ridge", "", None),
    ],
)
def test_the_action_installs_the_extras_the_config_names(action, tmp_path, estimator, suffix, has):
    import sys

    (tmp_path / "ci-ml.yaml").write_text(f"model:\n  estimator: {estimator}\n")
    script = "set -eEuo pipefail\nkey=base\n" + _extras_part(action) + 'echo "$key $lock"\n'
    env = {
        "PATH": "/usr/bin:/bin",
        "python": sys.executable,
        "CI_ML_ACTION_PATH": str(ROOT),
        "CI_ML_WORKDIR": str(tmp_path),
        "CI_ML_CONFIG": "ci-ml.yaml",
        "CI_ML_MODE": "pr",
        "RUNNER_TEMP": str(tmp_path),
    }
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    key, lock = out.stdout.strip().splitlines()[-1].split(" ")
    assert key == "base" + suffix
    text = (tmp_path / "ci-ml-build.lock").read_text()
    assert lock == str(tmp_path / "ci-ml-build.lock") and "scikit-learn==" in text
    for name in ("xgboost-cpu==", "lightgbm==", "catboost=="):
        assert (name in text) == (name == has), name
    assert _steps(action)[0]["env"]["CI_ML_CONFIG"] == "${{ inputs.config }}"


def test_drift_template_runs_only_on_schedule_and_by_hand():
    """It writes issues and may publish with the repository's token: never on a
    pull request, and only what it needs."""
    wf = _load(ROOT / "workflows" / "ml-drift.yml")
    assert set(wf[True]) == {"schedule", "workflow_dispatch"}
    job = wf["jobs"]["drift"]
    assert job["permissions"] == {"contents": "write", "issues": "write", "id-token": "write"}
    assert wf["concurrency"]["cancel-in-progress"] is False
    steps = list(_workflow_steps(wf))
    action_step = next(s for s in steps if OWN_ACTION.match(s.get("uses", "")))
    assert action_step["with"]["mode"] == "drift"
    assert action_step["with"]["current-data"] == "${{ env.CURRENT_DATA }}"
    assert "steps.fresh.outputs.snapshot" in action_step["with"]["data-snapshot"]
    fresh = next(s for s in steps if s.get("id") == "fresh")
    assert steps.index(fresh) < steps.index(action_step)
    for s in steps:
        assert "${{" not in s.get("run", ""), s.get("name")


def test_drift_template_is_the_packaged_one():
    """`ci-ml init` and the docs take the templates from the package (ci_ml/workflows)."""
    from importlib import resources

    packaged = resources.files("ci_ml") / "workflows" / "ml-drift.yml"
    assert packaged.read_text() == (ROOT / "workflows" / "ml-drift.yml").read_text()


def test_drift_mode_publishes_and_promotes_only_what_passed(action):
    """The retraining steps' rules, where the action writes them: a candidate only
    after drift and when the plan allows it (default branch, retrain on); promoted
    only with promote-on-pass and a verdict of pass; the issue even after a
    retraining that broke."""
    steps = {s.get("id"): s for s in _steps(action)}
    retrain, promote, issue = steps["retrain"], steps["promote"], steps["issue"]
    assert "steps.plan.outputs.retrain == 'true'" in retrain["if"]
    assert "steps.drift.outputs.drifted == 'true'" in retrain["if"]
    assert "publish --prerelease" in retrain["run"]
    assert "--baseline .ci-ml-drift/reference" in retrain["run"]  # the release drift used
    assert "steps.plan.outputs.promote == 'true'" in promote["if"]
    assert "steps.retrain.outputs.verdict == 'pass'" in promote["if"]
    assert "!cancelled()" in issue["if"] and "steps.drift.outcome == 'success'" in issue["if"]
