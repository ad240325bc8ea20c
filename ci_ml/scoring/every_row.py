"""The metrics' sums over every holdout row, where the rows are (engine: dask).

Every metric is a function of column sums of per-row components
(ci_ml.stats.metrics), so the holdout never has to be in one place: each
partition scores the ONNX models, builds its rows' component matrix with the
same code a local build runs, and sums its rows into `blocks` blocks, each row's
block chosen by its key (ci_ml.engine.row_keys, salted with statistics.seed:
random-like and the same however the data are partitioned). The cluster adds
the partitions' (blocks, k) matrices up, and the client receives those alone:
the point estimates come from their totals (exact), the intervals from the
block bootstrap a local build runs above MAX_UNITS rows
(ci_ml.stats.bootstrap.Plan.blocked_units), paired when the candidate and the
baseline are summed in the same pass.

ROC AUC needs each row's rank among all rows: a first pass counts positives and
negatives per bin of a fine grid of the score (ci_ml.stats.ranks), the second
reads each row's placement from the summed counts; the AUC is then exact but
for pairs tied within a bin, and the bound on that is recorded.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.data import model_input
from ci_ml.engine import row_keys
from ci_ml.errors import DataValidationError
from ci_ml.records import ErrorTests, McNemar, PairedT, RowScope
from ci_ml.scoring.labels import encode_labels, label_keys
from ci_ml.scoring.model import OnnxModel
from ci_ml.scoring.onnx import feeds, predicting, session_for
from ci_ml.scoring.pairing import align_classes
from ci_ml.stats import ranks
from ci_ml.stats.bootstrap import (
    MAX_UNITS,
    Units,
    loss_differences,
    mcnemar_counts,
    paired_t_from_sums,
)
from ci_ml.stats.metrics import (
    Pairs,
    Scored,
    applicable,
    auc_columns,
    class_parts,
    component_blocks,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ci_ml.build import Build
    from ci_ml.engine import Engine
    from ci_ml.records import Manifest

BLOCK_SALT = 0xB10C  # apart from the split's and the sample's salts


@dataclass(frozen=True)
class Scorer:
    """One ONNX model as a worker runs it: its bytes and how a frame becomes its
    inputs (the columns it reads, in order, and the ONNX input spec)."""

    data: bytes
    columns: tuple[str, ...]
    spec: tuple[tuple[str, str], ...]
    precision: str
    task: str
    classes: tuple[object, ...] | None  # its own classes, in its probabilities' order
    probabilities: bool

    @classmethod
    def of_build(cls, path: Path, manifest: Manifest) -> Scorer:
        """A built model (a baseline's folder): what its manifest and inputs say,
        as `OnnxModel` reads them."""
        return cls.of_model(OnnxModel(path, manifest))

    @classmethod
    def of_model(cls, m: OnnxModel) -> Scorer:
        """A model loaded for the model tests (its file, its manifest's facts)."""
        classes = tuple(m.classes_) if m.classes_ else None
        return cls(
            m.path.read_bytes(),
            tuple(m.columns),
            tuple(m.spec),
            m.precision,
            m.task,
            classes,
            m.has_proba,
        )

    def predict(
        self, df: pd.DataFrame, classes: list[object] | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(class indexes in `classes`, or values; probabilities on `classes`'
        columns) for the rows of `df`."""
        import numpy as np

        width = len(classes or [])
        if len(df) == 0:  # an empty partition: onnxruntime is not asked
            empty = np.zeros(0, dtype=np.int64 if self.task == "classification" else np.float64)
            return empty, (np.zeros((0, width)) if self.probabilities else None)
        X = model_input(df, self.columns)
        with predicting("onnxruntime"):
            outs = _session(self.data).run(None, feeds(X, list(self.spec), self.precision))
        if self.task != "classification":
            return np.asarray(outs[0], dtype=np.float64).ravel(), None
        raw = np.asarray(outs[0]).ravel()
        proba = np.asarray(outs[1], dtype=np.float64) if self.probabilities else None
        if list(self.classes or []) == list(classes or []):
            return encode_labels(raw, classes or []), proba
        idx, aligned, _ = align_classes(classes or [], list(self.classes or []), raw, proba)
        return idx, aligned


@functools.lru_cache(maxsize=4)
def _session(data: bytes) -> Any:
    """One onnxruntime session per model per worker process, single-threaded."""
    return session_for(data, threads=1)


@dataclass
class Part:
    """A partition as both passes read it: each row's block and each model's Scored."""

    block: np.ndarray
    scored: list[Scored]
    unseen: tuple[str, ...]


@dataclass
class Tally:
    """What a pass sums: arrays by name, and (the first pass) the first labels
    found that no class of the model is."""

    arrays: dict[str, np.ndarray]
    unseen: tuple[str, ...] = ()


@dataclass
class Told:
    """What the client learns of the first pass: the rows, each model's confusion
    matrix and ROC AUC counts per AUC column (pairs, positives, negatives, the
    bound on the binned AUC's error), the rows per class, unseen labels."""

    rows: int
    class_rows: list[int] | None
    confusion: list[list[list[int]] | None]
    auc: list[list[tuple[float, int, int, float]]]
    unseen: tuple[str, ...]
    tests: McNemar | ErrorTests | None = None  # two models: the paired tests, every row


@dataclass(frozen=True)
class HoldoutSums:
    """The two passes (ci_ml.engine.Passes) that sum the models' metric components
    over every holdout row into `blocks` blocks. `classes`: the candidate's (the
    baseline's predictions are put on its columns); `centre`: where a regression
    target is centred in every partition."""

    target: str
    task: str
    classes: tuple[object, ...] | None
    scorers: tuple[Scorer, ...]
    names: tuple[str, ...]
    blocks: int
    seed: int
    centre: float | None = None

    def scored(self, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None) -> Scored:
        classes = list(self.classes) if self.classes is not None else None
        return Scored(self.task, y, pred, proba, classes, self.centre)

    def _auc(self, s: Scored) -> list[int]:
        return auc_columns(s) if "roc_auc" in applicable(s, list(self.names)) else []

    def prepare(self, df: pd.DataFrame) -> Part:
        import numpy as np

        keys = row_keys(df, self.seed + BLOCK_SALT)
        block = (keys % np.uint64(self.blocks)).astype(np.intp)
        classes = list(self.classes) if self.classes is not None else None
        unseen: tuple[str, ...] = ()
        if self.task == "classification":
            y = encode_labels(df[self.target], classes or [])
            if (y < 0).any():
                unseen = tuple(sorted(set(df[self.target].astype(str)[y < 0]))[:5])
                y = np.where(y < 0, 0, y)  # never summed: the client stops on `unseen`
        else:
            y = df[self.target].to_numpy(dtype=np.float64)
        scored = []
        for i, scorer in enumerate(self.scorers):
            pred, proba = scorer.predict(df, classes)
            if self.task == "classification" and (pred < 0).any():
                raise DataValidationError(
                    f"model {i} predicted a label that is none of its classes",
                    hint="rebuild the model; its ONNX file and manifest disagree",
                )
            scored.append(self.scored(y, pred, proba))
        return Part(block, scored, unseen)

    def first(self, part: Part) -> Tally:
        import numpy as np

        out = {"rows": np.array([part.block.shape[0]], dtype=np.int64)}
        k = len(self.classes or [])
        for i, s in enumerate(part.scored):
            if self.task == "classification":
                cells = np.bincount(s.y * k + s.pred, minlength=k * k)[: k * k]
                out[f"confusion{i}"] = cells.reshape(k, k).astype(np.int64)
                if i == 0:
                    out["class_rows"] = np.bincount(s.y, minlength=k).astype(np.int64)
            cols = self._auc(s)
            if cols:
                assert s.proba is not None
                bins = ranks.bins_for(len(cols))
                out[f"hist{i}"] = np.stack(
                    [ranks.histogram(s.proba[:, c], s.y == c, bins) for c in cols]
                )
        if len(part.scored) == 2:  # the paired tests' sums, candidate against baseline
            c, b = part.scored
            if self.task == "classification":
                right_c, right_b = c.pred == c.y, b.pred == b.y
                discordant = [np.sum(right_c & ~right_b), np.sum(~right_c & right_b)]
                out["discordant"] = np.array(discordant, dtype=np.int64)
            else:
                d = loss_differences(c.pred - c.y, b.pred - b.y)
                out["differences"] = np.concatenate([d.sum(axis=0), (d * d).sum(axis=0)])
        return Tally(out, part.unseen)

    def add(self, a: Tally, b: Tally) -> Tally:
        unseen = tuple(sorted(set(a.unseen) | set(b.unseen))[:5])
        return Tally({key: a.arrays[key] + b.arrays[key] for key in a.arrays}, unseen)

    def middle(self, total: Tally) -> tuple[dict[int, np.ndarray], Told]:
        import numpy as np

        a = total.arrays
        placed: dict[int, np.ndarray] = {}
        auc: list[list[tuple[float, int, int, float]]] = []
        for i in range(len(self.scorers)):
            hist = a.get(f"hist{i}")
            if hist is None:
                auc.append([])
                continue
            placed[i] = np.stack([ranks.placements(h) for h in hist])
            auc.append(
                [
                    (ranks.pair_count(h), int(h[1].sum()), int(h[0].sum()), ranks.tie_bound(h))
                    for h in hist
                ]
            )
        confusion = [
            a[f"confusion{i}"].tolist() if f"confusion{i}" in a else None
            for i in range(len(self.scorers))
        ]
        class_rows = a["class_rows"].tolist() if "class_rows" in a else None
        rows = int(a["rows"][0])
        told = Told(rows, class_rows, confusion, auc, total.unseen, self._tests(a, rows))
        return placed, told

    def _tests(self, a: dict[str, np.ndarray], rows: int) -> McNemar | ErrorTests | None:
        """The paired significance tests over every row, from their sums."""
        if "discordant" in a:
            only_c, only_b = (int(v) for v in a["discordant"])
            return McNemar(**mcnemar_counts(only_c, only_b))
        if "differences" in a:
            sq, ab, sq2, ab2 = (float(v) for v in a["differences"])
            return ErrorTests(
                PairedT(**paired_t_from_sums(sq, sq2, rows, "squared")),
                PairedT(**paired_t_from_sums(ab, ab2, rows, "absolute")),
            )
        return None

    def second(self, part: Part, placed: dict[int, np.ndarray]) -> Tally:
        import numpy as np
        from scipy import sparse

        n = part.block.shape[0]
        member = sparse.csr_matrix((np.ones(n), (part.block, np.arange(n))), shape=(self.blocks, n))
        out = {}
        k = len(self.classes or [])
        for i, s in enumerate(part.scored):
            matrix, _ = self.components(s, placed.get(i))
            out[f"units{i}"] = np.asarray(member @ matrix)
            if len(part.scored) == 2 and self.task == "classification":  # per-class recall
                out[f"classes{i}"] = np.asarray(member @ class_parts(s.y, s.pred, k))
        return Tally(out)

    def components(
        self, s: Scored, placed: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, slice]]:
        """The (n, k) component matrix of `s` and each metric's columns: what
        ci_ml.stats.metrics.component_blocks gives, ROC AUC's columns read from
        the binned placements (last, in the matrix; in the names' order in `where`)."""
        import numpy as np

        names = list(self.names)
        parts, where = component_blocks(s, [n for n in names if n != "roc_auc"])
        cols = self._auc(s)
        if not cols:
            return parts.matrix, where
        auc = np.empty((s.y.shape[0], 4 * len(cols)))
        if placed is not None:
            assert s.proba is not None
            for j, c in enumerate(cols):
                ranks.fill(s.proba[:, c], s.y == c, placed[j], auc[:, 4 * j : 4 * j + 4])
        start = parts.matrix.shape[1]
        where["roc_auc"] = slice(start, start + auc.shape[1])
        ordered = {n: where[n] for n in names if n in where}
        return np.hstack([parts.matrix, auc]), ordered

    def layout(self, i: int) -> tuple[int, dict[str, slice]]:
        """Model i's component columns (their number and each metric's), from no rows."""
        import numpy as np

        k = len(self.classes or [])
        y = np.zeros(0, dtype=np.int64 if self.task == "classification" else np.float64)
        proba = np.zeros((0, k)) if self.scorers[i].probabilities else None
        matrix, where = self.components(self.scored(y, y.copy(), proba), None)
        return matrix.shape[1], where


@dataclass
class Summed:
    """Each model's units over every holdout row, and what the first pass told."""

    units: list[Units]
    told: Told
    blocks: int
    # Two classifiers: each one's per-class columns (ci_ml.stats.metrics.class_parts)
    # summed into the same blocks, for the per-class recall and precision.
    class_units: list[np.ndarray] | None = None

    @property
    def auc_bound(self) -> float | None:
        """The largest bound on a binned ROC AUC's error, of any model and class."""
        found = [c[3] for model in self.told.auc for c in model]
        return max(found) if found else None

    def first(self) -> Summed:
        """The first model's part alone (the candidate's): what passes over it alone
        give, since each row's block, the classes' columns and the AUC grid do not
        depend on the other models."""
        t = self.told
        told = Told(t.rows, t.class_rows, t.confusion[:1], t.auc[:1], t.unseen)
        return Summed(self.units[:1], told, self.blocks)


def holdout_sums(engine: Engine, passes: HoldoutSums) -> Summed:
    """Both passes over every holdout partition: the models' units (blocks, k),
    with ROC AUC's pair counts, and what the first pass told."""
    told, total = engine.fold("test", passes)
    if told.unseen:
        raise DataValidationError(
            f"the holdout has class(es) the model never saw in training: {', '.join(told.unseen)}",
            hint="make sure every class appears in the training data",
        )
    units = []
    for i in range(len(passes.scorers)):
        _, where = passes.layout(i)
        pairs = {}
        if "roc_auc" in where:
            start = where["roc_auc"].start
            for j, (count, pos, neg, _) in enumerate(told.auc[i]):
                pairs[start + 4 * j] = Pairs.counted(count, pos, neg)
        units.append(Units(total.arrays[f"units{i}"], pairs, where))
    found = [total.arrays.get(f"classes{i}") for i in range(len(passes.scorers))]
    class_units = [u for u in found if u is not None] or None
    return Summed(units, told, passes.blocks, class_units)


def blocks_for(rows: int) -> int:
    """As many blocks as a local build resamples (MAX_UNITS), fewer for fewer rows."""
    return max(1, min(MAX_UNITS, rows))


# --- a build's holdout ----------------------------------------------------------------


def wanted(b: Build) -> bool:
    """Whether a build's metrics are summed over every holdout row on its engine:
    a Dask build whose holdout holds more rows than its sample (with no more, the
    sample is every row, and the local code computes the same numbers)."""
    scale = b.dataset.scale
    return scale is not None and not scale.sampled["test"].whole


def candidate_scorer(b: Build, needed_by: str) -> Scorer:
    """The build's own model.onnx, read as export fed it the holdout rows."""
    train = b.require("train", needed_by)
    export = b.require("export", needed_by)
    return Scorer(
        b.path("model.onnx").read_bytes(),
        tuple(b.dataset.features),
        tuple((i["name"], i["kind"]) for i in export.inputs),
        export.precision,
        b.task,
        tuple(train.classes) if train.classes else None,
        bool(export.probabilities),
    )


def same_keys(mine: list[object] | None, theirs: list[object] | None) -> bool:
    """The same classes, compared as labels are (ci_ml.scoring.labels), in any order."""
    keys = [sorted(str(k) for k in label_keys(list(c or []))) for c in (mine, theirs)]
    return keys[0] == keys[1]


def build_passes(b: Build, scorers: list[Scorer], names: list[str] | None = None) -> HoldoutSums:
    """The passes over the build's holdout for these models (the candidate first)
    and metrics (default: the build's)."""
    import numpy as np

    scale = b.dataset.scale
    assert scale is not None
    rows = scale.sampled["test"].total
    # Any centre gives the same R²; the sample's mean keeps the sums of squares small.
    y = b.dataset.test[b.cfg.data.target]
    centre = None if b.task == "classification" else float(np.mean(y.to_numpy(np.float64)))
    return HoldoutSums(
        b.cfg.data.target,
        b.task,
        scorers[0].classes,
        tuple(scorers),
        tuple(b.metric_plan.names if names is None else names),
        blocks_for(rows),
        b.cfg.statistics.seed,
        centre,
    )


def build_sums(b: Build, scorers: list[Scorer]) -> Summed:
    """The models' units over every holdout row of the build's engine."""
    scale = b.dataset.scale
    assert scale is not None
    return holdout_sums(scale.engine, build_passes(b, scorers))


MEMO = "evaluate:every-row-sums"  # Build.results: kept for compare, cleared with evaluate


def with_baseline(b: Build, baseline: tuple[str, Scorer] | None, needed_by: str) -> Summed:
    """The candidate's sums over every holdout row, with the baseline's beside them
    (the candidate first) when there is one that can be summed (`baseline`: its
    folder and its scorer, ci_ml.baseline.every_row_scorer): one fold over the
    holdout partitions for evaluate and compare, kept on the build, so the second
    stage asks nothing of the cluster."""
    key = baseline[0] if baseline is not None else ""
    memo = b.results.get(MEMO)
    if isinstance(memo, tuple) and memo[0] == key:
        found: Summed = memo[1]
        return found
    scorers = [candidate_scorer(b, needed_by)]
    if baseline is not None:
        scorers.append(baseline[1])
    summed = build_sums(b, scorers)
    b.results[MEMO] = (key, summed)
    return summed


def scope(summed: Summed, sample_rows: int, every_row: list[str], on_sample: list[str]) -> RowScope:
    """The record of what was summed over every row and what read the sample."""
    bins = [ranks.bins_for(len(model)) for model in summed.told.auc if model]
    return RowScope(
        rows=summed.told.rows,
        every_row=every_row,
        sample_rows=sample_rows,
        on_sample=on_sample,
        blocks=summed.blocks,
        auc_bins=max(bins) if bins else None,
        auc_max_error=summed.auc_bound,
    )
