"""XGBoost, LightGBM and CatBoost as a config names them (ci_ml/modeling/libraries.py):
a library that is not installed, native categorical handling ONNX cannot carry,
the seeds and thread counts ci-ml sets, and a base install that never loads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ci_ml.config import Config
from ci_ml.errors import ConfigError
from ci_ml.modeling import libraries
from ci_ml.modeling.estimator import build_estimator, fit
from tests.unit.test_estimator_matrix import numeric_data

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = ("xgboost", "lightgbm", "catboost", "onnxmltools")


def _config(tmp_path: Path, model: dict) -> Config:
    import yaml

    from ci_ml.config import load_config

    path = tmp_path / "ci-ml.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "task": "classification",
                "data": {"path": "d.csv", "split": {"test_size": 0.25}, "target": "y"},
                "model": model,
            }
        )
    )
    return load_config(path)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "catboost"])
def test_a_library_that_is_not_installed_names_the_install_command(
    tmp_path, monkeypatch, library
) -> None:
    real = libraries.importlib.util.find_spec
    monkeypatch.setattr(
        libraries.importlib.util,
        "find_spec",
        lambda name, *a: None if name == library else real(name, *a),
    )
    cfg = _config(tmp_path, {"estimator": f"{library}.Anything"})
    with pytest.raises(ConfigError) as e:
        build_estimator(cfg)
    assert e.value.exit_code == 2
    assert f"needs {library}, which is not installed" in e.value.message
    assert f"pip install 'ci-ml[{library}]'" in str(e.value.hint)


def test_a_factory_importing_a_missing_library_names_the_install_command(
    tmp_path, monkeypatch
) -> None:
    real = libraries.importlib.util.find_spec
    monkeypatch.setattr(
        libraries.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "nosuchboost" else real(name, *a),
    )
    monkeypatch.setitem(
        libraries.LIBRARIES,
        "nosuchboost",
        libraries.Library("nosuchboost", ("seed",), ("threads",), ()),
    )
    monkeypatch.setitem(libraries.EXTRAS, "nosuchboost", "nosuchboost")
    (tmp_path / "model.py").write_text("import nosuchboost\ndef build():\n    return None\n")
    cfg = _config(tmp_path, {"factory": "model.py:build"})
    with pytest.raises(ConfigError, match="needs nosuchboost, which is not installed") as e:
        build_estimator(cfg)
    assert "pip install 'ci-ml[nosuchboost]'" in str(e.value.hint)


@pytest.mark.parametrize(
    ("estimator", "params", "key"),
    [
        ("xgboost.XGBClassifier", {"enable_categorical": True}, "enable_categorical"),
        ("lightgbm.LGBMClassifier", {"categorical_feature": [0]}, "categorical_feature"),
        ("lightgbm.LGBMClassifier", {"cat_feature": "name:color"}, "cat_feature"),
        ("catboost.CatBoostClassifier", {"cat_features": ["color"]}, "cat_features"),
        ("catboost.CatBoostClassifier", {"text_features": ["note"]}, "text_features"),
    ],
)
def test_native_categorical_handling_is_refused_with_what_to_do(
    tmp_path, estimator, params, key
) -> None:
    cfg = _config(tmp_path, {"estimator": estimator, "params": params})
    with pytest.raises(ConfigError) as e:
        build_estimator(cfg)
    assert e.value.exit_code == 2
    assert f"({key}) cannot be exported to ONNX" in e.value.message
    assert "model.preprocess: auto" in str(e.value.hint)


def test_categorical_handling_inside_a_factory_pipeline_is_refused_too(tmp_path) -> None:
    (tmp_path / "model.py").write_text(
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
        "from lightgbm import LGBMClassifier\n"
        "def build():\n"
        "    return make_pipeline(StandardScaler(), LGBMClassifier(categorical_feature=[1]))\n"
    )
    with pytest.raises(ConfigError, match=r"lgbmclassifier__categorical_feature"):
        build_estimator(_config(tmp_path, {"factory": "model.py:build"}))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "xgboost.XGBRegressor",
            {"random_state": 7, "n_jobs": libraries.THREADS},
        ),
        (
            "lightgbm.LGBMRegressor",
            {
                "random_state": 7,
                "n_jobs": libraries.THREADS,
                "verbose": -1,
                "deterministic": True,
                "force_row_wise": True,
            },
        ),
        (
            "catboost.CatBoostRegressor",
            {
                "random_seed": 7,
                "thread_count": libraries.THREADS,
                "allow_writing_files": False,
                "logging_level": "Silent",
            },
        ),
    ],
)
def test_seed_threads_and_quiet_are_set_where_left_unset(path, expected) -> None:
    from ci_ml.modeling.estimator import _import_estimator

    est = _import_estimator(path)()
    assert libraries.apply_defaults(est, 7) == sorted(expected)
    params = est.get_params()
    assert {k: params[k] for k in expected} == expected


def test_what_the_user_set_is_kept_and_an_alias_seeds_the_main_key() -> None:
    import lightgbm
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    est = make_pipeline(StandardScaler(), lightgbm.LGBMClassifier(seed=3, num_threads=4, verbose=1))
    done = libraries.apply_defaults(est, 0)
    params = est.get_params()
    assert params["lgbmclassifier__random_state"] == 3  # the user's seed, not ci-ml's
    assert "lgbmclassifier__n_jobs" not in done and "lgbmclassifier__verbose" not in done
    assert "lgbmclassifier__random_state" in done


def test_two_fits_of_each_library_give_the_same_model(tmp_path) -> None:
    """Seeded, one thread: the same data and config give the same trees."""
    import numpy as np

    Xtr, ytr, Xte, _ = numeric_data("classification")
    for path in ("xgboost.XGBClassifier", "lightgbm.LGBMClassifier", "catboost.CatBoostClassifier"):
        # Randomness the seed must pin down: row and column subsampling.
        params = (
            {"n_estimators": 20, "subsample": 0.7}
            if not path.startswith("catboost")
            else {"n_estimators": 20, "rsm": 0.7}
        )
        if path.startswith("lightgbm"):
            params["subsample_freq"] = 1
        cfg = _config(tmp_path, {"estimator": path, "params": params, "preprocess": "none"})
        a, b = (fit(cfg, Xtr, ytr, "classification").model for _ in range(2))
        assert np.array_equal(a.predict_proba(Xte), b.predict_proba(Xte)), path
        assert fit(cfg, Xtr, ytr, "classification").classes == ["no", "yes"]


PROBE = """
import contextlib, io, json, sys
from ci_ml.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps([code, sorted(m for m in sys.modules if m.split('.')[0] in %r)]))
"""


@pytest.mark.slow  # a whole build in a fresh interpreter
def test_a_plain_build_imports_none_of_the_libraries(tmp_path) -> None:
    config = ROOT / "examples" / "regression" / "ci-ml.yaml"
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (OPTIONAL,), "run", "--config", str(config)]
        + ["--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    code, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert code in (0, None), out.stderr
    assert loaded == []
    assert (tmp_path / "out" / "model.onnx").is_file()
