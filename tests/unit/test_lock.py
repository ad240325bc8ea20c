"""requirements.lock, what the action installs from, agrees with pyproject.toml:
every dependency is pinned for every supported Python, every pin satisfies its
range and carries hashes. Regenerate it with scripts/update-lock.sh."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

from ci_ml import install

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / install.LOCK
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][\w.-]*)==(?P<version>\S+?)(?: ; (?P<marker>[^\\\n]+?))? \\\n"
    r"(?P<hashes>(?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
    re.MULTILINE,
)


def entries() -> list[dict]:
    return [m.groupdict() for m in ENTRY.finditer(LOCK.read_text())]


def environment(python: tuple[int, int], system: str, machine: str) -> dict[str, str]:
    return {
        "python_version": f"{python[0]}.{python[1]}",
        "python_full_version": f"{python[0]}.{python[1]}.0",
        "sys_platform": {"Linux": "linux", "Darwin": "darwin"}[system],
        "platform_system": system,
        "platform_machine": machine,
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }


def pinned_for(env: dict[str, str]) -> dict[str, Version]:
    out: dict[str, Version] = {}
    for e in entries():
        if e["marker"] is None or Marker(e["marker"]).evaluate(env):
            name = install.normalize(e["name"])
            assert name not in out, f"{name} is pinned twice for {env['python_version']}"
            out[name] = Version(e["version"])
    return out


def requirements() -> list[Requirement]:
    """ci-ml's dependencies, with the model libraries' extras (the lock pins them too)."""
    deps = PYPROJECT["project"]["dependencies"] + PYPROJECT["build-system"]["requires"]
    for extra in sorted(set(install.EXTRAS.values())):
        deps = deps + PYPROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(d) for d in deps]


def test_every_line_of_the_lock_is_a_pin_with_hashes() -> None:
    text = LOCK.read_text()
    body = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    pins = [ln for ln in body if not ln.startswith("    ")]
    assert len(pins) == len(entries()) > 20, "a line the parser does not understand"
    assert all(e["hashes"].count("--hash=sha256:") >= 1 for e in entries())
    assert "scripts/update-lock.sh" in text.splitlines()[1], "regenerate with the script"


@pytest.mark.parametrize("python", install.PYTHONS, ids=lambda v: f"py{v[0]}.{v[1]}")
@pytest.mark.parametrize("where", sorted(install.PLATFORMS), ids=lambda p: f"{p[0]}-{p[1]}")
def test_every_dependency_is_pinned_within_its_range(python, where) -> None:
    env = environment(python, *where)
    pinned = pinned_for(env)
    for req in requirements():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = install.normalize(req.name)
        assert name in pinned, f"{req.name} is not in {LOCK.name}: run scripts/update-lock.sh"
        assert pinned[name] in req.specifier, (
            f"{LOCK.name} pins {req.name}=={pinned[name]}, outside pyproject's {req}: "
            "run scripts/update-lock.sh"
        )


def test_protobuf_stays_below_7_in_the_lock() -> None:
    """skl2onnx cannot convert HistGradientBoosting* under protobuf 7 (see pyproject)."""
    versions = install.pins(LOCK.read_text())["protobuf"]
    assert versions and all(Version(v).major < 7 for v in versions)


def test_pins_parse_names_the_way_packaging_does() -> None:
    text = (
        "Jinja2==3.1.6 \\\n    --hash=sha256:aa\nnumpy==2.2.6 ; python_full_version < '3.11' \\\n"
    )
    text += "numpy==2.5.5 ; python_full_version >= '3.12' \\\nruamel.yaml==0.18 \\\n"
    assert install.pins(text) == {
        "jinja2": {"3.1.6"},
        "numpy": {"2.2.6", "2.5.5"},
        "ruamel-yaml": {"0.18"},
    }


@pytest.mark.parametrize(
    ("version", "system", "machine", "words"),
    [
        ((3, 12), "Linux", "x86_64", None),
        ((3, 10), "Darwin", "arm64", None),
        ((3, 9), "Linux", "x86_64", "Python 3.9 is not one the lock covers"),
        ((3, 12), "Darwin", "x86_64", "Darwin x86_64 is not a platform the lock covers"),
        ((3, 12), "Windows", "AMD64", "Windows AMD64"),
    ],
)
def test_what_the_lock_covers(version, system, machine, words) -> None:
    why = install.unsupported(version, system, machine)
    assert (why is None) if words is None else (words in why)


def test_the_install_key_names_version_python_platform_and_lock(tmp_path: Path) -> None:
    key = install.install_key(ROOT, "Linux", "X64")
    py = ".".join(map(str, sys.version_info[:3]))
    from ci_ml import __version__ as version

    assert key == (
        f"ci-ml-install-Linux-X64-py{py}-v{version}-lock-{install.lock_sha256(LOCK)[:16]}"
    )


def test_the_key_command(capsys) -> None:
    assert install.main(["key", str(ROOT), "Linux", "X64"]) in (0, 2)
    out, err = capsys.readouterr()
    assert out.startswith("ci-ml-install-Linux-X64-py") or "not" in err
    assert install.main(["nonsense"]) == 2


def test_the_manifest_says_whether_the_install_matches_the_lock(tmp_path: Path) -> None:
    import importlib.metadata

    have = importlib.metadata.version("pytest")
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"pytest=={have} \\\n    --hash=sha256:00\nnot-installed-here==1.0 \\\n")
    report = install.report(lock)
    assert report["locked"] is True and report["differs"] == {}
    assert report["lock_sha256"] == install.lock_sha256(lock)
    lock.write_text("pytest==0.0.1 \\\n    --hash=sha256:00\n")
    report = install.report(lock)
    assert report["locked"] is False
    assert report["differs"] == {"pytest": {"installed": have, "locked": ["0.0.1"]}}
    assert install.report(None) == {"locked": False, "lock_sha256": None, "differs": {}}


def test_each_extra_has_its_line_in_the_lock_naming_pinned_distributions() -> None:
    text = LOCK.read_text()
    needs = install.extra_packages(text)
    assert set(needs) == set(install.EXTRAS.values())
    pinned = install.pins(text)
    for extra, names in needs.items():
        assert names and names <= set(pinned), extra
        for req in PYPROJECT["project"]["optional-dependencies"][extra]:
            assert install.normalize(Requirement(req).name) in names, (extra, req)


def test_the_base_install_leaves_out_every_extra_and_an_extra_brings_its_own() -> None:
    text = LOCK.read_text()
    base = set(install.pins(install.lock_for(text, [])))
    assert not base & {"xgboost", "xgboost-cpu", "lightgbm", "catboost", "onnxmltools"}
    assert {"scikit-learn", "skl2onnx", "onnxruntime"} <= base
    xgb = set(install.pins(install.lock_for(text, ["xgboost"])))
    assert xgb - base == {"xgboost", "xgboost-cpu", "onnxmltools"}
    both = set(install.pins(install.lock_for(text, ["xgboost", "lightgbm"])))
    assert both - base == {"xgboost", "xgboost-cpu", "onnxmltools", "lightgbm"}
    assert install.pins(install.lock_for(text, sorted(install.EXTRAS))) == install.pins(text)
    with pytest.raises(ValueError, match="no extra torch"):
        install.lock_for(text, ["torch"])


def test_the_lock_of_an_extra_installs_with_hashes_and_nothing_twice() -> None:
    part = install.lock_for(LOCK.read_text(), ["catboost"])
    for env in (environment((3, 10), "Linux", "x86_64"), environment((3, 14), "Darwin", "arm64")):
        seen: set[str] = set()
        for m in ENTRY.finditer(part):
            if m["marker"] is None or Marker(m["marker"]).evaluate(env):
                name = install.normalize(m["name"])
                assert name not in seen and m["hashes"].count("--hash=") >= 1
                seen.add(name)
        assert {"catboost", "matplotlib", "numpy"} <= seen


@pytest.mark.parametrize(
    ("config", "factory", "extras"),
    [
        ("model:\n  estimator: xgboost.XGBClassifier\n", None, ["xgboost"]),
        ("model:\n  estimator: 'lightgbm.LGBMRegressor'\n  params: {}\n", None, ["lightgbm"]),
        ("model:\n  estimator: sklearn.linear_model.Ridge\n", None, []),
        (
            "model:\n  factory: model.py:build\n",
            "import numpy as np\nfrom catboost import CatBoostClassifier\nimport xgboost.sklearn\n",
            ["catboost", "xgboost"],
        ),
        ("model:\n  factory: model.py:build\n", "def build(:\n", []),  # the build says why
        ("model:\n  factory: missing.py:build\n", None, []),
        ("model:\n  estimator: x.Y\nengine: {kind: dask, workers: 4}\n", None, ["dask"]),
        (
            "engine:\n  kind: 'dask'\nmodel:\n  estimator: xgboost.XGBRegressor\n",
            None,
            ["dask", "xgboost"],
        ),
        ("engine: {kind: local}\nrelease: {registry: {kind: folder}}\n", None, []),
    ],
)
def test_the_extras_a_config_needs(tmp_path: Path, config, factory, extras) -> None:
    (tmp_path / "ci-ml.yaml").write_text(config)
    if factory is not None:
        (tmp_path / "model.py").write_text(factory)
    assert install.extras_for(tmp_path / "ci-ml.yaml") == extras
    assert install.extras_for(tmp_path / "absent.yaml") == []


def test_the_extras_and_lock_commands(tmp_path: Path, capsys) -> None:
    (tmp_path / "ci-ml.yaml").write_text("model:\n  estimator: catboost.CatBoostRegressor\n")
    assert install.main(["extras", str(tmp_path / "ci-ml.yaml")]) == 0
    assert capsys.readouterr().out == "catboost\n"
    assert install.main(["lock", str(ROOT), "catboost"]) == 0
    assert "catboost==" in capsys.readouterr().out
    assert install.main(["lock", str(ROOT), "nope"]) == 2
    assert "no extra nope" in capsys.readouterr().err
