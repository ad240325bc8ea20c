"""The Dask engine: partitioned Parquet read lazily on a Dask cluster.

A source is a Parquet file, a directory of them or a glob (ci_ml.engine.dataset_files).
With `data.path`, the split into training and holdout rows is made partition by
partition from each row's own key (ci_ml.engine.in_holdout), so it is the same
however the files are partitioned. The client only ever receives per-partition
results that are small (counts, a few examples) and the seeded sample of at most
`engine.sample_rows` rows per role.

The cluster is the one at the address in `engine.address_env`'s variable, else a
LocalCluster of `engine.workers` workers started here and closed with the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ci_ml.engine import (
    A,
    C,
    P,
    Passes,
    RowChecks,
    S,
    check_dataset,
    combine_row_checks,
    dataset_files,
    in_holdout,
    in_sample,
    key_columns,
    row_checks_of,
)
from ci_ml.errors import UsageError

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    from dask.delayed import Delayed

    from ci_ml.config import Config, EngineConfig

T = TypeVar("T")


def connect(cfg: EngineConfig, address: str | None) -> object:
    """A distributed Client: to the scheduler at `address` (engine.address_env's
    value, read by the CLI), or to a LocalCluster started for this build."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError(
            "engine: {kind: dask} needs Dask, which is not installed",
            hint="pip install 'ci-ml[dask]' (dask[distributed] and dask[dataframe])",
        ) from None
    if cfg.address_env is not None:
        address = (address or "").strip()
        if not address:
            raise UsageError(
                f"engine.address_env: the environment variable {cfg.address_env} is not set",
                hint=f"set {cfg.address_env} to the scheduler's address (tcp://host:8786) from a "
                "secret of the workflow, or remove address_env to start a local cluster",
            )
        try:
            return Client(address, timeout=cfg.connect_seconds)
        except (OSError, TimeoutError) as e:
            raise UsageError(
                f"engine: could not reach the Dask scheduler named by {cfg.address_env} "
                f"within {cfg.connect_seconds:g} s: {type(e).__name__}",
                hint="check the address, that this runner can reach it, and that the "
                "cluster runs the same Python packages as the runner",
            ) from None
    cluster = LocalCluster(
        n_workers=cfg.workers,
        threads_per_worker=cfg.threads_per_worker,
        processes=cfg.processes,
        dashboard_address=None,
    )
    return Client(cluster)


