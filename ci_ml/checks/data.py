"""The data safeguards: data mistakes a schema cannot see.

- contamination: holdout rows whose features also occur in the training rows
  (rows are hashed, never compared pair by pair);
- duplicates and conflicting labels within the training rows;
- target leakage: a feature that alone predicts the target almost perfectly
  (a shallow tree's cross-validated score on a sample), one that is a
  deterministic function of the target, and a jump of a feature's score
  against the baseline build's record;
- train/test skew per column and of the label (ci_ml.checks.skew);
- personal data (ci_ml.checks.personal_data).

Each check has a severity (error, warn, off) and thresholds in `safeguards:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.checks import skew
from ci_ml.checks.personal_data import (
    could_hold_personal_data,
    plural,
    scan_column,
    scan_names,
)
from ci_ml.data import is_text
from ci_ml.records import Finding, SafeguardsResult, SkewMeasure

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

    from ci_ml.config import SafeguardsConfig
    from ci_ml.engine import Found, RowChecks


MAX_EXAMPLES = 5


BINS = 32  # a feature's values are grouped into this many bins for its leakage score


FOLDS = 3


@dataclass
class Encoded:
    """Train and test as numbers: text columns as category codes shared by both
    sides (factorized once), numbers as they are. Hashing, scoring and the
    two-sample tests all read these, so strings are hashed only once."""

    train: pd.DataFrame
    test: pd.DataFrame
    categorical: set[str]


def encode(train: pd.DataFrame, test: pd.DataFrame, target: str, task: str) -> Encoded:
    import numpy as np
    import pandas as pd

    tr, te, categorical = {}, {}, set()
    for c in train.columns:
        if is_text(train[c]) or (c == target and task == "classification"):
            codes, _ = pd.factorize(pd.concat([train[c], test[c]], ignore_index=True))
            tr[c], te[c] = (
                codes[: len(train)].astype(np.float64),
                codes[len(train) :].astype(np.float64),
            )
            tr[c][tr[c] < 0] = np.nan
            te[c][te[c] < 0] = np.nan
            categorical.add(c)
        else:
            tr[c] = train[c].to_numpy(dtype=np.float64, na_value=np.nan)
            te[c] = test[c].to_numpy(dtype=np.float64, na_value=np.nan)
    return Encoded(pd.DataFrame(tr), pd.DataFrame(te), categorical)


def row_hashes(X: pd.DataFrame) -> np.ndarray:
    """A 64-bit hash per row of an encoded (all-number) frame: each column's bits
    mixed in with the boost hash_combine step and a murmur finaliser. Vectorised
    over rows; a collision among a million rows has odds near 1e-8."""
    import numpy as np

    golden, mix = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xFF51AFD7ED558CCD)
    h = np.full(len(X), golden, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in X.columns:
            v = X[c].to_numpy(dtype=np.float64)
            v = np.where(np.isnan(v), np.nan, v + 0.0)  # one NaN, and -0.0 == 0.0
            h ^= v.view(np.uint64) + golden + (h << np.uint64(6)) + (h >> np.uint64(2))
            h *= mix
            h ^= h >> np.uint64(33)
    return h


def _rows(mask: np.ndarray) -> list[int]:
    import numpy as np

    return [int(i) for i in np.flatnonzero(mask)[:MAX_EXAMPLES]]


def contamination(train: np.ndarray, test: np.ndarray) -> tuple[float, list[int]]:
    """Share of holdout rows whose feature values also occur in training, and examples."""
    import pandas as pd

    seen = pd.Series(test).isin(pd.Series(train)).to_numpy()  # a hash table, not a sort
    return (float(seen.mean()) if seen.size else 0.0), _rows(seen)


def duplicates(features: np.ndarray, target: pd.Series) -> tuple[float, list[int]]:
    """Share of training rows (features and target) that repeat an earlier one."""
    import pandas as pd

    label = pd.util.hash_pandas_object(target, index=False).to_numpy()
    dup = pd.DataFrame({"x": features, "y": label}).duplicated().to_numpy()
    return (float(dup.mean()) if dup.size else 0.0), _rows(dup)


def conflicting_labels(features: np.ndarray, target: pd.Series) -> tuple[float, list[int]]:
    """Share of training rows in groups of identical features with different targets."""
    import pandas as pd

    labels = pd.Series(target.to_numpy()).astype(str)
    n = labels.groupby(features).transform("nunique").to_numpy()
    bad = n > 1
    return (float(bad.mean()) if bad.size else 0.0), _rows(bad)


def _encoded(s: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.factorize(s, use_na_sentinel=True)[0].astype(np.float64)


def _bins(x: np.ndarray, max_bins: int = BINS) -> np.ndarray:
    """Bin index per value: each value its own bin when there are few, else
    quantile bins; missing values share a bin of their own."""
    import numpy as np

    missing = np.isnan(x)
    values, inverse = np.unique(np.where(missing, 0.0, x), return_inverse=True)
    if values.size > max_bins:
        edges = np.unique(np.quantile(x[~missing], np.linspace(0, 1, max_bins + 1)[1:-1]))
        inverse = np.searchsorted(edges, np.where(missing, 0.0, x), side="right")
    return np.where(missing, inverse.max() + 1, inverse)


class UnivariateScorer:
    """How well one feature alone predicts the target, out of fold: each of 3
    folds is predicted from the others by the majority class (or the mean) of
    the feature's bin. 0 is no better than chance (balanced accuracy rescaled by
    the number of classes) or the mean (R², clipped at 0); 1 is perfect. What
    depends on the target only (its codes, the folds) is made once for every
    feature: a wide table scores thousands."""

    def __init__(self, y: pd.Series, task: str) -> None:
        import numpy as np
        import pandas as pd

        self.task = task
        self.fold = np.random.default_rng(0).permutation(len(y)) % FOLDS
        self.masks = [(self.fold != f, self.fold == f) for f in range(FOLDS)]
        if task == "classification":
            self.codes, classes = pd.factorize(y.astype(str))
            self.k = classes.size
            self.fallback = [int(np.bincount(self.codes[tr]).argmax()) for tr, _ in self.masks]
            self.seen = [np.bincount(self.codes[te], minlength=self.k) for _, te in self.masks]
        else:
            self.t = y.to_numpy(dtype=np.float64)

    def score(self, x: np.ndarray) -> float:
        import numpy as np

        b = _bins(x)
        nb = int(b.max()) + 1
        if self.task == "classification":
            k, codes = self.k, self.codes
            if k < 2:
                return 0.0
            recall = []
            for (tr, te), fallback, seen in zip(self.masks, self.fallback, self.seen, strict=True):
                counts = np.bincount(b[tr] * k + codes[tr], minlength=nb * k).reshape(nb, k)
                pred = np.where(counts.sum(1) > 0, counts.argmax(1), fallback)
                hit = pred[b[te]] == codes[te]
                per_class = np.bincount(codes[te], weights=hit, minlength=k)
                recall.append((per_class[seen > 0] / seen[seen > 0]).mean())
            score = float(np.mean(recall))
            return max(0.0, (score - 1 / k) / (1 - 1 / k))
        t = self.t
        r2 = []
        for tr, te in self.masks:
            sums = np.bincount(b[tr], weights=t[tr], minlength=nb)
            n = np.bincount(b[tr], minlength=nb)
            means = np.where(n > 0, sums / np.maximum(n, 1), t[tr].mean())
            sst = np.sum((t[te] - t[te].mean()) ** 2)
            r2.append(1 - np.sum((t[te] - means[b[te]]) ** 2) / sst if sst > 0 else 0.0)
        return float(np.clip(np.mean(r2), 0.0, 1.0))

    def scores(self, values: np.ndarray) -> np.ndarray:
        """`score` of every column of (rows, features) `values` at once: the bin
        counts of all features in one bincount per fold (a wide table has
        thousands of features; one at a time cost ~1 ms each)."""
        import numpy as np

        m = values.shape[1]
        if m == 0:
            return np.zeros(0)
        B = bin_matrix(values)
        nb = int(B.max()) + 1
        cols = np.arange(m)
        off = cols * nb
        if self.task == "classification":
            k, codes = self.k, self.codes
            if k < 2:
                return np.zeros(m)
            recall = np.empty((FOLDS, m))
            for f, ((tr, te), fallback, seen) in enumerate(
                zip(self.masks, self.fallback, self.seen, strict=True)
            ):
                idx = ((B[tr] + off) * k + codes[tr][:, None]).ravel()
                counts = np.bincount(idx, minlength=m * nb * k).reshape(m, nb, k)
                pred = np.where(counts.sum(2) > 0, counts.argmax(2), fallback)
                hit = pred[cols, B[te]] == codes[te][:, None]  # (holdout rows, features)
                present = np.flatnonzero(seen > 0)
                per_class = np.stack([hit[codes[te] == c].sum(0) / seen[c] for c in present])
                recall[f] = per_class.mean(0)
            score = recall.mean(0)
            return np.maximum(0.0, (score - 1 / k) / (1 - 1 / k))
        t = self.t
        r2 = np.empty((FOLDS, m))
        for f, (tr, te) in enumerate(self.masks):
            idx = (B[tr] + off).ravel()
            sums = np.bincount(idx, weights=np.repeat(t[tr], m), minlength=m * nb).reshape(m, nb)
            n = np.bincount(idx, minlength=m * nb).reshape(m, nb)
            means = np.where(n > 0, sums / np.maximum(n, 1), t[tr].mean())
            sst = np.sum((t[te] - t[te].mean()) ** 2)
            err = np.sum((t[te][:, None] - means[cols, B[te]]) ** 2, axis=0)
            r2[f] = 1 - err / sst if sst > 0 else 0.0
        return np.clip(r2.mean(0), 0.0, 1.0)


def bin_matrix(values: np.ndarray, max_bins: int = BINS) -> np.ndarray:
    """`_bins` of every column of (rows, features) `values`, the sorting and the
    quantiles of all columns at once."""
    import numpy as np

    n, m = values.shape
    missing = np.isnan(values)
    filled = np.where(missing, 0.0, values)
    srt = np.sort(filled, axis=0)
    new = np.vstack([np.ones((1, m), dtype=bool), np.diff(srt, axis=0) != 0])
    many = new.sum(0) > max_bins
    edges_of: dict[int, np.ndarray] = {}
    wide = np.flatnonzero(many)
    if wide.size:
        q = np.linspace(0, 1, max_bins + 1)[1:-1]
        sub = values[:, wide]
        quantiles = (
            np.nanquantile(sub, q, axis=0)
            if missing[:, wide].any()
            else np.quantile(sub, q, axis=0)
        )
        edges_of = {int(j): np.unique(quantiles[:, i]) for i, j in enumerate(wide)}
    out = np.empty((n, m), dtype=np.int64)
    for j in range(m):
        if j in edges_of:
            b = np.searchsorted(edges_of[j], filled[:, j], side="right")
        else:
            b = np.searchsorted(srt[new[:, j], j], filled[:, j], side="left")
        out[:, j] = np.where(missing[:, j], b.max() + 1, b)
    return out


def univariate_score(x: np.ndarray, y: pd.Series, task: str) -> float:
    """One feature's UnivariateScorer score."""
    return UnivariateScorer(y, task).score(x)


