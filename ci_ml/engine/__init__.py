"""Engines: where the data are read and the passes over every row run.

`local` (the default) is pandas in this process: ci_ml.data reads each file whole
and nothing here is used. `dask` (ci_ml.engine.dask) reads partitioned Parquet
datasets lazily on a Dask cluster and answers the questions that need every row
(validation, the row checks, the row counts) as per-partition results combined
here; the client holds a seeded, bounded sample of the rows for what fits on one
machine (fitting an estimator that cannot train on the cluster, the per-row
stages). `LocalEngine` (ci_ml.engine.local) is the same protocol over frames in
memory: one partition each, for tests and for code that takes either.

What differs between engines is this protocol; everything decided from the
per-partition results is a pure function below, the same for every engine.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from ci_ml.errors import DataValidationError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from ci_ml.records import SchemaFailure

T = TypeVar("T")
P = TypeVar("P")  # what a partition becomes for two passes (Passes.prepare)
A = TypeVar("A")  # what a pass sums over the partitions
C = TypeVar("C")  # what the second pass reads of the first's sum
S = TypeVar("S", covariant=True)  # what the client receives of the first's sum

PARQUET = (".parquet", ".pq")
# Data files of other types that a dataset's directory must not hold: their rows
# would be left out without a word.
OTHER_DATA = (".csv", ".tsv", ".json", ".jsonl", ".orc", ".avro", ".feather")
# Below a dataset's directory, names starting with these are metadata, not rows
# (Spark's _SUCCESS, .crc files, _delta_log/): skipped, as pyarrow's discovery does.
HIDDEN = ("_", ".")


class Passes(Protocol[P, A, C, S]):
    """Two passes over the partitions of a source whose results are summed where
    they are computed, so that no row reaches the client: `prepare` turns a
    partition into what both passes read (kept on the worker in between),
    `first` and `second` give each partition's part of a sum (`add` adds two),
    and `middle` turns the first sum into what the second pass reads and what
    the client is told. The object goes to each worker once."""

    def prepare(self, df: pd.DataFrame) -> P: ...

    def first(self, part: P) -> A: ...

    def add(self, a: A, b: A) -> A: ...

    def middle(self, total: A) -> tuple[C, S]: ...

    def second(self, part: P, context: C) -> A: ...


def fold_parts(parts: list[pd.DataFrame], passes: Passes[P, A, C, S]) -> tuple[S, A]:
    """`Engine.fold` over frames in this process: what every engine must give."""
    import functools

    prepared = [passes.prepare(df) for df in parts]
    total = functools.reduce(passes.add, [passes.first(p) for p in prepared])
    context, told = passes.middle(total)
    return told, functools.reduce(passes.add, [passes.second(p, context) for p in prepared])


class Engine(Protocol):
    """What a stage asks of the data, whatever holds it."""

    kind: str

    def rows(self, role: str) -> int:
        """How many rows a source ("data", "train" or "test") holds."""
        ...

    def map_partitions(
        self, role: str, fn: Callable[[pd.DataFrame, int], T], columns: list[str] | None = None
    ) -> list[T]:
        """`fn(partition, first_row)` on every partition of a source, each result
        brought back (they must be small: counts, a few examples); `first_row` is
        the partition's first row's position in the source, for messages."""
        ...

    def fold(self, role: str, passes: Passes[P, A, C, S]) -> tuple[S, A]:
        """Two passes over every partition of a source (`Passes`): what `middle`
        tells the client of the first sum, and the second sum. The sums are added
        where the partitions are; the client receives only these two."""
        ...

    def sample(self, role: str, rows: int, seed: int) -> pd.DataFrame:
        """A seeded sample of about `rows` rows (every row when the source holds no
        more), in the source's order, as a pandas frame on the client."""
        ...

    def row_checks(self, features: list[str], target: str, examples: int) -> RowChecks:
        """Duplicates and conflicting labels among the training rows, and holdout
        rows that occur in the training rows, over every row: rows compared by a
        hash of their values (a shuffle on the cluster, never a collect)."""
        ...

    def fitting(self) -> AbstractContextManager[object]:
        """Where an estimator's own parallel work runs while it is fitted on the
        client's sample: joblib's backend (scikit-learn's n_jobs, its searches)."""
        ...

    def describe(self) -> dict[str, object]:
        """What the manifest records of the engine (kind, workers, partitions)."""
        ...

    def close(self) -> None: ...


