"""The model tests' slices over every holdout row (engine: dask, a holdout larger
than the client's sample), summed where the rows are, as the overall metrics
are (ci_ml.scoring.every_row).

Two folds over the holdout partitions. The first finds the slices: each
`values` column's distinct values (named and ordered as ci_ml.checks.slices
names them on a whole frame), then, in its second pass, the rows of every slice
and the crossings that occur. The second fold scores the models, counts each
slice's positives and negatives per bin of a grid of the score (ROC AUC ranks
its pairs within the slice: ci_ml.stats.ranks with SLICE_BINS bins, the bound
recorded), and sums each slice's rows' metric components into that slice's
units (at most max(SLICE_UNITS, MAX_UNITS / slices), each row's unit chosen by
its key): the layout ci_ml.stats.slices resamples. The client receives the
slices' names and sizes and one (units, k) matrix per model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.checks.slices import Computed, Slice, codes, limit
from ci_ml.engine import row_keys
from ci_ml.records import RowScope
from ci_ml.scoring.every_row import BLOCK_SALT, HoldoutSums, Part
from ci_ml.stats import ranks
from ci_ml.stats.bootstrap import MAX_UNITS
from ci_ml.stats.metrics import Pairs, Scored
from ci_ml.stats.slices import SLICE_UNITS, SliceComponents, resample_components

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.config import SliceConfig
    from ci_ml.engine import Engine

SLICE_BINS = 1 << 12  # per slice and AUC column
SLICE_SALT = BLOCK_SALT + 1


@dataclass(frozen=True)
class Spec:
    """The slices a config declares: (column, "values" or bin edges), crossings."""

    columns: tuple[tuple[str, Any], ...]
    crossings: tuple[tuple[str, str], ...]
    most: int  # max_slices

    @classmethod
    def of(cls, cfg: SliceConfig) -> Spec:
        columns = tuple((c, s if s == "values" else tuple(s)) for c, s in cfg.columns.items())
        return cls(columns, tuple((a, b) for a, b in cfg.crossings), cfg.max_slices)

    def spec(self, column: str) -> Any:
        found = dict(self.columns).get(column, "values")
        return found if found == "values" else list(found)

    @property
    def used(self) -> list[str]:
        """Every column a slice reads, each once."""
        names = [c for c, _ in self.columns] + [c for pair in self.crossings for c in pair]
        return list(dict.fromkeys(names))

    @property
    def by_values(self) -> list[str]:
        return [c for c in self.used if self.spec(c) == "values"]

    def names(self, column: str, values: dict[str, list[Any]]) -> list[str]:
        """The slice names of one column, as `codes` names them on the whole holdout."""
        import numpy as np
        import pandas as pd

        if self.spec(column) == "values":
            frame = pd.DataFrame({column: pd.Series(values[column], dtype=object)})
        else:
            frame = pd.DataFrame({column: np.zeros(0)})
        return codes(frame, column, self.spec(column))[1]

    def codes(self, df: pd.DataFrame, column: str, values: dict[str, list[Any]]) -> np.ndarray:
        """Each row's code in one column, as `codes` gives it on the whole holdout:
        bins by their edges, values by their place among every partition's values."""
        import numpy as np
        import pandas as pd

        if self.spec(column) != "values":
            return codes(df, column, self.spec(column))[0]
        uniques = values[column]
        found = pd.Index(pd.Series(uniques, dtype=object)).get_indexer(df[column].astype(object))
        return np.where(found >= 0, found, len(uniques)).astype(np.int64)


@dataclass
class Seen:
    """What the finding fold sums: each values column's distinct values, then the
    rows per code of each column and crossing."""

    values: dict[str, pd.Index]
    counts: dict[str, pd.Series]


