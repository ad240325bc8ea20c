"""What `ci-ml init` writes, decided from the data: the task, the estimator, the
headline metric and its gates, the columns that are no features, and the
commented `ci-ml.yaml` that says all of it. Pure functions of tables and
names; reading the data and writing the files is the CLI's (cli/init.py).

The config it writes must build at once, on the same data, with no edits:
`Setup.config_text` is checked against the config's own validation before
anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, TypeAlias

import yaml

from ci_ml import __version__, suggest
from ci_ml.config import SCHEMA_URL, Config
from ci_ml.data import MIN_CLASS_ROWS, MIN_TRAIN_ROWS, infer_task, is_text, too_few_rows
from ci_ml.errors import ConfigError, DataValidationError

if TYPE_CHECKING:
    import pandas as pd

CONFIG = "ci-ml.yaml"
SCHEMA = "schema.yaml"
WORKFLOWS_DIR = ".github/workflows"
WORKFLOWS = ("ml-pull-request.yml", "ml-release.yml", "ml-fork-comment.yml")
ESTIMATORS = {
    "classification": "sklearn.ensemble.HistGradientBoostingClassifier",
    "regression": "sklearn.ensemble.HistGradientBoostingRegressor",
}
ROC_AUC_FLOOR = 0.6  # a little above chance (0.5)
TEST_SIZE = 0.2
ID_NAME = re.compile(r"(^|[_\W])(id|uuid|guid)$|^id$|Id$", re.IGNORECASE)
Gate: TypeAlias = dict[str, str | float | bool]  # one entry of ci-ml.yaml's gates


@dataclass
class Setup:
    """Every decision `ci-ml init` makes, and why (the reasons become comments)."""

    target: str
    task: str
    task_reason: str
    estimator: str
    primary: str
    gates: list[Gate]
    drop: dict[str, str] = field(default_factory=dict)  # column -> why it is no feature
    stratify: bool | None = None  # None: the default (stratified for classification)


# What the .gitignore of a new repository keeps out: the build folder, and a
# virtual environment made in the project (800 MB that `git add .` would take).
GITIGNORE = (".ci-ml/", ".venv/")
# GitHub refuses files over 100 MB and warns from 50 MB: larger data belongs in
# Git LFS or DVC (https://docs.github.com/en/repositories/working-with-files/managing-large-files).
LARGE_BYTES = 50 * 1024 * 1024


def files() -> list[str]:
    """The paths `init` writes, relative to the project folder."""
    return [CONFIG, SCHEMA, *(f"{WORKFLOWS_DIR}/{w}" for w in WORKFLOWS)]


def workflow_templates() -> dict[str, str]:
    """The workflow templates shipped with ci-ml (the repository's workflows/)."""
    folder = resources.files("ci_ml") / "workflows"
    return {name: (folder / name).read_text(encoding="utf-8") for name in WORKFLOWS}


# --- decisions -------------------------------------------------------------------


def git_add_paths(written: list[str], data: list[str]) -> list[str]:
    """What the first commit must hold, relative to the repository root: the files
    `init` wrote (the workflows as their folder) and the data the config names,
    without which a clean clone cannot build. Data outside the root is left out
    (`outside_repository` says so)."""
    paths = {".github/workflows" if p.startswith(".github/") else p for p in written}
    paths.update(p for p in data if not outside_repository(p))
    return sorted(paths)


def outside_repository(path: str) -> bool:
    """Is this root-relative path outside the repository (`../x`, or absolute)?"""
    return path.startswith(("../", "/")) or path == ".."


def gitignore_missing(text: str) -> list[str]:
    """The entries of GITIGNORE an existing .gitignore lacks (in any spelling git
    reads the same: `.venv`, `/.venv/`, ...)."""
    have = {line.strip().strip("/") for line in text.splitlines()}
    return [entry for entry in GITIGNORE if entry.strip("/") not in have]


def check_target(frames: dict[str, pd.DataFrame], target: str) -> None:
    """The target exists everywhere, is never missing and has two values or more."""
    for name, df in frames.items():
        if len(df) == 0:
            raise DataValidationError(
                f"{name} has a header but no rows: there is nothing to learn from",
                hint="point --data (and --test) at files with the rows the model learns from",
            )
        if target not in df.columns:
            raise ConfigError(
                f"--target {target!r} is not a column of {name}",
                hint=suggest.hint(target, df.columns),
            )
        missing = int(df[target].isna().sum())
        if missing:
            raise DataValidationError(
                f"{name}: {missing} row(s) have no {target!r}; ci-ml refuses rows without a target",
                hint="drop those rows from the data (or fill them in), then run `ci-ml init` again",
            )
    first = next(iter(frames.values()))
    if first[target].nunique() < 2:
        raise DataValidationError(
            f"the target {target!r} has one value only ({first[target].iloc[0]!r}): "
            "there is nothing to learn",
            hint="check --target names the column to predict",
        )


def _looks_like_dates(s: pd.Series) -> bool:
    import pandas as pd

    values = s.dropna().astype(str).head(200)
    if values.empty or not values.str.contains(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    try:
        pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return False
    return True


def not_features(df: pd.DataFrame, target: str) -> dict[str, str]:
    """Columns that would teach the model nothing that generalises, with the reason."""
    import pandas as pd

    out = {}
    for name in df.columns:
        if name == target:
            continue
        s = df[name]
        unique = s.notna().all() and s.nunique() == len(s) and len(s) >= 20
        if pd.api.types.is_datetime64_any_dtype(s) or (is_text(s) and _looks_like_dates(s)):
            out[str(name)] = "a date: derive numeric features from it in a factory if it matters"
        elif unique and (ID_NAME.search(str(name)) or is_text(s)):
            out[str(name)] = "looks like an identifier (every value differs)"
    return out


def decide(frames: dict[str, pd.DataFrame], target: str, split: bool) -> Setup:
    """The setup for a target in `frames` ({file name: table}, training file first).
    `split`: one file, split by ci-ml (else the second frame is the holdout)."""

    check_target(frames, target)
    first = next(iter(frames.values()))
    y = first[target]
    task = infer_task(y)
    # What the training rows need (ci_ml.data.too_few_rows), asked of the whole file
    # when ci-ml will hold a fifth of it out.
    rows, per_class = (13, 3) if split else (MIN_TRAIN_ROWS, MIN_CLASS_ROWS)
    problem = too_few_rows(y, task, f"{next(iter(frames))}", rows, per_class)
    if problem:
        raise DataValidationError(
            problem, hint="add rows to the data (every class needs a few on each side of the split)"
        )
    classes = sorted(map(str, y.unique()))
    if task == "classification":
        shown = ", ".join(classes[:5]) + (", …" if len(classes) > 5 else "")
        reason = f"{target!r} has {len(classes)} classes ({shown})"
    else:
        reason = f"{target!r} holds {y.nunique()} distinct numbers"
    setup = Setup(target, task, reason, ESTIMATORS[task], "", [], not_features(first, target))
    if task == "classification":
        counts = y.value_counts()
        held_out = _holdout(frames, target, split, setup.stratify)[target]
        every_class_held_out = set(map(str, y.unique())) <= set(map(str, held_out.unique()))
        setup.primary, setup.gates = classification_gates(
            every_class_held_out, float(counts.max() / counts.sum())
        )
    else:
        setup.primary, setup.gates = regression_gates(float(y.std(ddof=0)))
    return setup


def _holdout(
    frames: dict[str, pd.DataFrame], target: str, split: bool, stratify: bool | None
) -> pd.DataFrame:
    """The holdout rows `ci-ml run` will score: the second file, or the rows the
    configured split holds out (the same call, seed and stratification as data.py)."""
    if not split:
        return list(frames.values())[1]
    from sklearn.model_selection import train_test_split

    df = next(iter(frames.values()))
    strata = df[target] if stratify is not False else None
    return train_test_split(df, test_size=TEST_SIZE, random_state=0, stratify=strata)[1]


def classification_gates(
    every_class_held_out: bool, majority_share: float
) -> tuple[str, list[Gate]]:
    """ROC AUC with a floor just above chance; accuracy above always guessing the
    most frequent class when the holdout lacks a class (ROC AUC is then undefined)."""
    if every_class_held_out:
        metric, floor = "roc_auc", ROC_AUC_FLOOR
    else:
        metric, floor = "accuracy", _round_down(majority_share)
    no_regression: Gate = {"metric": metric, "max_regression": 0, "only_if_significant": True}
    return metric, [{"metric": metric, "min": floor}, no_regression]


def regression_gates(target_std: float) -> tuple[str, list[Gate]]:
    """RMSE capped at the error of always predicting the mean (the target's spread)."""
    cap = _round_up(target_std) if target_std > 0 else 1.0
    no_regression: Gate = {"metric": "rmse", "max_regression": 0, "only_if_significant": True}
    return "rmse", [{"metric": "rmse", "max": cap}, no_regression]


def _round_down(x: float, digits: int = 2) -> float:
    import math

    return math.floor(x * 10**digits) / 10**digits


def _round_up(x: float) -> float:
    """x rounded up to three significant digits."""
    import math

    scale = 10.0 ** (math.floor(math.log10(abs(x))) - 2)
    return float(f"{math.ceil(x / scale) * scale:.12g}")


# --- the files ---------------------------------------------------------------------


def _y(value: object) -> str:
    """A YAML scalar or flow collection on one line (quoted where YAML needs it)."""
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10**6).removesuffix("\n...\n").strip()
    )


