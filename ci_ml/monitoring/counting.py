"""The reference's bins filled from new rows, a chunk at a time: counts, missing
values, sums for the mean and spread, and (for labelled rows) a bounded seeded
sample. Memory depends on the profile (bins, categories) and the sample's
size, never on how many rows pass through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ci_ml.monitoring.profiles import bin_counts, category_texts, numbers
from ci_ml.records import ColumnProfile

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# New categories tracked by name per column; past this many, only their rows are counted.
MAX_NEW = 1000


@dataclass
class Counter:
    """One column's counts over the reference's bins (numbers) or categories."""

    reference: ColumnProfile
    rows: int = 0
    missing: int = 0
    invalid: int = 0  # present values of a numeric column that are no number (counted missing)
    counts: np.ndarray | None = None  # numeric: per bin; categorical: per category, then other
    total: float = 0.0
    squares: float = 0.0
    finite: int = 0
    new: dict[str, int] = field(default_factory=dict)  # categories the reference did not store
    new_overflow: int = 0  # rows of new categories past MAX_NEW names
    _edges: np.ndarray | None = None
    _index: pd.Index | None = None

    def __post_init__(self) -> None:
        import numpy as np
        import pandas as pd

        ref = self.reference
        if ref.kind == "numeric":
            self._edges = np.asarray(ref.edges or [], dtype=np.float64)
            self.counts = np.zeros(self._edges.size + 1, dtype=np.int64)
        elif ref.kind == "categorical":
            names = list((ref.categories or {}).keys())
            self._index = pd.Index(names, dtype=object)
            self.counts = np.zeros(len(names) + 1, dtype=np.int64)

    def add(self, s: pd.Series) -> None:
        kind = self.reference.kind
        self.rows += int(s.size)
        if kind == "numeric":
            self._add_numbers(s)
        elif kind == "categorical":
            self._add_categories(s)
        else:
            self.missing += int(s.isna().sum())

    def add_numbers(self, values: np.ndarray) -> None:
        """Values already numbers (a model's scores or predictions)."""
        self.rows += int(values.size)
        self._count(values)

    def add_texts(self, texts: pd.Series) -> None:
        """Values already text (a model's predicted classes)."""
        self.rows += int(texts.size)
        self._add_categories(texts)

    def _add_numbers(self, s: pd.Series) -> None:
        values, invalid = numbers(s)
        self.invalid += invalid
        self._count(values)

    def _count(self, values: np.ndarray) -> None:
        import numpy as np

        present = values[~np.isnan(values)]
        self.missing += int(values.size - present.size)
        assert self.counts is not None and self._edges is not None
        self.counts += bin_counts(self._edges, present)
        finite = present[np.isfinite(present)]
        self.finite += int(finite.size)
        self.total += float(finite.sum())
        self.squares += float(np.square(finite).sum())

    def _add_categories(self, s: pd.Series) -> None:
        import numpy as np

        texts = category_texts(s)
        self.missing += int(s.size - texts.size)
        vc = texts.value_counts()
        assert self.counts is not None and self._index is not None
        where = self._index.get_indexer(vc.index)
        known = where >= 0
        np.add.at(self.counts, where[known], vc.to_numpy()[known])
        unknown = vc[~known]
        self.counts[-1] += int(unknown.sum())
        for value, n in unknown.items():
            key = str(value)
            if key in self.new or len(self.new) < MAX_NEW:
                self.new[key] = self.new.get(key, 0) + int(n)
            else:
                self.new_overflow += int(n)

    @property
    def mean(self) -> float:
        return self.total / self.finite if self.finite else float("nan")

    @property
    def std(self) -> float:
        import math

        if self.finite < 2:
            return float("nan")
        var = (self.squares - self.finite * self.mean**2) / (self.finite - 1)
        return math.sqrt(max(var, 0.0))


@dataclass
class Sample:
    """A seeded uniform sample of at most `size` rows of a stream (the rows with
    the smallest random keys): the same rows whatever the chunks' sizes, and
    memory bounded by `size`."""

    size: int
    seed: int = 0
    keys: np.ndarray | None = None
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    seen: int = 0
    _rng: np.random.Generator | None = None

    def add(self, keep: np.ndarray, **arrays: np.ndarray) -> None:
        """Offer a chunk's rows: `keep` marks those that may be sampled (labelled
        ones); every row draws its key, so the sample does not depend on chunking."""
        import numpy as np

        if self._rng is None:
            self._rng = np.random.default_rng(self.seed)
        keys = self._rng.random(keep.size)[keep]
        self.seen += int(keep.sum())
        chunk = {k: v[keep] for k, v in arrays.items()}
        if self.keys is None:
            self.keys, self.columns = keys, chunk
        else:
            self.keys = np.concatenate([self.keys, keys])
            self.columns = {k: np.concatenate([self.columns[k], chunk[k]]) for k in chunk}
        if self.keys.size > self.size:
            order = np.argpartition(self.keys, self.size - 1)[: self.size]
            order.sort()  # the stream's order, so the result does not depend on argpartition
            self.keys = self.keys[order]
            self.columns = {k: v[order] for k, v in self.columns.items()}