@dataclass(frozen=True)
class Find:
    """The first fold (ci_ml.engine.Passes): the slices and their sizes."""

    spec: Spec

    def prepare(self, df: pd.DataFrame) -> pd.DataFrame:
        return df[self.spec.used]

    def first(self, df: pd.DataFrame) -> Seen:
        import pandas as pd

        return Seen({c: pd.Index(df[c].dropna().unique()) for c in self.spec.by_values}, {})

    def add(self, a: Seen, b: Seen) -> Seen:
        values = {c: v.union(b.values[c]) for c, v in a.values.items()}
        counts = {k: v.add(b.counts[k], fill_value=0) for k, v in a.counts.items()}
        return Seen(values, counts)

    def middle(
        self, total: Seen
    ) -> tuple[dict[str, list[Any]], tuple[dict[str, list[Any]], dict[str, int]]]:
        """Each values column's values in the order `codes` sorts them (for the
        second pass and the client), and how many there are (too many: not
        listed; the client stops on the count)."""
        import pandas as pd

        ordered, sizes = {}, {}
        for c, found in total.values.items():
            sizes[c] = len(found)
            if len(found) <= self.spec.most:
                ordered[c] = list(pd.factorize(pd.Series(found, dtype=object), sort=True)[1])
        return ordered, (ordered, sizes)

    def second(self, df: pd.DataFrame, values: dict[str, list[Any]]) -> Seen:
        import pandas as pd

        if any(c not in values for c in self.spec.by_values):
            return Seen({}, {})
        code = {c: self.spec.codes(df, c, values) for c in self.spec.used}
        counts = {c: pd.Series(code[c]).value_counts() for c, _ in self.spec.columns}
        for a, b in self.spec.crossings:
            width = len(self.spec.names(b, values))
            counts[f"{a} × {b}"] = pd.Series(code[a] * width + code[b]).value_counts()
        return Seen({}, counts)


@dataclass(frozen=True)
class Group:
    """One column or crossing: its slices' codes, and each code's slice (-1: none)."""

    by: str
    columns: tuple[str, ...]
    width: int  # a crossing's second column's codes
    slice_of: tuple[int, ...]


def find(engine: Engine, spec: Spec) -> tuple[list[Slice], list[Group], dict[str, list[Any]]]:
    """The slices of every holdout row, each with its size (`Slice.rows` holds the
    size alone), in the order ci_ml.checks.slices.slices gives them."""
    import numpy as np

    (values, sizes), seen = engine.fold("test", Find(spec))
    for c, n in sizes.items():  # too many values: stop before naming them
        limit(range(n), c, spec.most)
    found: list[Slice] = []
    groups = []
    for column, s in spec.columns:
        names = spec.names(column, values)
        counts = seen.counts[column]
        binned = s != "values"
        slice_of = [-1] * len(names)
        kept = [i for i in range(len(names)) if counts.get(i, 0) or (binned and i < len(names) - 2)]
        limit(kept, column, spec.most)
        for i in kept:
            slice_of[i] = len(found)
            found.append(Slice(names[i], column, np.zeros(int(counts.get(i, 0)), dtype=np.int8)))
        groups.append(Group(column, (column,), 0, tuple(slice_of)))
    for a, b in spec.crossings:
        na, nb = spec.names(a, values), spec.names(b, values)
        by = f"{a} × {b}"
        counts = seen.counts[by].sort_index()
        limit(counts, by, spec.most)
        slice_of = [-1] * (len(na) * len(nb))
        for code, n in counts.items():
            slice_of[int(code)] = len(found)
            name = f"{na[int(code) // len(nb)]} & {nb[int(code) % len(nb)]}"
            found.append(Slice(name, by, np.zeros(int(n), dtype=np.int8)))
        groups.append(Group(by, (a, b), len(nb), tuple(slice_of)))
    return found, groups, values


@dataclass
class SlicePart:
    part: Part
    ids: list[np.ndarray]  # per group: each row's slice
    keys: np.ndarray


