"""New data read a chunk at a time: Parquet by its row groups' batches (pyarrow),
CSV and TSV by pandas' chunks, only the columns asked for, category columns as
text (so "007" stays "007" and a code stays the same text in every chunk)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.data import file_kind
from ci_ml.engine import check_dataset, dataset_files, is_dataset
from ci_ml.errors import DataValidationError, UsageError

if TYPE_CHECKING:
    import pandas as pd


def current_files(paths: list[Path]) -> list[Path]:
    """The files --current names: each file as given, a Parquet dataset (a
    directory or a glob, as a build reads one: ci_ml.engine.dataset_files) as its
    files, checked against each other from their metadata; every kind checked
    before anything is downloaded or read."""
    files: list[Path] = []
    for p in paths:
        if is_dataset(p):
            found = dataset_files(p)
            check_dataset(found)
            files += found
        else:
            kind_of(p)
            files.append(p)
    return files


def kind_of(path: Path) -> str:
    return file_kind(
        path,
        "check the paths given to --current",
        "pass .csv, .tsv or .parquet files, or a directory of Parquet files, to --current",
    )


def _unreadable(path: Path, kind: str, e: Exception) -> DataValidationError:
    why = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
    return DataValidationError(f"{path}: could not be read as {kind}: {why}", file=str(path))


def header(path: Path) -> list[str]:
    """The file's column names (nothing else is read)."""
    kind = kind_of(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return [str(c) for c in pq.ParquetFile(path).schema_arrow.names]
        import pandas as pd

        sep = "\t" if kind == "tsv" else ","
        return [str(c) for c in pd.read_csv(path, sep=sep, nrows=0).columns]
    except Exception as e:  # pyarrow and pandas raise many kinds: all mean unreadable
        raise _unreadable(path, kind, e) from None


def chunks(
    path: Path, columns: list[str], text: set[str], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    """The file's `columns` (those it has), `chunk_rows` rows at a time at most;
    the columns in `text` as text."""
    kind = kind_of(path)
    present = set(header(path))
    wanted = [c for c in columns if c in present]
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            f = pq.ParquetFile(path)
            for batch in f.iter_batches(batch_size=chunk_rows, columns=wanted):
                frame = batch.to_pandas()
                for c in text & set(wanted):
                    s = frame[c]
                    frame[c] = s.where(s.isna(), s.astype(str))
                yield frame
            return
        import pandas as pd

        sep = "\t" if kind == "tsv" else ","
        dtypes = {c: str for c in wanted if c in text}
        with pd.read_csv(
            path, sep=sep, usecols=wanted, dtype=dtypes, chunksize=chunk_rows
        ) as reader:
            yield from reader
    except (UsageError, DataValidationError):
        raise
    except Exception as e:
        raise _unreadable(path, kind, e) from None
