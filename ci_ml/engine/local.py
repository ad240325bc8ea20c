"""The engine protocol over pandas frames in memory: one partition per source.

The local build does not go through it (ci_ml.data reads the files whole, as it
always has); it is the reference the Dask engine's per-partition results are
checked against, and what code written for either engine runs on in a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ci_ml.engine import in_sample

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")


class LocalEngine:
    kind = "local"

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames

    def rows(self, role: str) -> int:
        return len(self.frames[role])

    def map_partitions(
        self, role: str, fn: Callable[[pd.DataFrame, int], T], columns: list[str] | None = None
    ) -> list[T]:
        df = self.frames[role]
        return [fn(df if columns is None else df[columns], 0)]

    def sample(self, role: str, rows: int, seed: int) -> pd.DataFrame:
        df = self.frames[role]
        return df[in_sample(df, rows / max(len(df), 1), seed)]

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "partitions": dict.fromkeys(self.frames, 1)}

    def close(self) -> None:
        return None