def _line(text: str, comment: str, width: int = 31) -> str:
    return f"{text.ljust(width)} # {comment}" if comment else text


def _data_lines(setup: Setup, data: dict[str, str]) -> list[str]:
    lines = ["# The data; paths are relative to this file.", "data:"]
    if "path" in data:
        lines += [
            _line(f"  path: {_y(data['path'])}", "one file, split into training and holdout rows"),
            "  split:",
            _line(f"    test_size: {TEST_SIZE}", "a fifth of the rows are the holdout"),
            _line("    seed: 0", "the same seed gives the same split on every run"),
        ]
    else:
        lines += [
            _line(f"  train: {_y(data['train'])}", "the rows the model learns from"),
            _line(f"  test: {_y(data['test'])}", "the holdout: every number in the report"),
        ]
    lines.append(_line(f"  target: {_y(setup.target)}", "the column to predict"))
    if setup.drop:
        lines.append(_line("  drop:", "columns that are no features:"))
        lines += [_line(f"    - {_y(c)}", why) for c, why in setup.drop.items()]
    return lines


def _gate_lines(setup: Setup) -> list[str]:
    floor, no_regression = setup.gates
    rule = "min" if "min" in floor else "max"
    floor_why = {
        "roc_auc": "a floor a little above chance (0.5); raise it to what the model must reach",
        "accuracy": "no better than always guessing the most frequent class fails; raise it",
        "rmse": "the error of always predicting the mean; a useful model is well below it",
    }[setup.primary]
    return [
        "# Quality gates: the pull request fails when one fails (after its comment is posted).",
        "gates:",
        _line(f"  - metric: {setup.primary}", "an absolute bound on this build's model"),
        _line(f"    {rule}: {_y(floor[rule])}", floor_why),
        _line(f"  - metric: {setup.primary}", "a bound relative to the baseline"),
        _line("    max_regression: 0", "not worse than the model main last released..."),
        _line("    only_if_significant: true", "...beyond noise (paired bootstrap, same rows)"),
    ]


