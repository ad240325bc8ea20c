"""The report's first screen (ci_ml.report.summary): the slice line, the
significant changes and their check status, classes never predicted."""

from __future__ import annotations

import numpy as np

from ci_ml.comparison import class_recall
from ci_ml.records import ModelTestsResult, load
from ci_ml.report import summary
from ci_ml.stats.metrics import Scored


def _m(candidate: float, baseline: float, delta_ci: tuple[float, float], verdict: str) -> dict:
    return {
        "candidate": candidate,
        "ci_low": candidate - 0.05,
        "ci_high": candidate + 0.05,
        "baseline": baseline,
        "delta": candidate - baseline,
        "delta_ci_low": delta_ci[0],
        "delta_ci_high": delta_ci[1],
        "verdict": verdict,
    }


def _slice(name: str, cand: float, base: float, verdict="within noise", gated=True) -> dict:
    ci = (cand - base - 0.03, cand - base + 0.03)
    return {"name": name, "by": "x", "rows": 50, "gated": gated,
            "metrics": {"accuracy": _m(cand, base, ci, verdict)}}  # fmt: skip


def _gate(status: str, reason: str = "") -> dict:
    return {"metric": "accuracy", "rule": "min", "threshold": 0.85, "actual": 0.8,
            "status": status, "reason": reason}  # fmt: skip


def _tests(slices: list[dict], gates: list[dict], **extra) -> ModelTestsResult:
    return load(
        ModelTestsResult,
        {
            "configured": True,
            "slices": {
                "metrics": ["accuracy"], "ranked_by": "accuracy", "min_rows": 20,
                "confidence": 0.95, "resamples": 100, "slices": slices, "gates": gates,
                "passed": not any(g["gate"]["status"] == "fail" for g in gates),
                # the old headline's choice: the largest drop, first on ties
                "worst": slices[0]["name"],
            },
            **extra,
        },
    )  # fmt: skip


def test_the_slice_line_names_the_lowest_slice_not_the_largest_drop() -> None:
    """Reported: 'worst slice' named the slice at 0.9808 while another was at 0.8676."""
    tests = _tests(
        [_slice("a", 0.9808, 0.9808), _slice("b", 0.8676, 0.8676), _slice("c", 0.95, 0.99)], []
    )
    line = summary.slice_line(tests)
    assert line is not None and (line.name, line.order) == ("b", "lowest")


def test_the_slice_line_names_a_failing_slice_first() -> None:
    """Reported: on a regression it named a passing slice (0.9412) while the failing
    one (0.8382 < min 0.85) was far below."""
    tests = _tests(
        [_slice("passing", 0.9412, 0.98), _slice("failing", 0.8382, 0.85)],
        [
            {"slice": "passing", "gate": _gate("pass")},
            {"slice": "failing", "gate": _gate("fail", "accuracy 0.838 < min 0.85")},
        ],
    )
    line = summary.slice_line(tests)
    assert line is not None and (line.name, line.order, line.failing) == ("failing", "failing", 1)
    assert "0.838 &lt; min 0.85" in line.reason  # escaped for markdown


def test_small_slices_are_not_named_lowest_when_gated_ones_exist() -> None:
    tests = _tests([_slice("big", 0.9, 0.9), _slice("tiny", 0.5, 0.5, gated=False)], [])
    assert summary.slice_line(tests).name == "big"
    assert summary.slice_line(None) is None