def determined_by_target(s: pd.Series, y: pd.Series, task: str) -> bool:
    """True if the feature is the target, or a function of it (one value per
    class; for numbers, perfectly rank-correlated)."""
    import numpy as np

    if task == "classification":
        # One value per class: never more distinct values than classes.
        distinct = s.nunique(dropna=False)
        if not 2 <= distinct <= y.nunique():
            return False
        per_class = s.groupby(y.to_numpy()).nunique(dropna=False)
        return bool((per_class == 1).all())
    if s.nunique(dropna=False) < 2:
        return False
    x = _encoded(s)
    if np.isnan(x).any():
        return False
    rho = np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y.to_numpy())))[0, 1]
    return bool(abs(rho) > 0.9999)


def _leakage(
    X: pd.DataFrame,
    y: pd.Series,
    task: str,
    cfg: SafeguardsConfig,
    baseline: dict[str, float],
    encoded: pd.DataFrame,
) -> tuple[list[Finding], dict[str, float]]:
    import numpy as np

    check = cfg.leakage
    n = min(len(X), check.sample_rows)
    rows = np.sort(np.random.default_rng(0).permutation(len(X))[:n])
    sample, ys = X.iloc[rows], y.iloc[rows]
    values = encoded[list(X.columns)].to_numpy(dtype=np.float64)[rows]
    all_scores = UnivariateScorer(ys, task).scores(values)
    findings, scores = [], {}
    for j, c in enumerate(X.columns):
        score = float(all_scores[j])
        scores[str(c)] = round(score, 4)
        if determined_by_target(sample[c], ys, task):
            findings.append(
                Finding(
                    "leakage", check.severity, f"{c} is a function of the target", str(c), score
                )
            )
        elif score >= check.max_score:
            findings.append(
                Finding(
                    "leakage",
                    check.severity,
                    f"{c} alone predicts the target (score {score:.3f})",
                    str(c),
                    score,
                    check.max_score,
                )
            )
        elif str(c) in baseline and score - baseline[str(c)] >= check.max_jump:
            findings.append(
                Finding(
                    "leakage",
                    "warn",
                    f"{c} predicts the target far better than in the baseline build "
                    f"({baseline[str(c)]:.3f} → {score:.3f})",
                    str(c),
                    score - baseline[str(c)],
                    check.max_jump,
                )
            )
    return findings, scores


