"""The benchmark's data and projects, generated once and cached outside git.

One seeded table per size (10 numeric features, a binary target that depends
on them non-linearly), split 80/20 into train and holdout, written as CSV and
as Parquet. Every contender reads the same files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Bump when the generator changes: the cache keys on it.
DATA_VERSION = 1
FEATURES = 10
TRAIN_SHARE = 0.8
# The PR under test raises max_iter; the baseline is the build main shipped before.
# Early stopping is off so that every size fits exactly max_iter trees: the fit's
# work then grows with the rows alone, and growth per million rows means something.
CANDIDATE_PARAMS = {"max_iter": 100, "early_stopping": False}
BASELINE_PARAMS = {"max_iter": 50, "early_stopping": False}
SEED = 0
ESTIMATOR = "sklearn.ensemble.HistGradientBoostingClassifier"
SIZES = {"100k": 100_000, "1M": 1_000_000, "3M": 3_000_000}
FORMATS = ("csv", "parquet")


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ci-ml-bench"


def parse_size(text: str) -> int:
    text = text.strip()
    if text in SIZES:
        return SIZES[text]
    mult = {"k": 1_000, "K": 1_000, "M": 1_000_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if mult != 1 else text) * mult)


def size_label(rows: int) -> str:
    for label, n in SIZES.items():
        if n == rows:
            return label
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    return f"{rows / 1000:g}k" if rows % 1000 == 0 else str(rows)


@dataclass(frozen=True)
class DataFiles:
    rows: int
    fmt: str
    train: Path
    test: Path

    @property
    def train_rows(self) -> int:
        return int(self.rows * TRAIN_SHARE)

    @property
    def test_rows(self) -> int:
        return self.rows - self.train_rows


def data_files(cache: Path, rows: int, fmt: str) -> DataFiles:
    """The cached files for `rows` and `fmt`, generated on first use."""
    folder = cache / "data" / f"v{DATA_VERSION}-{rows}"
    stamp = folder / "complete.json"
    if not stamp.is_file():
        _generate(folder, rows)
        stamp.write_text(json.dumps({"rows": rows, "version": DATA_VERSION, "seed": SEED}))
    ext = {"csv": "csv", "parquet": "parquet"}[fmt]
    return DataFiles(rows, fmt, folder / f"train.{ext}", folder / f"test.{ext}")


def _generate(folder: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    print(f"generating {rows:,} rows into {folder}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(rows, FEATURES)).round(5)
    logit = X[:, 0] - 0.8 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + 0.3 * np.sin(3 * X[:, 4])
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(FEATURES)]).assign(label=y)
    cut = int(rows * TRAIN_SHARE)
    for name, part in (("train", df.iloc[:cut]), ("test", df.iloc[cut:])):
        part = part.reset_index(drop=True)
        part.to_csv(folder / f"{name}.csv", index=False)
        part.to_parquet(folder / f"{name}.parquet", index=False)


def config_text(files: DataFiles, params: dict, name: str) -> str:
    """A ci-ml config naming the cached data by absolute path (nothing is copied)."""
    return json.dumps(
        {
            "name": name,
            "data": {"train": str(files.train), "test": str(files.test), "target": "label"},
            "task": "classification",
            "schema": "schema.yaml",
            "model": {"estimator": ESTIMATOR, "params": params, "seed": SEED},
            "gates": [
                {"metric": "roc_auc", "min": 0.6},
                {"metric": "roc_auc", "max_regression": 0.01, "only_if_significant": True},
            ],
        },
        indent=2,
    )  # JSON is YAML


@dataclass(frozen=True)
class Project:
    """One size × format: the ci-ml project, its baseline build, and scratch room."""

    files: DataFiles
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "ci-ml.yaml"

    @property
    def baseline_config(self) -> Path:
        return self.folder / "baseline.yaml"

    @property
    def baseline(self) -> Path:
        return self.folder / "baseline-build"

    def out(self, tag: str) -> Path:
        return self.folder / "runs" / tag


def clean_env() -> dict[str, str]:
    """This environment without anything that would make ci-ml think it runs in Actions."""
    drop = ("GITHUB_", "RUNNER_", "ACTIONS_", "ACT_", "CI_ML_", "INPUT_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "ACT"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # On a shared machine, OpenMP threads that spin at barriers while another
    # process holds the core make a 5 s fit take minutes (measured: 198 s wall,
    # 68 s CPU against 26 s and 9 s passive). Passive waiting, for every contender.
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    # A hosted runner writes bytecode; this machine's environment turns it off, which
    # made the action's fresh venv compile everything it imports on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def ci_ml_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ci_ml", *args]


def make_project(cache: Path, files: DataFiles) -> Project:
    """Config, schema and the baseline build (ci-ml's first build), made afresh each run:
    the baseline must come from the ci-ml under test."""
    folder = cache / "projects" / f"{size_label(files.rows)}-{files.fmt}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    project = Project(files, folder)
    project.config.write_text(config_text(files, CANDIDATE_PARAMS, "bench"))
    project.baseline_config.write_text(config_text(files, BASELINE_PARAMS, "bench"))
    with open(folder / "schema.yaml", "w") as fh:
        subprocess.run(
            ci_ml_cmd("schema", "infer", "--data", str(files.test), "--target", "label"),
            stdout=fh,
            check=True,
            env=clean_env(),
        )
    r = subprocess.run(
        ci_ml_cmd(
            "run", "--config", str(project.baseline_config), "--out", str(project.baseline),
            "--baseline", "none",
        ),
        capture_output=True,
        text=True,
        env=clean_env(),
    )  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"the baseline build failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return project
