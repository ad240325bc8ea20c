from pathlib import Path

import pytest

from ci_ml.config import load_config
from ci_ml.errors import ConfigError

VALID = """
data: {train: a.csv, test: b.csv, target: y}
model: {estimator: sklearn.linear_model.LogisticRegression}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ci-ml.yaml"
    p.write_text(text)
    return p


def test_valid_config_resolves_paths_relative_to_the_config(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, VALID))
    assert cfg.resolve(cfg.data.train) == tmp_path / "a.csv"
    assert (
        cfg.task == "auto"
        and cfg.release.tag_prefix == "model-v"
        and cfg.statistics.resamples == 1000
    )


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (
            "data: {train: a.csv, target: y}\nmodel: {estimator: sklearn.svm.SVC}",
            "data",
            "give both `train` and `test`",
        ),
        (VALID + "modle: {}\n", "modle", "unknown key"),
        (VALID.replace("estimator:", "estimatr:"), "model.estimatr", "unknown key"),
        (VALID + "task: classify\n", "task", "'classification', 'regression' or 'auto'"),
        (
            VALID + "gates: [{metric: accuracy, min: 0.9, max_regression: 0.1}]\n",
            "gates[0]",
            "exactly one of",
        ),
        (
            VALID + "gates: [{metric: log_loss, min: 0.1}]\n",
            "gates[0]",
            "use `max: …` to cap log_loss",
        ),
        (
            VALID + "gates: [{metric: roc_auc, max: 0.99}]\n",
            "gates[0]",
            "use `min: …` for a floor on roc_auc",
        ),
        (VALID + "gates: [{metric: roc_auc, min: .nan}]\n", "gates[0].min", "finite number"),
        (
            VALID + "gates: [{metric: rmse, max_regression: .inf}]\n",
            "gates[0].max_regression",
            "finite",
        ),
        (VALID + "export: {tolerance: .inf}\n", "export.tolerance", "finite number"),
        (VALID + "export: {tolerance: 2}\n", "export.tolerance", "less than 1"),
        (
            VALID + "baseline: {on_unscorable: ignore}\n",
            "baseline.on_unscorable",
            "'fail', 'recorded' or 'skip'",
        ),
        (
            VALID + "statistics: {resamples: 5}\n",
            "statistics.resamples",
            "greater than or equal to 100",
        ),
        (VALID + "data: {path: x.csv, train: a.csv, target: y}\n", "data", "not both"),
        (
            "data: {train: a.csv, test: b.csv, target: y}\nmodel: {estimator: LogisticRegression}",
            "model",
            "full import path",
        ),
        (
            "data: {train: a.csv, test: b.csv}\nmodel: {estimator: sklearn.svm.SVC}",
            "data.target",
            "required key is missing",
        ),
        (
            VALID.replace("LogisticRegression}", "LogisticRegression, preprocess: yes}"),
            "model.preprocess",
            "'auto' or 'none'",
        ),
        (
            "data: {train: a.csv, test: b.csv, target: y}\n"
            "model: {factory: m.py:build, preprocess: auto}",
            "model",
            "preprocess: auto applies to `estimator:` only",
        ),
    ],
)
def test_errors_name_the_key_and_show_an_example(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, text))
    msg = str(e.value)
    assert f"  - {key}: " in msg
    assert words in msg
    assert "example:" in msg or "valid keys here:" in msg
    assert e.value.exit_code == 2


def test_unknown_key_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, VALID.replace("target: y", "target: y, tets: c.csv")))
    assert (
        "data.tets: unknown key; did you mean 'test' or 'target'? "
        "valid keys here: train, test, path, split, target, drop"
    ) in str(e.value)


def test_an_unknown_key_far_from_every_valid_one_suggests_none(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, VALID.replace("target: y", "target: y, zzzzz: 1")))
    assert "data.zzzzz: unknown key; valid keys here:" in str(e.value)


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 3"):
        load_config(write(tmp_path, "data:\n  train: [a\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_preprocess_defaults_to_auto_and_a_factory_may_say_none(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, VALID)).model.preprocess == "auto"
    cfg = load_config(
        write(
            tmp_path,
            "data: {train: a.csv, test: b.csv, target: y}\n"
            "model: {factory: m.py:build, preprocess: none}",
        )
    )
    assert cfg.model.preprocess == "none"