def _skew(
    train: pd.DataFrame, test: pd.DataFrame, enc: Encoded, target: str, cfg: SafeguardsConfig
) -> tuple[list[Finding], dict[str, SkewMeasure]]:
    """Numbers from the encoded frames, categories as they are in the data (so a
    finding names the level that moved)."""
    numbers = [c for c in enc.train.columns if c not in enc.categorical]
    categories = [c for c in enc.train.columns if c in enc.categorical]
    measured = skew.measure(
        enc.train[numbers], enc.test[numbers], train[categories], test[categories], cfg.skew
    )
    measured = {str(c): measured[str(c)] for c in enc.train.columns}  # the table's order
    return skew.findings(measured, target, cfg.skew), measured


ROW_CHECKS = {
    "contamination": "of the holdout rows also occur in the training rows (holdout rows {rows})",
    "duplicates": "of the training rows repeat an earlier one (rows {rows})",
    "conflicting_labels": "of the training rows share their features with a row of another label (rows {rows})",
}


def _rows_checks(
    Xtr: pd.DataFrame,
    ytr: pd.Series,
    Xte: pd.DataFrame,
    cfg: SafeguardsConfig,
    measured: dict[str, dict[str, float]],
) -> list[Finding]:
    """The row checks' findings; what each measured goes into `measured` whether or
    not it crossed its threshold (a later build, or a reader, sees how close it was)."""
    htr = row_hashes(Xtr)
    measures = {
        "contamination": lambda: (*contamination(htr, row_hashes(Xte)), len(Xte)),
        "duplicates": lambda: (*duplicates(htr, ytr), len(Xtr)),
        "conflicting_labels": lambda: (*conflicting_labels(htr, ytr), len(Xtr)),
    }
    return row_findings(measures, cfg, measured)