# --- the files ----------------------------------------------------------------------


GLOB = "*?["


def is_dataset(path: Path) -> bool:
    """A partitioned Parquet dataset (a directory, or a glob) rather than one file
    (a file that is there is one, even with a [ or * in its path)."""
    return path.is_dir() or (not path.is_file() and any(ch in str(path) for ch in GLOB))


def dataset_base(path: Path) -> Path:
    """The folder a dataset's files are named from: the directory, or a glob's
    parts before its first wildcard (data/*/part-*.parquet: data)."""
    if path.is_dir():
        return path
    fixed = []
    for part in path.parts:
        if any(ch in part for ch in GLOB):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def dataset_files(path: Path) -> list[Path]:
    """The Parquet files of a dataset given as a directory (every .parquet below it,
    hive partitions included) or a glob, in a stable order; a clear error when
    there are none."""
    if path.is_dir():
        every = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(x.startswith(HIDDEN) for x in p.relative_to(path).parts)
        )
        other = [p for p in every if p.suffix.lower() in OTHER_DATA]
        if other:
            raise UsageError(
                f"{other[0]}: a {other[0].suffix} file in the dataset {path}, whose Parquet "
                "files alone would be read (its rows would be left out)",
                hint="convert it to Parquet (pandas: df.to_parquet) or move it out of the "
                "dataset's directory",
            )
        files = [p for p in every if p.suffix.lower() in PARQUET]
    elif any(ch in str(path) for ch in GLOB):
        # Wildcards in any part (data/*/part-*.parquet); ** for any depth.
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    else:
        files = [path] if path.is_file() else []
    if not files:
        raise UsageError(
            f"{path}: no Parquet files found",
            hint="data.path / data.train / data.test name a data file, a directory of "
            "Parquet files, or a glob such as data/train/*.parquet",
        )
    bad = [p for p in files if p.suffix.lower() not in PARQUET]
    if bad:
        raise UsageError(
            f"{bad[0]}: a dataset (a directory or a glob) is read as Parquet, not "
            f"{bad[0].suffix or 'this'} files",
            hint="convert the data to Parquet (pandas: df.to_parquet); the local engine also "
            "reads one CSV or TSV file",
        )
    return files


