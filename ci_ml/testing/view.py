"""A built artifact folder as the pytest plugin's fixtures see it: its model,
the baseline it was compared with, the data it was built from, its records."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.artifact import BUILD_DIR, read_json
from ci_ml.baseline import load_baseline
from ci_ml.chain import CHAIN
from ci_ml.config import load_config
from ci_ml.data import load_dataset
from ci_ml.errors import UsageError
from ci_ml.json_types import JSONObject
from ci_ml.records import ChainRecord, Manifest, RecordError, load
from ci_ml.scoring.model import OnnxModel

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.baseline import Baseline
    from ci_ml.config import Config
    from ci_ml.data import Dataset
    from ci_ml.records import ChainRecord, Manifest
    from ci_ml.scoring.model import OnnxModel


class Preloaded:
    """A pytest plugin object `ci-ml test-model` hands the suites it runs in its own
    process: the baseline it has already verified, so it is not verified again."""

    def __init__(self, baseline: Baseline | None) -> None:
        self.baseline = baseline


class BuildView:
    """`config` and `baseline` default to what the build itself recorded: the
    config it was built with, the baseline it was compared with ("none": none)."""

    def __init__(
        self,
        artifact: Path,
        config: Path | None = None,
        baseline: Path | str | None = None,
        preloaded: Preloaded | None = None,
    ) -> None:
        self.artifact = Path(artifact)
        self._config = config
        self._baseline = baseline
        self._preloaded = preloaded
        if not (self.artifact / "manifest.json").is_file():
            raise UsageError(
                f"{self.artifact} holds no ci-ml build (no manifest.json)",
                hint="run `ci-ml run` first, and pass its --out folder to --ci-ml-artifact",
            )

    @cached_property
    def chain(self) -> ChainRecord | None:
        """The build's stage states (which config, which baseline), if readable."""

        path = self.artifact / BUILD_DIR / CHAIN
        try:
            return load(ChainRecord, read_json(path)) if path.is_file() else None
        except (OSError, ValueError, RecordError):
            return None

    @cached_property
    def config_path(self) -> Path:
        if self._config is not None:
            return Path(self._config)
        recorded = self.chain.config_path if self.chain else None
        if not recorded:
            raise UsageError(
                f"{self.artifact} does not say which config built it",
                hint="pass --ci-ml-config path/to/ci-ml.yaml, or build with `ci-ml run`",
            )
        return Path(recorded)

    @cached_property
    def cfg(self) -> Config:

        return load_config(self.config_path)

    @cached_property
    def dataset(self) -> Dataset:

        d = load_dataset(self.cfg)
        built = self.manifest.data.files if self.manifest.data else {}
        now = {role: f.sha256 for role, f in d.files.items()}
        if {role: f.sha256 for role, f in built.items()} != now:
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
    def manifest_json(self) -> JSONObject:
        """manifest.json as written (the `manifest` fixture: a plain dict)."""
        return read_json(self.artifact / "manifest.json")

    @cached_property
    def manifest(self) -> Manifest:

        path = self.artifact / "manifest.json"
        try:
            return load(Manifest, self.manifest_json)
        except (OSError, ValueError, RecordError) as e:
            raise UsageError(f"{path} is not a ci-ml manifest: {e}") from None

    @cached_property
    def metrics(self) -> JSONObject:
        path = self.artifact / "metrics.json"
        if not path.is_file():
            raise UsageError(f"{self.artifact} has no metrics.json: the build stopped early")
        return read_json(path)

    @cached_property
    def candidate(self) -> OnnxModel:

        return OnnxModel.load(self.artifact)

    @cached_property
    def baseline_dir(self) -> Path | None:
        if self._baseline is not None:
            return None if str(self._baseline) == "none" else Path(self._baseline)
        state = self.chain.stages.get("compare") if self.chain else None
        return Path(state.baseline) if state is not None and state.baseline else None

    @cached_property
    def baseline(self) -> OnnxModel | None:
        """The baseline's model, after its SHA256SUMS are checked; None without one."""

        if self.baseline_dir is None:
            return None
        pre = self._preloaded.baseline if self._preloaded else None
        if pre is not None and pre.directory.resolve() == self.baseline_dir.resolve():
            return OnnxModel(pre.model_path, pre.manifest)
        base = load_baseline(self.baseline_dir)
        return OnnxModel(base.model_path, base.manifest)