@dataclass(frozen=True)
class SliceSums:
    """The second fold: the models' components summed into each slice's units."""

    base: HoldoutSums
    spec: Spec
    values: dict[str, list[Any]]
    groups: tuple[Group, ...]
    starts: tuple[int, ...]  # each slice's first unit, and the end

    @property
    def slices(self) -> int:
        return len(self.starts) - 1

    def prepare(self, df: pd.DataFrame) -> SlicePart:
        import numpy as np

        part = self.base.prepare(df)
        code = {c: self.spec.codes(df, c, self.values) for c in self.spec.used}
        ids = []
        for g in self.groups:
            combined = code[g.columns[0]] if len(g.columns) == 1 else (
                code[g.columns[0]] * g.width + code[g.columns[1]]
            )  # fmt: skip
            ids.append(np.asarray(g.slice_of, dtype=np.int64)[combined])
        return SlicePart(part, ids, row_keys(df, self.base.seed + SLICE_SALT))

    def _rows(self, sp: SlicePart) -> list[tuple[int, np.ndarray]]:
        """(slice, its rows in the partition), slice by slice."""
        import numpy as np

        out = []
        for sid in sp.ids:
            order = np.argsort(sid, kind="stable")
            bounds = np.searchsorted(sid[order], np.arange(-1, self.slices + 1))
            for s in range(self.slices):
                rows = order[bounds[s + 1] : bounds[s + 2]]
                if rows.size:
                    out.append((s, rows))
        return out

    def first(self, sp: SlicePart) -> dict[str, np.ndarray]:
        import numpy as np

        out = {"rows": np.array([sp.keys.shape[0]], dtype=np.int64)}
        for i, s in enumerate(sp.part.scored):
            cols = self.base._auc(s)
            if not cols:
                continue
            assert s.proba is not None
            hist = np.zeros((len(cols), self.slices, 2, SLICE_BINS), dtype=np.int64)
            for sl, rows in self._rows(sp):
                for j, c in enumerate(cols):
                    hist[j, sl] = ranks.histogram(s.proba[rows, c], s.y[rows] == c, SLICE_BINS)
            out[f"hist{i}"] = hist
        return out

    def add(self, a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v + b[k] for k, v in a.items()}

    def middle(self, total: dict[str, np.ndarray]) -> tuple[dict[int, np.ndarray], Told]:
        import numpy as np

        placed, auc = {}, {}
        for key, hist in total.items():
            if key.startswith("hist"):
                i = int(key[4:])
                placed[i] = np.stack([[ranks.placements(h) for h in col] for col in hist])
                auc[i] = [
                    [(ranks.pair_count(h), int(h[1].sum()), int(h[0].sum()), ranks.tie_bound(h))
                     for h in col]
                    for col in hist
                ]  # fmt: skip
        return placed, Told(int(total["rows"][0]), auc)

    def second(self, sp: SlicePart, placed: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
        import numpy as np
        from scipy import sparse

        starts = np.asarray(self.starts)
        found = self._rows(sp)
        # Each (slice, row) to the slice's unit its key picks: one sparse product per model.
        at = np.concatenate(
            [_unit(sp.keys[rows], int(starts[sl]), int(starts[sl + 1])) for sl, rows in found]
            or [np.zeros(0, dtype=np.intp)]
        )
        member = sparse.csr_matrix(
            (np.ones(at.shape[0]), (at, np.arange(at.shape[0]))),
            shape=(int(starts[-1]), at.shape[0]),
        )
        out = {}
        for i, s in enumerate(sp.part.scored):
            k, _ = self.base.layout(i)
            parts = [np.zeros((0, k))]
            for sl, rows in found:
                on = None if i not in placed else placed[i][:, sl]
                parts.append(self.base.components(_subset(s, rows), on)[0])
            out[f"units{i}"] = np.asarray(member @ np.vstack(parts))
        return out


def _unit(keys: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The unit of each of a slice's rows (by their keys) among its units start..stop."""
    import numpy as np

    return (keys % np.uint64(stop - start)).astype(np.intp) + start


@dataclass
class Told:
    rows: int
    auc: dict[int, list[list[tuple[float, int, int, float]]]]  # model -> column -> slice


def _subset(s: Scored, rows: np.ndarray) -> Scored:
    proba = None if s.proba is None else s.proba[rows]
    return Scored(s.task, s.y[rows], s.pred[rows], proba, s.classes, s.centre)


def every_row_slices(
    engine: Engine, base: HoldoutSums, cfg: SliceConfig, resamples: int, sample_rows: int
) -> Computed:
    """The slices of every holdout row and both models' statistics on them."""
    import numpy as np

    spec = Spec.of(cfg)
    found, groups, values = find(engine, spec)
    sizes = [s.rows.shape[0] for s in found]
    cap = max(SLICE_UNITS, MAX_UNITS // max(len(found), 1))
    starts = np.concatenate([[0], np.cumsum([max(1, min(n, cap)) for n in sizes])])
    passes = SliceSums(base, spec, values, tuple(groups), tuple(int(x) for x in starts))
    told, total = engine.fold("test", passes)
    comps, bounds = [], []
    for i in range(len(base.scorers)):
        k, where = base.layout(i)
        pairs: dict[int, Pairs] = {}
        if "roc_auc" in where and i in told.auc:
            for j, per_slice in enumerate(told.auc[i]):
                for sl, (count, pos, neg, bound) in enumerate(per_slice):
                    pairs[sl * k + where["roc_auc"].start + 4 * j] = Pairs.counted(count, pos, neg)
                    bounds.append(bound)
        comps.append(SliceComponents(total[f"units{i}"], pairs, where, k))
    rows = np.asarray(sizes, dtype=np.int64)
    stats = resample_components(comps, starts, rows, resamples, base.seed)
    scope = RowScope(
        rows=told.rows,
        every_row=["slices", "their metrics, intervals and deltas"],
        sample_rows=sample_rows,
        on_sample=["golden rows", "invariance", "directional checks", "calibration", "budgets"],
        blocks=int(starts[-1]),
        auc_bins=SLICE_BINS if bounds else None,
        auc_max_error=max(bounds) if bounds else None,
    )
    return Computed(found, stats, scope)