def _measures(
    found: RowChecks,
) -> dict[str, Callable[[], tuple[float, list[int], int]]]:
    def share(f: Found, total: int) -> Callable[[], tuple[float, list[int], int]]:
        return lambda: (f.rows / total if total else 0.0, f.examples, total)

    return {
        "contamination": share(found.contamination, found.test_rows),
        "duplicates": share(found.duplicates, found.train_rows),
        "conflicting_labels": share(found.conflicting_labels, found.train_rows),
    }


def row_findings(
    measures: dict[str, Callable[[], tuple[float, list[int], int]]],
    cfg: SafeguardsConfig,
    measured: dict[str, dict[str, float]],
) -> list[Finding]:
    """The row checks' findings from what each measured, (share, example rows, rows
    read), asked only of the checks that are on."""
    out = []
    for name, words in ROW_CHECKS.items():
        check = getattr(cfg, name)
        if check.severity == "off":
            continue
        share, rows, total = measures[name]()
        measured[name] = {
            "rows": round(share * total),
            "share": round(share, 6),
            "threshold": check.max_fraction,
        }
        if share > check.max_fraction:
            message = f"{share:.2%} " + words.format(rows=", ".join(map(str, rows)))
            out.append(
                Finding(name, check.severity, message, None, share, check.max_fraction, rows)
            )
    return out


