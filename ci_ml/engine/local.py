"""The engine protocol over pandas frames in memory: one partition per source.

The local build does not go through it (ci_ml.data reads the files whole, as it
always has); it is the reference the Dask engine's per-partition results are
checked against, and what code written for either engine runs on in a test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, TypeVar

from ci_ml.engine import (
    A,
    C,
    P,
    Passes,
    RowChecks,
    S,
    combine_row_checks,
    fold_parts,
    in_sample,
    key_columns,
    row_checks_of,
)

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


class LocalEngine:
    """`partitions`: each frame is cut into this many runs of rows, in order (a
    stand-in for a partitioned dataset, to check that combining per-partition
    results gives what the whole frame gives)."""

    kind = "local"

    def __init__(self, frames: dict[str, pd.DataFrame], partitions: int = 1) -> None:
        self.frames = frames
        self.partitions = partitions

    def rows(self, role: str) -> int:
        return len(self.frames[role])

    def map_partitions(
        self, role: str, fn: Callable[[pd.DataFrame, int], T], columns: list[str] | None = None
    ) -> list[T]:
        import numpy as np

        df = self.frames[role] if columns is None else self.frames[role][columns]
        edges = np.linspace(0, len(df), self.partitions + 1).astype(int)
        return [fn(df.iloc[a:b], int(a)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def fold(self, role: str, passes: Passes[P, A, C, S]) -> tuple[S, A]:
        return fold_parts(self.map_partitions(role, lambda df, _: df), passes)

    def sample(self, role: str, rows: int, seed: int) -> pd.DataFrame:
        df = self.frames[role]
        return df[in_sample(df, rows / max(len(df), 1), seed)]

    def row_checks(self, features: list[str], target: str, examples: int) -> RowChecks:
        import pandas as pd

        def keys(role: str, side: int) -> list[pd.DataFrame]:
            return self.map_partitions(
                role, lambda df, at: key_columns(df, features, target, at, side)
            )

        every = pd.concat([*keys("train", 0), *keys("test", 1)], ignore_index=True)
        # What a shuffle by feature hash does: every row of a hash in one group.
        groups = every.groupby(every["fh"] % self.partitions, sort=False)
        return combine_row_checks((row_checks_of(g, examples) for _, g in groups), examples)

    def fitting(self) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "partitions": dict.fromkeys(self.frames, self.partitions)}

    def close(self) -> None:
        return None
