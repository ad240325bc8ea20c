"""Loading the train and holdout data, and what the manifest records about it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import suggest
from ci_ml.artifact import sha256_file
from ci_ml.engine import (
    Sampled,
    check_dataset,
    dataset_digest,
    dataset_files,
    in_holdout,
    is_dataset,
)
from ci_ml.errors import ConfigError, DataValidationError, UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from ci_ml.config import Config
    from ci_ml.engine import Engine

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".tsv": "tsv"}


CONFIG_PATHS = (
    "check data.train / data.test / data.path in the config; paths are relative to the config file"
)


def file_kind(
    path: Path, named_by: str = CONFIG_PATHS, types: str = "use a .csv, .tsv or .parquet file"
) -> str:
    """csv, tsv or parquet, from the name; a usage error saying how to fix a file
    of another type (`types`) or a path that is not there (`named_by`)."""
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(
            f"{path}: unsupported data file type {path.suffix or '(none)'!r}", hint=types
        )
    if not path.is_file():
        raise UsageError(f"data file {path} not found", hint=named_by)
    return kind


def read_frame(path: Path, named_by: str = CONFIG_PATHS) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file, or a partitioned Parquet dataset (a directory or
    a glob, read_dataset), with an error that says how to fix a bad path
    (`named_by`: where the path came from, and how to correct it there)."""
    import pandas as pd

    if is_dataset(path):
        return read_dataset(path, named_by)
    kind = file_kind(path, named_by)
    check_memory(path, kind)
    try:
        if kind == "parquet":
            df = pd.read_parquet(path)
            header = [str(c) for c in df.columns]
        else:
            sep = "\t" if kind == "tsv" else ","
            df = pd.read_csv(path, sep=sep)
            # pandas renames a repeated header (a, a.1); the file's own header says.
            header = [str(c) for c in pd.read_csv(path, sep=sep, header=None, nrows=1).iloc[0]]
    except MemoryError:
        raise DataValidationError(
            f"{path}: ran out of memory reading it ({_size(path.stat().st_size)} on disk, "
            f"{_size(available_memory())} of memory free)",
            file=str(path),
            hint="use a smaller sample of the data, Parquet, or a runner with more memory",
        ) from None
    except Exception as e:  # pandas raises many kinds; all mean "this file is unreadable"
        why = str(e)[:300] or type(e).__name__
        raise DataValidationError(
            f"{path}: could not be read as {kind}: {why}", file=str(path)
        ) from None
    check_table(df, header, path)
    return df


def read_dataset(path: Path, named_by: str = CONFIG_PATHS) -> pd.DataFrame:
    """A partitioned Parquet dataset read whole, its files in the order the Dask
    engine reads them (ci_ml.engine.dataset_files), so a row's position is the same
    on both engines. Every file must have the same columns; their order is the
    first file's, and each of one kind (check_dataset)."""
    import pandas as pd

    files = dataset_files(path)
    check_dataset(files)
    need, free = sum(memory_needed(f, "parquet") for f in files), available_memory()
    if free is not None and need > free:
        raise DataValidationError(
            f"{path}: reading its {len(files)} files takes at least {_size(need)} of memory, "
            f"and {_size(free)} is free",
            file=str(path),
            hint="run the build on a cluster (engine: {kind: dask}, docs/guide/scale.md), "
            "or use a runner with more memory",
        )
    frames = [read_frame(f, named_by) for f in files]
    first = list(frames[0].columns)  # check_dataset: every file has these
    for c in first:
        # A categorical column stays one, with every file's categories in the order
        # they appear (as the Dask engine reads it); pandas would make it text.
        if all(isinstance(df[c].dtype, pd.CategoricalDtype) for df in frames):
            cats = pd.unique(pd.concat([df[c].cat.categories.to_series() for df in frames]))
            for df in frames:
                df[c] = df[c].cat.set_categories(cats)
    return pd.concat([df[first] for df in frames], ignore_index=True)