def test_significant_changes_say_whether_a_check_covers_them() -> None:
    tests = _tests(
        [_slice("s1", 0.80, 0.90, "regressed"), _slice("s2", 0.95, 0.90, "improved")],
        [{"slice": "s1", "gate": _gate("fail", "too low")}],
        calibration={
            "bins": 10, "confidence": 0.95, "what": "p", "reliability": [], "gates": [],
            "passed": True,
            "metrics": [{"metric": "brier", "label": "Brier score",
                         **_m(0.073, 0.044, (0.012, 0.048), "regressed")}],
        },
        budgets={
            "repeats": 30, "passed": True,
            "measures": [
                {"name": "model size", "unit": "bytes", "candidate": 66000.0,
                 "baseline": 1000.0, "limit": None, "ratio_limit": None, "passed": True,
                 "reason": "no budget set"},
                {"name": "latency, 1 row", "unit": "ms", "candidate": 1.1, "baseline": 1.0,
                 "limit": None, "ratio_limit": None, "passed": True, "reason": ""},
            ],
        },
    )  # fmt: skip
    found = summary.changes(None, tests)
    rows = [(c.what, c.check) for c in found]
    assert rows == [
        ("slice s1: accuracy", summary.FAILED),  # a regression whose gate failed
        ("Brier score ↓", summary.NOT_GATED),  # significant, nothing gates it: ⚠️, never ✅
        ("model size", "⚠️ significant, no budget set"),
        ("slice s2: accuracy", summary.NOT_GATED_GAIN),
    ]  # the 1.1x latency is run-to-run noise: not listed
    assert found[1].delta == "+0.029 [+0.012, +0.048]" and found[2].delta.startswith("66×")
    assert not any(c.check.startswith("✅") for c in found[1:])
    parts = summary.checks(None, tests)
    assert "model size budget not set" in parts and "latency, 1 row budget not set" in parts


def test_per_class_recall_and_precision_have_intervals_and_a_class_never_predicted_shows() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    cand = np.where(rng.random(400) < 0.9, y, rng.integers(0, 4, 400))
    cand[cand == 3] = 2  # class "d" is never predicted
    base = np.where(rng.random(400) < 0.9, y, rng.integers(0, 4, 400))
    labels = ["a", "b", "c", "d"]
    rows = class_recall(
        Scored("classification", y, cand, None, labels),
        Scored("classification", y, base, None, labels),
    )
    d = rows[3]
    assert d.predicted == 0 and d.recall.candidate == 0 and d.recall.verdict == "regressed"
    assert np.isnan(d.precision.candidate)  # undefined, not a silent 0
    assert all(r.recall.delta_ci_low <= r.recall.delta <= r.recall.delta_ci_high for r in rows)
    same = class_recall(*(Scored("classification", y, cand, None, labels),) * 2)
    assert all(r.recall.delta == r.recall.delta_ci_low == r.recall.delta_ci_high == 0 for r in same)


def test_a_class_never_predicted_is_named() -> None:
    from ci_ml.records import Evaluation

    metrics = load(
        Evaluation,
        {"task": "classification", "primary": "accuracy", "rows": 9, "confidence": 0.95,
         "resamples": 10, "metrics": {},
         "confusion_matrix": {"labels": ["a", "b", "c"],
                              "rows_true_cols_pred": [[3, 0, 0], [1, 2, 0], [2, 1, 0]]}},
    )  # fmt: skip
    assert summary.never_predicted(metrics) == ["c"]


def test_budget_ratios_are_never_rounded_to_zero() -> None:
    """The reported '0.00×' for 0.0045×."""
    from ci_ml.checks.model import _times

    assert [_times(x) for x in (0.0045, 0.02, 1.28, 66.2, 311.4)] == [
        "0.0045×",
        "0.020×",
        "1.3×",
        "66×",
        "311×",
    ]


def test_gate_lines_use_the_metrics_label_and_its_decimals() -> None:
    from ci_ml.records import Comparison, GateResult

    comparison = load(
        Comparison,
        {
            "primary_metric": "roc_auc",
            "statistics": {"method": "m", "resamples": 1000, "confidence": 0.95, "seed": 0},
            "metrics": [{
                "metric": "roc_auc", "label": "ROC AUC", "greater_is_better": True,
                "candidate": {"value": 0.9404, "ci_low": 0.9, "ci_high": 0.97},
                "baseline": {"value": 0.9755, "ci_low": 0.95, "ci_high": 0.99},
                "baseline_recorded": 0.9755, "delta": -0.0351, "ci_low": -0.0686,
                "ci_high": -0.00649, "p_value": 0.01, "verdict": "regressed",
            }],
        },
    )  # fmt: skip
    absolute = GateResult("roc_auc", "min", 0.95, 0.9404, "fail", "roc_auc = 0.9404 < min 0.95")
    relative = GateResult("roc_auc", "max_regression", 0.01, 0.0351, "fail", "…")
    assert summary.gate_line(absolute, comparison) == "ROC AUC 0.940 < min 0.95"
    assert summary.gate_line(relative, comparison) == (
        "ROC AUC worse by 0.035 (0.976 → 0.940), over the limit 0.01, significant"
    )
    skipped = GateResult("roc_auc", "max_regression", 0.01, None, "skipped", "no baseline")
    assert summary.gate_line(skipped, comparison) == "no baseline"