def config_text(setup: Setup, data: dict[str, str], source: str) -> str:
    """The commented ci-ml.yaml; `data` is {train, test} or {path} (relative paths)."""
    lines = [
        # Editors with the YAML language server check and complete the file from it.
        f"# yaml-language-server: $schema={SCHEMA_URL.format(version=__version__)}",
        f"# ci-ml.yaml, written by `ci-ml init` from {source}. Change anything:",
        "# the docs' configuration reference (docs/reference/config.md) lists every key.",
        "",
        *_data_lines(setup, data),
        "",
        "# The pandera schema the data must pass before anything is trained",
        "# (inferred from the data by `ci-ml init`: review it, tighten what must hold).",
        f"schema: {SCHEMA}",
        "",
        f"# Inferred from the target: {setup.task_reason}.",
        f"task: {setup.task}",
        "",
        "model:",
        "  # Gradient-boosted trees: strong on tables, quick to train, exported to ONNX exactly.",
        f"  estimator: {setup.estimator}",
        _line("  params: {}", "its keyword arguments, e.g. {max_iter: 200}"),
        "  # auto: text columns one-hot encoded, missing numbers imputed (docs: guide/configuration.md).",
        "  preprocess: auto",
        _line("  seed: 0", "the same commit always builds the same model"),
        "",
        "metrics:",
        _line(
            f"  primary: {setup.primary}", "the headline number of the report and the PR comment"
        ),
        "",
        *_gate_lines(setup),
    ]
    return "\n".join(lines) + "\n"


def schema_text(schema_yaml: str, sources: str) -> str:
    return (
        f"# pandera schema inferred by `ci-ml init` from {sources}.\n"
        "# Review it: tighten ranges and value sets to what your data must satisfy.\n" + schema_yaml
    )


def check_config(text: str) -> None:
    """The written config must load: a bug here would hand the user a broken file."""

    Config.model_validate(yaml.safe_load(text))