def _kind_of(arrow_type: object) -> str:
    """A column's Arrow type as the kind two files may differ in without harm:
    any integer or float is a number (a file whose column has missing values
    stores floats), a null column (all missing) fits any kind."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_dictionary(t):
        t = t.value_type  # type: ignore[attr-defined]
    checks = (
        ("null", pa.types.is_null),
        ("number", lambda x: pa.types.is_integer(x) or pa.types.is_floating(x)),
        ("decimal", pa.types.is_decimal),
        ("text", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)),
        ("boolean", pa.types.is_boolean),
        ("date or time", pa.types.is_temporal),
    )
    for kind, test in checks:
        if test(t):
            return kind
    return str(t)


def check_dataset(files: list[Path]) -> None:
    """Every file of a dataset has the first file's columns, each of the same kind
    (read from the files' own metadata, no row read): what one engine would upcast
    to text without a word and another would fail on mid-build."""
    import pyarrow.parquet as pq

    kinds: dict[str, str] | None = None
    for f in files:
        try:
            schema = pq.read_schema(f)
        except Exception as e:  # pyarrow raises many kinds; all mean "unreadable"
            raise DataValidationError(
                f"{f}: could not be read as Parquet: {str(e)[:300]}",
                file=str(f),
                hint="every file of a dataset must be a Parquet file",
            ) from None
        mine = {
            name: _kind_of(schema.field(name).type)
            for name in schema.names
            if name != "__index_level_0__"  # pandas' index, when written
        }
        if kinds is None:
            kinds, first = mine, f
            continue
        missing = [c for c in kinds if c not in mine]
        extra = [c for c in mine if c not in kinds]
        if missing or extra:
            said = "; ".join(
                part
                for part in (
                    f"it lacks {', '.join(missing)}" if missing else "",
                    f"it has {', '.join(extra)} as well" if extra else "",
                )
                if part
            )
            raise DataValidationError(
                f"{f}: its columns are not those of {first.name}: {said}",
                file=str(f),
                hint="every file of a dataset must have the same columns",
            )
        for c, kind in mine.items():
            if "null" not in (kind, kinds[c]) and kind != kinds[c]:
                raise DataValidationError(
                    f"{f}: column {c} holds {kind} values where {first.name} holds {kinds[c]}",
                    file=str(f),
                    hint=f"write {c} with one type in every file of the dataset",
                )
            if kinds[c] == "null":
                kinds[c] = kind


def dataset_digest(path: Path, digest: Callable[[Path], str]) -> str:
    """One sha256 for a dataset: of each file's path (relative to the dataset) and
    its own sha256, so renaming, adding or changing any file changes it, and no
    file is ever read whole into memory. `digest(file)` hashes one file."""
    files = dataset_files(path)
    base = dataset_base(path)
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(base).as_posix()}\0{digest(f)}\n".encode())
    return h.hexdigest()


# --- the split and the sample: a function of each row, not of where it is --------------

_GOLDEN = 0x9E3779B97F4A7C15


def hashable(df: pd.DataFrame) -> pd.DataFrame:
    """A frame's values as row hashes should see them: every integer or float
    column as float64 (3 and 3.0 are one value: a file whose column has a missing
    value stores floats where another file of the dataset stores integers), and
    -0.0 as 0.0. Other columns as they are."""
    import pandas as pd

    out = {}
    for c in df.columns:
        col = df[c]
        if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_float_dtype(col.dtype):
            col = col.astype("float64") + 0.0
        out[c] = col
    return pd.DataFrame(out, index=df.index)


def hash_rows(df: pd.DataFrame) -> NDArray[np.uint64]:
    """pandas' hash of each row's values (hashable), whatever its dtypes."""
    import numpy as np
    import pandas as pd

    return pd.util.hash_pandas_object(hashable(df), index=False).to_numpy(dtype=np.uint64)


def row_keys(df: pd.DataFrame, salt: int) -> NDArray[np.uint64]:
    """A 64-bit key per row from its values alone (hash_rows) mixed with `salt`:
    the same row gets the same key whatever partition it is in, wherever it
    stands there and whichever numeric type its file gave a column."""
    import numpy as np

    h = hash_rows(df)
    with np.errstate(over="ignore"):
        h = h ^ np.uint64((salt * _GOLDEN) & 0xFFFFFFFFFFFFFFFF)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
    return h


def uniform(keys: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Keys as numbers in [0, 1): their top 53 bits."""
    import numpy as np

    return (keys >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def in_holdout(df: pd.DataFrame, test_size: float, seed: int) -> NDArray[np.bool_]:
    """Which rows of a partition the split puts in the holdout: those whose key is
    below `test_size`. Deterministic per row, so it does not depend on how the data
    are partitioned (identical rows fall on the same side). Not stratified: each
    class keeps `test_size` of its rows in expectation."""
    return uniform(row_keys(df, seed)) < test_size


def in_sample(df: pd.DataFrame, fraction: float, seed: int) -> NDArray[np.bool_]:
    """Which rows of a partition a seeded Bernoulli sample of `fraction` keeps
    (salted apart from the split: the sample is no slice of the split's keys)."""
    import numpy as np

    if fraction >= 1:
        return np.ones(len(df), dtype=bool)
    return uniform(row_keys(df, seed + 0x5A5A)) < fraction


@dataclass(frozen=True)
class Found:
    """How many rows a row check found, and the first few (positions in the rows
    it read)."""

    rows: int
    examples: list[int]


@dataclass(frozen=True)
class RowChecks:
    train_rows: int
    test_rows: int
    duplicates: Found  # training rows (features and target) repeating an earlier one
    conflicting_labels: Found  # training rows in groups of equal features with 2+ labels
    contamination: Found  # holdout rows whose features occur in the training rows


def key_columns(
    df: pd.DataFrame, features: list[str], target: str, start: int, side: int = 0
) -> pd.DataFrame:
    """A partition's rows as keys: their position, a hash of their features and
    one of their target (equal values, equal hashes, in any partition: hash_rows),
    and their side (0 training, 1 holdout)."""
    import numpy as np
    import pandas as pd

    return pd.DataFrame(
        {
            "pos": np.arange(start, start + len(df), dtype=np.int64),
            "fh": hash_rows(df[features]),
            "yh": hash_rows(df[[target]]),
            "side": np.full(len(df), side, dtype=np.int8),
        }
    )


def row_checks_of(keys: pd.DataFrame, examples: int) -> tuple[RowChecks, int, int]:
    """The row checks on key frames (key_columns, with `side` 0 for training rows
    and 1 for holdout rows) that hold every row of each feature hash they hold
    (all rows, or one partition of a shuffle by `fh`): RowChecks with the rows
    counted here, and the counts of training and holdout rows."""
    import numpy as np

    train, test = keys[keys["side"] == 0], keys[keys["side"] == 1]
    first = train.groupby(["fh", "yh"], sort=False)["pos"].transform("min")
    dup = train["pos"][train["pos"] != first]
    labels = train.groupby("fh", sort=False)["yh"].transform("nunique")
    conflict = train["pos"][labels > 1]
    hit = test["pos"][np.isin(test["fh"].to_numpy(), train["fh"].to_numpy())]

    def found(rows: pd.Series) -> Found:
        return Found(len(rows), sorted(int(i) for i in rows.nsmallest(examples)))

    checks = RowChecks(len(train), len(test), found(dup), found(conflict), found(hit))
    return checks, len(train), len(test)


def combine_row_checks(parts: Iterable[tuple[RowChecks, int, int]], examples: int) -> RowChecks:
    """Row checks of disjoint sets of feature hashes added up: counts summed, the
    smallest example rows kept."""

    def add(a: Found, b: Found) -> Found:
        return Found(a.rows + b.rows, sorted(a.examples + b.examples)[:examples])

    total = RowChecks(0, 0, Found(0, []), Found(0, []), Found(0, []))
    for checks, _, _ in parts:
        total = RowChecks(
            total.train_rows + checks.train_rows,
            total.test_rows + checks.test_rows,
            add(total.duplicates, checks.duplicates),
            add(total.conflicting_labels, checks.conflicting_labels),
            add(total.contamination, checks.contamination),
        )
    return total


# --- combining what the partitions found ----------------------------------------------


def merge_failures(parts: Iterable[list[SchemaFailure]], examples: int) -> list[SchemaFailure]:
    """Schema failures found partition by partition as if found on the whole
    table: one per (dataset, column, check), the failing rows summed, the first
    `examples` examples and rows kept (partitions in order)."""
    from dataclasses import replace

    out: dict[tuple[str, str | None, str], SchemaFailure] = {}
    for failures in parts:
        for f in failures:
            key = (f.dataset, f.column, f.check)
            if key not in out:
                out[key] = replace(f, examples=list(f.examples), rows=list(f.rows))
                continue
            m = out[key]
            m.failing_rows += f.failing_rows
            room = examples - len(m.examples)
            if room > 0:
                m.examples += f.examples[:room]
                m.rows += f.rows[: max(0, examples - len(m.rows))]
    return list(out.values())


@dataclass(frozen=True)
class Sampled:
    """What the client holds of a source: `rows` of its `total` rows (the sample's
    seed: the engine's)."""

    rows: int
    total: int
    seed: int

    @property
    def whole(self) -> bool:
        return self.rows == self.total