def test_a_row_finding_gives_counts_the_limit_and_csv_lines() -> None:
    """Reported: a percentage but no count or threshold, and 0-based positions
    without saying so (row 3 was CSV line 5)."""
    from ci_ml.records import Finding
    from ci_ml.stages.safeguards import locate

    f = Finding("contamination", "error", "2.00% of the holdout rows …", None, 0.02, 0.01, [0, 3])
    # The holdout of a split: the file's row numbers, in file order.
    locate(f, [3, 10, 11, 12, 15, 20, 22, 30, 31, 40] * 10, "data/all.csv")
    assert (f.rows, f.of_rows, f.lines) == (2, 100, [5, 14])
    assert summary.finding_text(f) == (
        "2 of 100 holdout rows also occur in the training rows (2%): "
        "lines 5, 14 of `data/all.csv` (1-based, the header is line 1)"
    )
    assert summary.finding_limit(f) == "1% of the rows"
    parquet = Finding("duplicates", "warn", "m", None, 0.5, 0.05, [1])
    locate(parquet, [0, 1], "data/train.parquet")
    assert parquet.lines is None and "rows 1 of `data/train.parquet` (0-based)" in (
        summary.finding_text(parquet)
    )


def test_what_the_pr_changed_is_one_line_of_parts() -> None:
    from ci_ml.records import Comparison

    base = {
        "primary_metric": "roc_auc",
        "statistics": {"method": "m", "resamples": 100, "confidence": 0.95, "seed": 0},
        "baseline": {"source": "release", "label": "model-v3", "url": None,
                     "commit": "1a2b3c4d5e6f", "created": None, "name": None},
        "data_changes": {
            "holdout_identical": True, "rows": {"baseline": 10, "candidate": 10},
            "class_balance": [],
            "columns": {"added": [], "removed": [], "retyped": [], "schema_changed": False},
            "files": [],
        },
    }  # fmt: skip
    same = load(Comparison, base)
    assert summary.changed(same, "1a2b3c4d5e6f") == [
        "parameters unchanged",
        "data unchanged",
        "schema unchanged",
        "same commit 1a2b3c4",
    ]
    assert not summary.data_moved(same.data_changes)
    moved = load(
        Comparison,
        {
            **base,
            "params_diff": [{"param": "max_depth", "baseline": 6, "candidate": 2}],
            "data_changes": {
                **base["data_changes"],
                "files": ["train"],
                "columns": {"added": ["x"], "removed": [], "retyped": [], "schema_changed": True},
            },
        },
    )
    assert summary.changed(moved, "9f8e7d6c") == [
        "parameters `max_depth` 6 → 2",
        "data changed (train)",
        "schema: 1 column(s) added, removed or retyped",
        "commit 1a2b3c4 → 9f8e7d6",
    ]
    assert summary.data_moved(moved.data_changes)
    assert summary.changed(None, "x") == []


def test_the_checks_line_says_what_ran() -> None:
    from ci_ml.records import SafeguardsResult

    guards = load(
        SafeguardsResult,
        {"passed": True, "leakage_scores": {}, "skew": {}, "allowed_personal_data": {},
         "rows": {}, "findings": [{"check": "skew", "severity": "warn", "message": "m"}]},
    )  # fmt: skip
    assert summary.checks(None, None, guards) == [
        "data safeguards ✅ (1 warning(s))",
        "gates not set",
    ]