class DaskEngine:
    kind = "dask"

    def __init__(self, cfg: Config, address: str | None = None) -> None:
        import dask.dataframe as dd

        self.cfg = cfg
        self.client = connect(cfg.engine, address)
        d = cfg.data
        self.paths: dict[str, Path] = (
            {"data": cfg.resolve(d.path)}
            if d.path is not None
            else {"train": cfg.resolve(d.train), "test": cfg.resolve(d.test)}  # type: ignore[arg-type]
        )
        read: dict[str, dd.DataFrame] = {}
        for role, path in self.paths.items():
            found = dataset_files(path)
            check_dataset(found)
            files = [str(f) for f in found]
            try:
                # The files' own columns only: a hive key in the path (year=2024/) is
                # no column on the local engine either (ci_ml.data.read_dataset).
                read[role] = dd.read_parquet(files, dataset={"partitioning": None})
            except Exception as e:  # pyarrow raises many kinds; all mean "unreadable"
                raise UsageError(
                    f"{path}: could not be read as a Parquet dataset: {str(e)[:300]}",
                    hint="every file of a dataset must be Parquet with the same columns",
                ) from None
        self.frames = read
        if d.path is not None:
            s = d.split
            assert s is not None
            whole = read["data"]
            self.frames["train"] = whole.map_partitions(_side, s.test_size, s.seed, False)
            self.frames["test"] = whole.map_partitions(_side, s.test_size, s.seed, True)
        self._lengths: dict[str, list[int]] = {}
        self._samples: dict[tuple[str, int, int], pd.DataFrame] = {}

    # --- the protocol ---------------------------------------------------------------
    def lengths(self, role: str) -> list[int]:
        """Rows per partition: of every source at once, in one pass (they share
        their reads), the first time any is asked for."""
        if role not in self._lengths:
            import dask

            roles = list(self.frames)
            counts = dask.compute(*(self.frames[r].map_partitions(len) for r in roles))
            self._lengths = {r: [int(n) for n in c] for r, c in zip(roles, counts, strict=True)}
        return self._lengths[role]

    def rows(self, role: str) -> int:
        return sum(self.lengths(role))

    def columns(self, role: str) -> list[str]:
        return [str(c) for c in self.frames[role].columns]

    def map_partitions(
        self, role: str, fn: Callable[[pd.DataFrame, int], T], columns: list[str] | None = None
    ) -> list[T]:
        import dask

        ddf = self.frames[role]
        if columns is not None:
            ddf = ddf[columns]
        starts, at = [], 0
        for n in self.lengths(role):
            starts.append(at)
            at += n
        tasks = [
            dask.delayed(_positioned)(fn, part, start)
            for part, start in zip(ddf.to_delayed(), starts, strict=True)
        ]
        return list(dask.compute(*tasks))

    def fold(self, role: str, passes: Passes[P, A, C, S]) -> tuple[S, A]:
        """One graph: each partition prepared once and kept on its worker for both
        passes, each pass's parts added pairwise on the cluster (a tree), `middle`
        run there too; the client receives what `middle` tells and the second sum."""
        import dask

        shared = dask.delayed(passes, pure=True)  # sent to each worker once, not per task
        prepared = [dask.delayed(_prepare)(shared, p) for p in self.frames[role].to_delayed()]
        total = _tree(shared, [dask.delayed(_first)(shared, p) for p in prepared])
        middle = dask.delayed(_middle, nout=2)(shared, total)
        context, told = middle[0], middle[1]
        second = _tree(shared, [dask.delayed(_second)(shared, p, context) for p in prepared])
        out_told, out_second = dask.compute(told, second)
        return out_told, out_second

    def sample(self, role: str, rows: int, seed: int) -> pd.DataFrame:
        """A role's sample; the training and holdout samples are drawn together, in
        one pass over the data they share, and the other is kept for its call."""
        key = (role, rows, seed)
        if key not in self._samples:
            import dask

            roles: list[str] = [r for r in ("train", "test") if r in self.frames] or [role]
            picked = [
                self.frames[r].map_partitions(_sampled, rows / max(self.rows(r), 1), seed)
                for r in roles
            ]
            for r, df in zip(roles, dask.compute(*picked), strict=True):
                self._samples[(r, rows, seed)] = df.reset_index(drop=True)
        return self._samples.pop(key)

    def keys(self, role: str, features: list[str], target: str, side: int) -> dd.DataFrame:
        """Every row of a source as (position, feature hash, target hash, side), lazily."""
        import dask
        import dask.dataframe as dd
        import numpy as np
        import pandas as pd

        meta = pd.DataFrame(
            {
                "pos": np.array([], np.int64),
                "fh": np.array([], np.uint64),
                "yh": np.array([], np.uint64),
                "side": np.array([], np.int8),
            }
        )
        starts = np.concatenate([[0], np.cumsum(self.lengths(role))[:-1]]).astype(int)
        parts = self.frames[role][[*features, target]].to_delayed()
        return dd.from_delayed(
            [
                dask.delayed(key_columns)(p, features, target, int(at), side)
                for p, at in zip(parts, starts, strict=True)
            ],
            meta=meta,
            verify_meta=False,
        )

    def row_checks(self, features: list[str], target: str, examples: int) -> RowChecks:
        """One shuffle of every row's keys by feature hash (24 bytes a row), then
        the checks on each shuffled partition, which holds every row of its hashes."""
        import dask
        import dask.dataframe as dd

        keys = dd.concat(
            [self.keys("train", features, target, 0), self.keys("test", features, target, 1)]
        )
        shuffled = keys.shuffle("fh", npartitions=max(1, keys.npartitions))
        parts = [dask.delayed(row_checks_of)(p, examples) for p in shuffled.to_delayed()]
        return combine_row_checks(dask.compute(*parts), examples)

    def fitting(self) -> AbstractContextManager[object]:
        """joblib's Dask backend: an estimator's n_jobs (a forest's trees, a search's
        candidates) run as tasks on the cluster's workers."""
        import joblib

        return joblib.parallel_config(backend="dask")

    def parts(self, role: str, columns: list[str]) -> list[tuple[object, int]]:
        """A source's partitions of `columns`, lazily (dask.delayed, on the workers),
        each with its row count; empty ones left out. For a library's own Dask
        trainer, fed every row (ci_ml.modeling.dask_boosters)."""
        delayed = self.frames[role][columns].to_delayed()
        return [(p, n) for p, n in zip(delayed, self.lengths(role), strict=True) if n > 0]

    def describe(self) -> dict[str, object]:
        # nthreads(): every worker's thread count (scheduler_info lists only the first few)
        workers: object = getattr(self.client, "nthreads", dict)()
        return {
            "kind": self.kind,
            "workers": len(workers) if isinstance(workers, dict) else 0,
            "partitions": {role: int(f.npartitions) for role, f in self.frames.items()},
        }

    def close(self) -> None:
        """Let the cluster go: a LocalCluster started here is shut down, a remote
        one is only disconnected from."""
        cluster = getattr(self.client, "cluster", None)
        self.client.close()  # type: ignore[attr-defined]
        if cluster is not None:
            cluster.close()


def _side(df: pd.DataFrame, test_size: float, seed: int, holdout: bool) -> pd.DataFrame:
    mask = in_holdout(df, test_size, seed)
    return df[mask if holdout else ~mask]


def _sampled(df: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    return df[in_sample(df, fraction, seed)]


def _positioned(fn: Callable[[pd.DataFrame, int], T], df: pd.DataFrame, start: int) -> T:
    """A partition with its rows numbered by their position in the source."""
    import pandas as pd

    df = df.set_axis(pd.RangeIndex(start, start + len(df)), axis=0)
    return fn(df, start)


# Module functions, not bound methods, in the graph: the Passes object is one
# node that every task names.
def _prepare(passes: Passes[P, A, C, S], df: pd.DataFrame) -> P:
    return passes.prepare(df)


def _first(passes: Passes[P, A, C, S], part: P) -> A:
    return passes.first(part)


def _middle(passes: Passes[P, A, C, S], total: A) -> tuple[C, S]:
    return passes.middle(total)


def _second(passes: Passes[P, A, C, S], part: P, context: C) -> A:
    return passes.second(part, context)


def _add(passes: Passes[P, A, C, S], a: A, b: A) -> A:
    return passes.add(a, b)


def _tree(passes: object, parts: list[Delayed]) -> Delayed:
    """The parts added two by two, level by level: log2(partitions) levels of
    tasks on the workers, and no part sent to the client."""
    import dask

    while len(parts) > 1:
        odd = [parts[-1]] if len(parts) % 2 else []
        pairs = zip(parts[0::2], parts[1::2], strict=False)  # the odd one out waits a level
        parts = [dask.delayed(_add)(passes, a, b) for a, b in pairs] + odd
    return parts[0]
