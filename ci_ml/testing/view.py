"""A built artifact folder as the pytest plugin's fixtures see it: its model,
the baseline it was compared with, the data it was built from, its records."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.artifact import BUILD_DIR, read_json
from ci_ml.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config
    from ci_ml.data import Dataset
    from ci_ml.testing.model import OnnxModel

# The model-tests stage's record in _build/: it names the config of the build.
RECORD = "model_tests.json"


class BuildView:
    """`config` and `baseline` default to what the build itself recorded: the
    config it was built with, the baseline it was compared with ("none": none)."""

    def __init__(
        self, artifact: Path, config: Path | None = None, baseline: Path | str | None = None
    ) -> None:
        self.artifact = Path(artifact)
        self._config = config
        self._baseline = baseline
        if not (self.artifact / "manifest.json").is_file():
            raise UsageError(
                f"{self.artifact} holds no ci-ml build (no manifest.json)",
                hint="run `ci-ml run` first, and pass its --out folder to --ci-ml-artifact",
            )

    def _record(self, name: str) -> Any:
        path = self.artifact / BUILD_DIR / name
        return read_json(path) if path.is_file() else None

    @cached_property
    def config_path(self) -> Path:
        if self._config is not None:
            return Path(self._config)
        recorded = (self._record(RECORD) or {}).get("config")
        if not recorded:
            raise UsageError(
                f"{self.artifact} does not say which config built it",
                hint="pass --ci-ml-config path/to/ci-ml.yaml, or build with `ci-ml run`",
            )
        return Path(recorded)

    @cached_property
    def cfg(self) -> Config:
        from ci_ml.config import load_config

        return load_config(self.config_path)

    @cached_property
    def dataset(self) -> Dataset:
        from ci_ml.data import load_dataset

        d = load_dataset(self.cfg)
        built = (self.manifest.get("data") or {}).get("files") or {}
        now = {role: f.sha256 for role, f in d.files.items()}
        if {role: f.get("sha256") for role, f in built.items()} != now:
            raise UsageError(
                "the data files changed since this build: its model was not built from them",
                hint="build again with `ci-ml run`",
            )
        return d

    @cached_property
    def holdout(self) -> pd.DataFrame:
        return self.dataset.test

    @cached_property
    def train(self) -> pd.DataFrame:
        return self.dataset.train

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return read_json(self.artifact / "manifest.json")

    @cached_property
    def metrics(self) -> dict[str, Any]:
        path = self.artifact / "metrics.json"
        if not path.is_file():
            raise UsageError(f"{self.artifact} has no metrics.json: the build stopped early")
        return read_json(path)

    @cached_property
    def candidate(self) -> OnnxModel:
        from ci_ml.testing.model import OnnxModel

        return OnnxModel.load(self.artifact)

    @cached_property
    def baseline_dir(self) -> Path | None:
        if self._baseline is not None:
            return None if str(self._baseline) == "none" else Path(self._baseline)
        seal = (self._record("chain.json") or {}).get("compare") or {}
        return Path(seal["baseline"]) if seal.get("baseline") else None

    @cached_property
    def baseline(self) -> OnnxModel | None:
        """The baseline's model, after its SHA256SUMS are checked; None without one."""
        from ci_ml.stages.baseline import load_baseline
        from ci_ml.testing.model import OnnxModel

        if self.baseline_dir is None:
            return None
        base = load_baseline(self.baseline_dir)
        return OnnxModel(base.directory / "model.onnx", base.manifest)
