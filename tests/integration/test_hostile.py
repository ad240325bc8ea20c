"""The hostile-input corpus (tests/hostile/cases/): each case is a small file
set and a few ci-ml commands with the exit code and message each must give.

For every case and every step:
- no traceback, whatever the input;
- no file outside ci-ml's own folders (those carrying its stamp) is created,
  changed or deleted;
- after a failure, nothing is publishable: `ci-ml publish` refuses the build
  locally (exit 2) before it would talk to GitHub.

See tests/hostile/README.md for the case format.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from ci_ml.artifact import write_sums
from ci_ml.outdir import STAMP
from tests.conftest import EXAMPLES, run_cli

CASES = Path(__file__).resolve().parents[1] / "hostile" / "cases"
# Where a command that reaches for GitHub finds nothing: connections are refused at once.
NO_GITHUB = {
    "GITHUB_REPOSITORY": "octo/ml",
    "GITHUB_TOKEN": "ghs_hostile_corpus",
    "GITHUB_API_URL": "http://127.0.0.1:9",
    "GITHUB_SHA": "c0ffee" + "0" * 34,
    "CI_ML_NETWORK_TIMEOUT": "20",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def _deep_merge(base: dict, extra: dict) -> dict:
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = v
    return base


def apply_edits(project: Path, edits: list[dict]) -> None:
    for e in edits:
        path = project / e["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if "text" in e:
            path.write_text(e["text"])
        elif "hex" in e:
            path.write_bytes(bytes.fromhex(e["hex"]))
        elif "replace" in e:
            old, new = e["replace"]
            text = path.read_text()
            assert old in text, f"{e['file']}: {old!r} not found (the case is out of date)"
            path.write_text(text.replace(old, new))
        elif "config" in e:
            cfg = yaml.safe_load(path.read_text())
            path.write_text(yaml.safe_dump(_deep_merge(cfg, e["config"]), sort_keys=False))
        elif "copy" in e:
            shutil.copytree(project / e["copy"], path)
        elif "example" in e:
            shutil.copytree(EXAMPLES / e["example"], path)
        elif "resum" in e:  # what an attacker does after editing a file: fresh checksums
            write_sums(path)
        elif "delete" in e:
            path.unlink()
        else:
            raise AssertionError(f"unknown edit {e}")


def owned_by_ci_ml(path: Path, root: Path) -> bool:
    return any((p / STAMP).is_file() for p in [path, *path.parents] if root in [p, *p.parents])


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file that is not inside a folder ci-ml made."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not owned_by_ci_ml(p.parent, root)
    }


def load_case(name: str) -> dict:
    return yaml.safe_load((CASES / name / "case.yaml").read_text())


def make_project(name: str, tmp_path: Path) -> Path:
    case = load_case(name)
    project = tmp_path / "project"
    if case.get("example"):
        shutil.copytree(EXAMPLES / case["example"], project)
    else:
        project.mkdir()
    for f in (CASES / name).rglob("*"):
        if f.is_file() and f.name != "case.yaml":
            dest = project / f.relative_to(CASES / name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
    apply_edits(project, case.get("edits", []))
    return project


# Commands that build, score or test a model: a case with one is in the full run only.
BUILDING = {"run", "train", "export", "evaluate", "compare", "test-model", "reproduce"}


def _cases() -> list:
    cases = []
    for name in sorted(p.name for p in CASES.iterdir() if p.is_dir()):
        builds = any(step["argv"][0] in BUILDING for step in load_case(name)["steps"])
        cases.append(pytest.param(name, marks=[pytest.mark.slow] if builds else [], id=name))
    return cases


@pytest.mark.parametrize("name", _cases())
def test_hostile_case(name: str, tmp_path: Path) -> None:
    case = load_case(name)
    project = make_project(name, tmp_path)
    env = {**NO_GITHUB, **case.get("env", {})}
    for i, step in enumerate(case["steps"]):
        apply_edits(project, step.get("edits", []))
        before = snapshot(project)
        r = run_cli(*step["argv"], cwd=project, env=env)
        said = r.stdout + r.stderr
        where = f"{name} step {i} ({' '.join(step['argv'])})"
        assert "Traceback" not in said, f"{where}:\n{said}"
        assert r.returncode == step["exit"], f"{where}: exit {r.returncode}\n{said}"
        if "message" in step:
            assert step["message"] in said, f"{where}: no {step['message']!r} in\n{said}"
        assert snapshot(project) == before, f"{where} touched files outside its own folders"
    if case["steps"][-1]["exit"] != 0 and not case.get("publishable", False):
        out = case.get("out", ".ci-ml")
        r = run_cli("publish", "--out", out, cwd=project, env=env)
        assert "Traceback" not in r.stderr, r.stderr
        assert r.returncode == 2, f"{name}: a failed build was not refused:\n{r.stderr}"


def test_every_case_is_documented() -> None:
    for d in CASES.iterdir():
        case = load_case(d.name)
        assert case.get("about"), d.name
        assert case["steps"] and all("exit" in s for s in case["steps"]), d.name
