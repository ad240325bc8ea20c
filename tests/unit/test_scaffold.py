"""`ci-ml init`'s decisions (ci_ml/scaffold.py): task, estimator, headline
metric, gates, columns that are no features, and the config text, which must
load as written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ci_ml import scaffold
from ci_ml.config import load_config
from ci_ml.errors import ConfigError, DataValidationError
from ci_ml.stats.metrics import METRICS

ROOT = Path(__file__).resolve().parents[2]


def churn(n: int = 200, seed: int = 0, classes=("no", "yes")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n) + 1000,
            "fee": rng.normal(30, 5, n),
            "plan": rng.choice(["basic", "plus"], n),
            "churn": rng.choice(list(classes), n),
        }
    )


def test_binary_target_gets_a_boosted_classifier_gated_on_roc_auc() -> None:
    s = scaffold.decide({"train.csv": churn()}, "churn", split=True)
    assert s.task == "classification"
    assert s.estimator == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert s.primary == "roc_auc"
    assert s.gates == [
        {"metric": "roc_auc", "min": scaffold.ROC_AUC_FLOOR},
        {"metric": "roc_auc", "max_regression": 0, "only_if_significant": True},
    ]
    assert s.drop == {"customer_id": "looks like an identifier (every value differs)"}
    assert s.stratify is None
    assert "2 classes (no, yes)" in s.task_reason


def test_regression_caps_rmse_at_the_spread_of_the_target() -> None:
    df = churn().assign(spend=np.linspace(0, 99, 200))
    s = scaffold.decide({"d.csv": df.drop(columns="churn")}, "spend", split=True)
    assert s.task == "regression" and s.primary == "rmse"
    assert s.estimator.endswith("HistGradientBoostingRegressor")
    cap = s.gates[0]["max"]
    assert df["spend"].std(ddof=0) <= cap < df["spend"].std(ddof=0) * 1.01
    assert s.gates[1] == {"metric": "rmse", "max_regression": 0, "only_if_significant": True}


def test_a_class_missing_from_the_holdout_file_gates_on_accuracy() -> None:
    train = churn(classes=("a", "b", "c"))
    test = churn(60, 1, classes=("a", "b"))
    s = scaffold.decide({"train.csv": train, "test.csv": test}, "churn", split=False)
    share = train["churn"].value_counts(normalize=True).max()
    assert s.primary == "accuracy"
    assert s.gates[0] == {"metric": "accuracy", "min": np.floor(share * 100) / 100}


def test_a_class_too_small_to_learn_is_refused_with_the_numbers() -> None:
    """Issue 22, 6: a class with one row used to turn stratification off, and the
    build then trained without it (or held it out unseen) and failed later."""
    df = churn()
    df.loc[0, "churn"] = "rare"
    with pytest.raises(DataValidationError, match=r"too few rows of 1 class\(es\) \(1 of 'rare'\)"):
        scaffold.decide({"d.csv": df}, "churn", split=True)
    with pytest.raises(DataValidationError, match="at least 2 of each"):
        scaffold.decide({"d.csv": df, "t.csv": df}, "churn", split=False)
    tiny = churn().head(2)
    with pytest.raises(DataValidationError, match="2 row"):
        scaffold.decide({"d.csv": tiny}, "churn", split=True)


@pytest.mark.parametrize(
    ("column", "values", "dropped"),
    [
        ("id", list(range(30)), True),
        ("user_id", list(range(30)), True),
        ("orderId", list(range(30)), True),
        ("email", [f"u{i}@x.org" for i in range(30)], True),  # unique text
        ("fee", [i + 0.5 for i in range(30)], False),  # unique numbers are measurements
        ("paid", [0, 1] * 15, False),
        ("user_id", [1, 1] + list(range(2, 30)), False),  # repeats: not an identifier
        ("signup", [f"2024-01-{i % 28 + 1:02d}" for i in range(30)], True),
        ("when", pd.date_range("2024-01-01", periods=30), True),
    ],
)
def test_columns_that_are_no_features(column: str, values: list, dropped: bool) -> None:
    df = pd.DataFrame({column: values, "y": [0, 1] * 15})
    assert (column in scaffold.not_features(df, "y")) is dropped


@pytest.mark.parametrize(
    ("frames", "error", "words"),
    [
        ({"a.csv": churn()}, ConfigError, "'nope' is not a column of a.csv"),
        ({"a.csv": churn().iloc[:0]}, DataValidationError, "no rows"),
        ({"a.csv": churn().assign(nope=[None] + ["x"] * 199)}, DataValidationError, "1 row(s)"),
        ({"a.csv": churn().assign(nope="x")}, DataValidationError, "one value only"),
    ],
)
def test_targets_that_cannot_be_learned_are_refused(frames, error, words) -> None:
    with pytest.raises(error) as e:
        scaffold.decide(frames, "nope", split=True)
    assert words in str(e.value)


@pytest.mark.parametrize(
    ("target", "data"),
    [
        ("churn", {"path": "data/all.csv"}),
        ("churn", {"train": "data/train.csv", "test": "data/test.csv"}),
        ("my target: #1", {"path": "data dir/a file.csv"}),  # YAML needs quotes here
    ],
)
def test_the_config_text_loads_as_written(tmp_path: Path, target: str, data: dict) -> None:
    df = churn().rename(columns={"churn": target})
    df.loc[:2, target] = "rare"  # the fewest rows init takes of a class
    frames = {"x": df} if "path" in data else {"x": df, "y": df}
    setup = scaffold.decide(frames, target, split="path" in data)
    text = scaffold.config_text(setup, data, "x")
    scaffold.check_config(text)
    (tmp_path / "ci-ml.yaml").write_text(text)
    cfg = load_config(tmp_path / "ci-ml.yaml")
    assert cfg.data.target == target and cfg.task == "classification"
    assert cfg.model.estimator == setup.estimator and cfg.model.preprocess == "auto"
    assert cfg.metrics.primary == setup.primary == cfg.gates[0].metric == cfg.gates[1].metric
    assert cfg.gates[1].only_if_significant and cfg.gates[1].max_regression == 0
    assert cfg.data.drop == ["customer_id"]
    if "path" in data:
        assert str(cfg.data.path) == data["path"] and cfg.data.split.stratify is None
    else:
        assert str(cfg.data.test) == data["test"]


def test_every_line_of_the_config_says_what_it_does() -> None:
    text = scaffold.config_text(
        scaffold.decide({"x": churn()}, "churn", split=True), {"path": "d.csv"}, "d.csv"
    )
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if ":" in line and not line.lstrip().startswith("#") and not line.endswith(":"):
            above = lines[i - 1].lstrip()
            assert " # " in line or above.startswith("#"), line


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "rmse"])
def test_gate_rules_point_the_right_way(metric: str) -> None:
    floor = {
        "roc_auc": scaffold.classification_gates(True, 0.7),
        "accuracy": scaffold.classification_gates(False, 0.7),
        "rmse": scaffold.regression_gates(3.0),
    }[metric][1][0]
    rule = "min" if METRICS[metric].greater_is_better else "max"
    assert floor["metric"] == metric and rule in floor


@pytest.mark.parametrize(
    ("x", "up"),
    [(1.0, 1.0), (0.12345, 0.124), (1234.5, 1240.0), (57.13, 57.2), (0.0009991, 0.000999 + 1e-6)],
)
def test_round_up_to_three_significant_digits(x: float, up: float) -> None:
    assert scaffold._round_up(x) == pytest.approx(up)


def test_the_shipped_workflows_are_the_repositorys_templates() -> None:
    shipped = scaffold.workflow_templates()
    assert set(shipped) == set(scaffold.WORKFLOWS)
    for name, text in shipped.items():
        assert text == (ROOT / "workflows" / name).read_text(encoding="utf-8"), name


@pytest.mark.parametrize("rare_rows", [3, 4])
def test_the_holdout_init_judges_is_the_one_run_will_score(rare_rows: int) -> None:
    """Same split as data.py; a class it leaves out of the holdout makes ROC AUC
    undefined, so init gates on accuracy instead."""
    from ci_ml.config import Config
    from ci_ml.data import _split

    df = churn(400)
    df.loc[: rare_rows - 1, "churn"] = "rare"
    setup = scaffold.decide({"d.csv": df}, "churn", split=True)
    split = {"test_size": scaffold.TEST_SIZE, "seed": 0}
    if setup.stratify is not None:
        split["stratify"] = setup.stratify
    cfg = Config.model_validate(
        {
            "data": {"path": "d.csv", "target": "churn", "split": split},
            "model": {"estimator": "a.B"},
        }
    )
    _, test, _ = _split(df, cfg)
    held_out = scaffold._holdout({"d.csv": df}, "churn", True, setup.stratify)
    assert sorted(held_out.index) == sorted(test.index)
    assert setup.primary == ("roc_auc" if "rare" in set(test["churn"]) else "accuracy")


def test_the_first_commit_holds_the_written_files_and_the_data_inside_the_repository() -> None:
    written = ["ci-ml.yaml", "schema.yaml", ".github/workflows/a.yml", ".github/workflows/b.yml"]
    data = ["data/train.csv", "../elsewhere.csv", "/abs/x.csv"]
    assert scaffold.git_add_paths(written, data) == [
        ".github/workflows",
        "ci-ml.yaml",
        "data/train.csv",
        "schema.yaml",
    ]
    assert scaffold.outside_repository("../elsewhere.csv")
    assert not scaffold.outside_repository("data/..x.csv")


def test_an_existing_gitignore_is_told_what_it_lacks() -> None:
    assert scaffold.gitignore_missing("") == [".ci-ml/", ".venv/"]
    assert scaffold.gitignore_missing("/.ci-ml\n.venv\n") == []
    assert scaffold.gitignore_missing("node_modules/\n.ci-ml/\n") == [".venv/"]