def available_memory() -> int | None:
    """Bytes of memory a new allocation can still get (Linux: MemAvailable), or
    None where it cannot be told."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _size(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n:.1f} TB"


def memory_needed(path: Path, kind: str) -> int:
    """A lower bound on the memory a file takes once read: a text file's size (a
    number takes 8 bytes in memory, about what it takes written; text takes more),
    a Parquet file's uncompressed size from its own metadata."""
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
            return sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        except Exception:  # an unreadable file is read_frame's to report
            return 0
    return path.stat().st_size


def check_memory(path: Path, kind: str) -> None:
    """Fail fast, with the numbers, on a file that cannot fit in memory, instead of
    reading until the machine runs out (a build reads its data whole)."""
    need, free = memory_needed(path, kind), available_memory()
    if free is not None and need > free:
        raise DataValidationError(
            f"{path}: reading it takes at least {_size(need)} of memory, and {_size(free)} is free",
            file=str(path),
            hint="use a sample of the data (or Parquet, which reads only the columns it "
            "needs), or a runner with more memory",
        )


def _nested(v: Any) -> bool:
    return isinstance(v, (list, tuple, dict, set)) or hasattr(v, "shape")


def check_table(df: pd.DataFrame, header: list[str], path: Path) -> None:
    """A flat table with one column per name: what every stage assumes."""
    from collections import Counter

    dupes = sorted(name for name, n in Counter(header).items() if n > 1)
    if dupes:
        raise DataValidationError(
            f"{path}: the header repeats column name(s) {', '.join(map(repr, dupes[:10]))}",
            file=str(path),
            hint="give every column its own name",
        )
    for c in df.columns:
        if df[c].dtype == object:
            sample = df[c].dropna().head(1000)
            if sample.map(_nested).any():
                raise DataValidationError(
                    f"{path}: column {str(c)!r} holds nested values (lists or records)",
                    file=str(path),
                    hint="flatten it into plain columns before training",
                )


@dataclass
class Scale:
    """A build on an engine other than local: the engine, each role's sample (the
    rows the client holds of the whole) and the split the engine made."""

    engine: Engine
    sampled: dict[str, Sampled]
    split: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.engine.describe(),
            "sample": {
                role: {"rows": s.rows, "of": s.total, "seed": s.seed}
                for role, s in self.sampled.items()
            },
        }


@dataclass
class DataFile:
    path: str
    sha256: str
    rows: int
    columns: int