def _personal_data(train: pd.DataFrame, test: pd.DataFrame, cfg: SafeguardsConfig) -> list[Finding]:
    import pandas as pd

    check = cfg.personal_data
    if check.severity == "off":
        return []
    out = []
    names = [str(c) for c in train.columns if str(c) not in cfg.allow_personal_data]
    for f in scan_names(names):
        out.append(
            Finding(
                "personal_data",
                "warn",
                f"the column name {f.column!r} suggests personal data",
                f.column,
            )
        )
    for c in names:
        if not could_hold_personal_data(train[c]):
            continue  # floats, booleans, short integers: no identifier fits in them
        column = pd.concat([train[c], test[c]], ignore_index=True)
        for f in scan_column(c, column, check):
            out.append(
                Finding(
                    "personal_data",
                    check.severity,
                    f"{c} holds {plural(f.kind)} ({f.rate:.1%} of {f.scanned:,} values scanned)",
                    c,
                    f.rate,
                    None,
                    f.examples,
                )
            )
    return out


def check(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    task: str,
    cfg: SafeguardsConfig,
    baseline_scores: dict[str, float],
    every_row: RowChecks | None = None,
) -> SafeguardsResult:
    """Every check on the split data (features and target by name). `every_row`:
    the row checks as an engine measured them over every row, when the frames
    are samples (the other checks read samples anyway)."""

    features = [c for c in train.columns if c != target]
    enc = encode(train, test, target, task)
    Xtr, ytr, Xte = enc.train[features], train[target], enc.test[features]
    measured: dict[str, dict[str, float]] = {}
    if every_row is None:
        findings = _rows_checks(Xtr, ytr, Xte, cfg, measured)
    else:
        findings = row_findings(_measures(every_row), cfg, measured)
    scores: dict[str, float] = {}
    if cfg.leakage.severity != "off":
        leaks, scores = _leakage(train[features], ytr, task, cfg, baseline_scores, Xtr)
        findings += leaks
    skewed: dict[str, SkewMeasure] = {}
    if cfg.skew.severity != "off":
        more, skewed = _skew(train, test, enc, target, cfg)
        findings += more
    findings += _personal_data(train, test, cfg)
    findings.sort(key=lambda f: f.severity != "error")
    return SafeguardsResult(
        passed=not any(f.severity == "error" for f in findings),
        findings=findings,
        leakage_scores=scores,
        skew=skewed,
        allowed_personal_data=dict(cfg.allow_personal_data),
        rows={"train": len(train), "test": len(test)},
        measured=measured,
    )