class Dataset:
    """The configured data: the frames as read without `data.drop`'s columns
    (`sources`, what the schema tests) and the train/holdout split (computed on
    first use, after validation). The dropped columns are kept aside for the
    holdout rows as they are in the files (`holdout_rows`): a baseline built
    before a column was dropped is scored with its own columns."""

    def __init__(
        self,
        cfg: Config,
        sources: dict[str, pd.DataFrame],
        files: dict[str, DataFile],
        dropped: dict[str, pd.DataFrame] | None = None,
        scale: Scale | None = None,
        held: NDArray[np.bool_] | None = None,
    ):
        self.cfg = cfg
        self._held = held  # a row-key split's holdout rows of sources["data"]
        # engine: {kind: dask}: the engine (its passes over every row) and what the
        # client's frames are of the whole (None: a local build, the frames are all).
        self.scale = scale
        self.sources = sources  # {"data": df} or {"train": df, "test": df}
        self.files = files
        self.target = cfg.data.target
        self._dropped = dropped or {}  # by source: data.drop's columns, same rows
        self._split: tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None] | None = None
        self._train_rows: int | None = None
        self._holdout: pd.DataFrame | None = None
        self._holdout_rows: pd.DataFrame | None = None

    def _ensure_split(self) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any] | None]:
        if self._split is None:
            if "data" in self.sources:
                self._split = _split(self.sources["data"], self.cfg, self._held)
            else:
                self._split = (self.sources["train"], self.sources["test"], None)
        return self._split

    @property
    def train(self) -> pd.DataFrame:
        return self._ensure_split()[0]

    @property
    def test(self) -> pd.DataFrame:
        return self._ensure_split()[1]

    @property
    def train_rows(self) -> int:
        return len(self.train) if self._train_rows is None else self._train_rows

    def drop_train(self, keep: Sequence[str] = ()) -> None:
        """Let the training rows go once the model is fitted: the stages after
        train read the holdout only, and a build should not carry the largest
        frame to its end. Columns, dtypes and the row count stay (the manifest's).
        `keep`: columns a later stage still draws from the training rows (the model
        tests' resampled invariance checks), kept whole."""
        train, test, split = self._ensure_split()
        self._train_rows = len(train)
        # copies: a slice would keep the whole frame's arrays alive
        kept = train[list(keep)].copy() if keep else train.iloc[:0].copy()
        self._split = (kept, test, split)
        if "data" in self._dropped:  # only the holdout's rows of the dropped columns
            self._dropped["data"] = self._dropped["data"].loc[test.index].copy()
        self.sources = {
            role: df if role == "test" else df.iloc[:0].copy() for role, df in self.sources.items()
        }

    @property
    def split(self) -> dict[str, Any] | None:
        if self.scale is not None:
            return self.scale.split
        return self._ensure_split()[2]

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in next(iter(self.sources.values())).columns]

    @property
    def features(self) -> list[str]:
        return [c for c in next(iter(self.sources.values())).columns if c != self.target]

    def xy(self, which: str) -> tuple[pd.DataFrame, pd.Series]:
        """Features and target. Missing values in string columns become '' because
        ONNX strings have no null: the model sees the same value in training, in
        the parity check and in production (impute with missing_values="")."""
        df = self.train if which == "train" else self.test
        return self.features_of(which), df[self.target]

    @property
    def holdout_rows(self) -> pd.DataFrame:
        """The holdout rows with every column of the files but the target (the
        features and `data.drop`'s columns), as models read them (see `xy`); made
        once and kept."""
        if self._holdout_rows is None:
            test = self.test
            extra = self._dropped.get("data" if "data" in self._dropped else "test")
            if extra is not None and len(extra.columns):
                test = test.join(extra.loc[test.index])
            columns = [c for c in test.columns if c != self.target]
            self._holdout_rows = self._features(test, columns)
        return self._holdout_rows

    def features_of(self, which: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The feature columns (or `columns` of them) as the model sees them (see `xy`).
        The holdout's are made once and kept: every stage after train reads them,
        and the baseline's scores on them are kept by the frame they are of."""
        if which == "test" and columns is None:
            if self._holdout is None:
                self._holdout = self._features(self.test, None)
            return self._holdout
        return self._features(self.train if which == "train" else self.test, columns)

    def _features(self, df: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
        return model_input(df, self.features if columns is None else list(columns))


def model_input(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`columns` of `df` as a model reads them: a missing text value as "" (see
    `Dataset.xy`). Also what a Dask trainer applies to each partition on the workers."""
    X = df[list(columns)]
    text = [c for c in X.columns if is_text(X[c])]
    if text:
        X = X.copy()
        for c in text:
            X[c] = X[c].astype(object).where(X[c].notna(), "").astype(str)
    return X


def is_text(s: pd.Series) -> bool:
    import pandas as pd

    return not (
        pd.api.types.is_numeric_dtype(s)
        or pd.api.types.is_bool_dtype(s)
        or pd.api.types.is_datetime64_any_dtype(s)
    )


def _describe(path: Path, df: pd.DataFrame, base: Path, sha: str | None) -> DataFile:
    try:
        shown = str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        shown = str(path)
    if sha is None:
        sha = dataset_digest(path, sha256_file) if is_dataset(path) else sha256_file(path)
    return DataFile(shown, sha, rows=len(df), columns=df.shape[1])


def infer_task(y: pd.Series) -> str:
    """classification for strings, booleans and small integer label sets; else regression."""
    import pandas as pd
    from sklearn.utils.multiclass import type_of_target

    if (
        isinstance(y.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(y)
        or not pd.api.types.is_numeric_dtype(y)
    ):
        return "classification"
    values = y.dropna()
    if values.empty:  # the target checks report it; any task will do until then
        return "regression"
    kind = type_of_target(values.to_numpy())
    # Whole numbers are classes only when there are few of them: counts and
    # years are whole numbers too.
    if kind in ("binary", "multiclass") and values.nunique() <= max(2, min(20, len(y) // 20)):
        return "classification"
    return "regression"


def data_paths(cfg: Config) -> dict[str, Path]:
    """The configured data files by role: {"data": …} or {"train": …, "test": …}."""
    d = cfg.data
    if d.path is not None:
        return {"data": cfg.resolve(d.path)}
    return {"train": cfg.resolve(d.train), "test": cfg.resolve(d.test)}


def data_digests(cfg: Config) -> dict[str, str]:
    """The sha256 of each configured source: of the file, or for a partitioned
    dataset, of its files' own digests (ci_ml.engine.dataset_digest)."""
    out = {}
    for role, p in data_paths(cfg).items():
        if p.is_file():
            out[role] = sha256_file(p)
        elif is_dataset(p) or cfg.engine.kind != "local":
            out[role] = dataset_digest(p, sha256_file)
    return out


def load_dataset(
    cfg: Config, shas: dict[str, str] | None = None, engine: Engine | None = None
) -> Dataset:
    """Read the configured data and drop the configured columns; split on first use.
    `shas` are the files' sha256 if the caller has them already. With an engine
    (engine: dask) the frames are its seeded samples (load_sampled)."""
    if engine is not None:
        return load_sampled(cfg, engine, shas or data_digests(cfg))
    d = cfg.data
    shas = shas or {}
    files: dict[str, DataFile] = {}
    if d.path is not None:
        path = cfg.resolve(d.path)
        df = read_frame(path)
        files["data"] = _describe(path, df, cfg.base_dir, shas.get("data"))
        # A row-key split hashes each row as the file holds it, dropped columns
        # included, as the Dask engine does: dropping a column moves no row across.
        s = d.split
        held = (
            in_holdout(df, s.test_size, s.seed)
            if s is not None and cfg.split_by == "row_key"
            else None
        )
        dropped = {"data": df[list(d.drop)]} if d.drop and set(d.drop) <= set(df.columns) else {}
        df = _drop(df, d.drop, path)
        _require_target(df, d.target, path)
        return Dataset(cfg, {"data": df}, files, dropped, held=held)
    train_path, test_path = cfg.resolve(d.train), cfg.resolve(d.test)
    train, test = read_frame(train_path), read_frame(test_path)
    files["train"] = _describe(train_path, train, cfg.base_dir, shas.get("train"))
    files["test"] = _describe(test_path, test, cfg.base_dir, shas.get("test"))
    # The holdout's dropped columns are kept aside (a baseline may read them); they are
    # the holdout file's, which may lack some the training file has.
    kept = [c for c in d.drop if c in test.columns]
    dropped = {"test": test[kept]} if kept else {}
    train, test = _drop(train, d.drop, train_path), _drop(test, kept, test_path)
    _require_target(train, d.target, train_path)
    _require_target(test, d.target, test_path)
    missing = [c for c in train.columns if c not in test.columns]
    if missing:
        raise DataValidationError(
            f"{test_path}: holdout data lacks columns the training data has: {', '.join(map(str, missing))}",
            file=str(test_path),
            hint="train and test files must have the same columns",
        )
    return Dataset(cfg, {"train": train, "test": test[list(train.columns)]}, files, dropped)


def load_sampled(cfg: Config, engine: Engine, shas: dict[str, str]) -> Dataset:
    """The Dataset of a build on an engine: the training and holdout rows the
    client holds are seeded samples of at most `engine.sample_rows` rows each
    (every row when there are no more), in the data's order; the engine keeps the
    whole for the passes over every row (validation, the row checks)."""
    d, e = cfg.data, cfg.engine
    frames, sampled = {}, {}
    for role in ("train", "test"):
        total = engine.rows(role)
        df = engine.sample(role, e.sample_rows, e.seed)
        sampled[role] = Sampled(len(df), total, e.seed)
        frames[role] = df
    files = {}
    for role, path in data_paths(cfg).items():
        first = frames["train" if role != "test" else "test"]
        rows = sum(engine.rows(r) for r in ("train", "test")) if role == "data" else None
        check_table(first, [str(c) for c in first.columns], path)
        files[role] = DataFile(
            _shown(path, cfg.base_dir),
            shas[role],
            rows=rows if rows is not None else engine.rows(role),
            columns=first.shape[1],
        )
    kept = [c for c in d.drop if c in frames["test"].columns]
    dropped = {"test": frames["test"][kept]} if kept else {}
    where = data_paths(cfg)
    train = _drop(frames["train"], d.drop, where.get("train", where.get("data", Path("data"))))
    test = _drop(frames["test"], kept, where.get("test", where.get("data", Path("data"))))
    for role, df in (("train", train), ("test", test)):
        _require_target(df, d.target, where.get(role, where.get("data", Path(role))))
    split = None
    if d.split is not None and d.path is not None:
        split = {"test_size": d.split.test_size, "seed": d.split.seed, "stratify": False}
        split["by"] = "row key"  # ci_ml.engine.in_holdout: a hash of each row's values
    scale = Scale(engine, sampled, split)
    return Dataset(cfg, {"train": train, "test": test[list(train.columns)]}, files, dropped, scale)


def _shown(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _drop(df: pd.DataFrame, drop: list[str], path: Path) -> pd.DataFrame:
    unknown = [c for c in drop if c not in df.columns]
    if unknown:
        raise ConfigError(
            f"data.drop: {path.name} has no column(s) {', '.join(map(repr, unknown))}",
            hint=suggest.hint(unknown[0], df.columns),
        )
    return df.drop(columns=drop)


def _require_target(df: pd.DataFrame, target: str, path: Path) -> None:
    if target not in df.columns:
        raise DataValidationError(
            f"{path}: target column {target!r} not found",
            file=str(path),
            hint=suggest.hint(target, df.columns, "set data.target to one of the columns"),
        )


def _split(
    df: pd.DataFrame, cfg: Config, held: NDArray[np.bool_] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The training and holdout rows of `data.path`; `held`: a row-key split's
    holdout rows (ci_ml.engine.in_holdout, the Dask engine's split, so one config
    gives the same holdout rows on either engine)."""
    from sklearn.model_selection import train_test_split

    s = cfg.data.split
    assert s is not None
    if held is not None:
        info = {"test_size": s.test_size, "seed": s.seed, "stratify": False, "by": "row key"}
        return df[~held], df[held], info
    y = df[cfg.data.target]
    task = cfg.task if cfg.task != "auto" else infer_task(y)
    stratify = s.stratify if s.stratify is not None else task == "classification"
    try:
        train, test = train_test_split(
            df, test_size=s.test_size, random_state=s.seed, stratify=y if stratify else None
        )
    except ValueError as e:
        raise DataValidationError(
            f"could not split the data: {e}",
            hint="lower data.split.test_size or set stratify: false",
        ) from None
    # Sorting by original position keeps the split reproducible and readable.
    return (
        train.sort_index(),
        test.sort_index(),
        {"test_size": s.test_size, "seed": s.seed, "stratify": stratify},
    )


# Below these a model learns nothing a comparison could tell from noise, and a
# class with one training row is all but absent (the parity check then compares
# two ways of failing). `ci-ml init` asks the same of the whole table, scaled to
# what its 80/20 split leaves for training.
MIN_TRAIN_ROWS = 10
MIN_CLASS_ROWS = 2


def too_few_rows(
    y: pd.Series,
    task: str,
    what: str,
    min_rows: int = MIN_TRAIN_ROWS,
    min_class: int = MIN_CLASS_ROWS,
) -> str | None:
    """Why `y` (the training rows' target, or a whole table's) is too small to
    train on, in numbers; None when it is not."""
    if len(y) < min_rows:
        return f"{what} hold {len(y)} row(s); training needs at least {min_rows}"
    if task != "classification":
        return None
    counts = y.astype(str).value_counts()
    small = counts[counts < min_class]
    if small.empty:
        return None
    shown = ", ".join(f"{n} of {c!r}" for c, n in small.head(5).items())
    return (
        f"{what} hold too few rows of {len(small)} class(es) ({shown}); a classifier needs "
        f"at least {min_class} of each to learn it"
    )
