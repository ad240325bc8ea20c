"""The report's pictures as pure functions: the forest plot of the deltas, the
release history, recall per class, and the comment still fitting GitHub's limit."""

from __future__ import annotations

import math

import pytest

from ci_ml import report
from ci_ml.github.api import MAX_COMMENT_CHARS
from ci_ml.github.comment import fit_comment
from ci_ml.marker import marker
from ci_ml.records import Comparison, Evaluation, History, load, recorded_values
from ci_ml.report import charts, numbers
from tests.report_context import BASE

ZERO = charts.HALF  # the zero column inside a strip


def row(metric, delta, lo, hi, verdict, gib=True, label=None) -> dict:
    return {
        "metric": metric,
        "label": label or metric,
        "greater_is_better": gib,
        "candidate": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "baseline": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6},
        "baseline_recorded": 0.5,
        "delta": delta,
        "ci_low": lo,
        "ci_high": hi,
        "p_value": 0.5,
        "verdict": verdict,
    }


def comparison(*rows: dict) -> Comparison:
    return load(
        Comparison,
        {
            "primary_metric": rows[0]["metric"],
            "statistics": {"method": "m", "resamples": 100, "confidence": 0.95, "seed": 0},
            "metrics": list(rows),
            "primary": {
                "metric": rows[0]["metric"],
                "candidate": 0.5,
                "delta": rows[0]["delta"],
                "verdict": rows[0]["verdict"],
            },
        },
    )


def cells(text: str, label: str) -> str:
    """The 41 strip cells of one metric's line (located from the axis line)."""
    lines = text.splitlines()
    axis = next(line for line in lines if "└" in line)
    start = axis.index("└")
    line = next(line for line in lines if line[2:].startswith(label))
    return line[start : start + 2 * charts.HALF + 1]


def test_better_is_always_to_the_right() -> None:
    """Accuracy up and log loss down are both improvements: both right of zero."""
    text = charts.forest(
        comparison(
            row("accuracy", 0.02, 0.01, 0.03, "improved", label="Accuracy"),
            row("roc_auc", -0.02, -0.03, -0.01, "regressed", label="ROC AUC"),
            row("log_loss", -0.05, -0.08, -0.02, "improved", gib=False, label="Log loss"),
        )
    )
    acc, auc = cells(text, "Accuracy ↑"), cells(text, "ROC AUC ↑")
    assert acc.index("●") > ZERO and acc.index("├") > ZERO  # whole interval right of zero
    assert auc.index("●") < ZERO and auc.index("┤") < ZERO
    log_line = next(line for line in text.splitlines() if line[2:].startswith("Log loss"))
    assert log_line.startswith("+ ") and "🟢 improved" in log_line
    # log loss has its own axis (another unit): the second axis line
    log_axis = [i for i, line in enumerate(text.splitlines()) if "└" in line][-1]
    lines = text.splitlines()
    log_cells = log_line[lines[log_axis].index("└") :][: 2 * charts.HALF + 1]
    assert log_cells.index("●") > ZERO and log_cells.index("├") > ZERO
    assert "0.08 worse" in lines[log_axis + 1] and "0.08 better" in lines[log_axis + 1]


def test_diff_markers_colour_improved_and_regressed_rows_only() -> None:
    text = charts.forest(
        comparison(
            row("accuracy", 0.02, 0.01, 0.03, "improved", label="A"),
            row("f1_macro", -0.02, -0.03, -0.01, "regressed", label="B"),
            row("roc_auc", 0.0, -0.01, 0.01, "within noise", label="C"),
        )
    )
    lines = {line[2:3]: line[:2] for line in text.splitlines() if "●" in line and "=" not in line}
    assert lines == {"A": "+ ", "B": "- ", "C": "  "}
    assert all(line[:1] == " " or line == "" for line in text.splitlines() if "●" not in line)


def test_an_interval_that_excludes_zero_never_touches_the_zero_column() -> None:
    """A tiny lower bound would round onto zero; it is kept one cell off."""
    text = charts.forest(
        comparison(
            row("accuracy", 0.03, 1e-6, 0.05, "improved", label="A"),
            row("f1_macro", 0.0, -0.05, 0.0, "within noise", label="B"),
        )
    )
    a, b = cells(text, "A ↑"), cells(text, "B ↑")
    assert a[ZERO] == "│" and a[ZERO + 1] == "├"
    assert b[ZERO] == "●" and b[0] == "├"  # touches zero: within noise, and it shows


def test_an_interval_across_zero_crosses_the_zero_line() -> None:
    text = charts.forest(comparison(row("accuracy", 0.002, -0.01, 0.02, "within noise")))
    strip = cells(text, "accuracy ↑")
    assert strip[ZERO] == "┼" and strip.index("├") < ZERO < strip.index("┤")


def test_identical_rebuild_and_missing_deltas() -> None:
    text = charts.forest(comparison(row("accuracy", 0.0, 0.0, 0.0, "within noise")))
    assert cells(text, "accuracy ↑")[ZERO] == "●"
    assert text.splitlines()[-1].strip() == "0"  # an axis with no scale
    # recorded metrics: a Δ without interval; no Δ at all: no row, no plot
    text = charts.forest(comparison(row("accuracy", 0.01, None, None, "n/a")))
    assert "(no interval)" in text and "├" not in cells(text, "accuracy ↑")
    assert charts.forest(comparison(row("accuracy", None, None, None, "no baseline"))) is None
    assert charts.forest(None) is None


@pytest.mark.parametrize(
    ("m", "nice"),
    [(0.041, 0.05), (0.105, 0.15), (0.007, 0.008), (1.0, 1.0), (0.011, 0.015), (23.0, 25.0)],
)
def test_nice_ceiling(m, nice) -> None:
    assert math.isclose(charts.nice_ceiling(m), nice)


@pytest.mark.parametrize(
    ("v", "s"),
    [(0.000219, "0.000219"), (-0.011695, "−0.0117"), (54.321, "54.3"), (0.99996, "1")],
)
def test_three_significant_digits(v, s) -> None:
    assert numbers.general(v, 3) == s


def evaluation(primary: str = "roc_auc", value: float = 0.98, **extra) -> Evaluation:
    return load(
        Evaluation,
        {
            "task": "classification",
            "primary": primary,
            "rows": 10,
            "confidence": 0.95,
            "resamples": 100,
            "metrics": {
                primary: {
                    "label": "ROC AUC",
                    "greater_is_better": True,
                    "value": value,
                    "ci_low": 0.9,
                    "ci_high": 1.0,
                }
            },
            **extra,
        },
    )


def history(*points: tuple[str, float | None]) -> History:
    releases = [
        {"tag": t, "published_at": None, "url": None, "metrics": {"roc_auc": v}} for t, v in points
    ]
    return load(History, {"releases": releases, "limit": 10})


def test_history_ends_with_the_candidate() -> None:
    h = charts.history(
        history(("model-v1", 0.97), ("model-v2", None), ("model-v3", 0.975)), evaluation()
    )
    assert h["x"] == ["model-v1", "model-v3", "this PR"]  # v2 recorded no roc_auc
    assert h["y"] == [0.97, 0.975, 0.98] and h["releases"] == 2
    assert h["y_min"] < 0.97 and 0.98 < h["y_max"] <= 1.0
    assert "the last 2 releases and this PR" in h["title"]


def test_the_history_axis_is_never_narrower_than_the_candidates_interval() -> None:
    """Reported: an axis of 0.973-0.978 drew four values within noise as a steep V
    while the PR's own interval was [-0.0069, +0.0136]."""
    points = [("v1", 0.9755), ("v2", 0.9731), ("v3", 0.9768)]
    h = charts.history(history(*points), evaluation(value=0.9744))  # its CI: [0.9, 1.0]
    assert h["y_max"] - h["y_min"] >= 0.1 - 1e-9 and h["y_max"] <= 1.0
    assert h["interval"] == (0.9, 1.0)


def test_no_history_without_a_release_that_recorded_the_metric() -> None:
    assert charts.history(None, evaluation()) is None
    assert charts.history(history(), evaluation()) is None
    assert charts.history(history(("model-v1", None)), evaluation()) is None


def test_tags_cannot_break_the_mermaid_block() -> None:
    h = charts.history(history(('v1"] line [9]\n```', 0.9)), evaluation())
    assert all(c not in h["x"][0] for c in '"[]`\n')


def test_recorded_values_keep_numbers_only() -> None:
    got = recorded_values({"metrics": {"a": {"value": 0.5}, "b": {"value": True}, "c": 3}})
    assert got == {"a": 0.5, "b": None, "c": None}
    with pytest.raises(ValueError, match="metrics"):
        recorded_values([1, 2])


def test_recall_per_class_with_and_without_the_baseline() -> None:
    ev = evaluation(
        confusion_matrix={"labels": ["a", "b"], "rows_true_cols_pred": [[8, 2], [0, 0]]}
    )
    got = charts.class_recall(ev, None)
    assert got[0]["recall"] == 0.8 and got[0]["baseline"] is None
    assert got[1]["recall"] is None  # no rows of class b
    comp = comparison(row("roc_auc", 0.0, 0.0, 0.0, "within noise"))
    comp.per_class = load(
        Comparison, {**_plain(comp), "per_class": [{"label": "a", "rows": 10,
                                                   "candidate": 0.8, "baseline": 0.9}]}
    ).per_class  # fmt: skip
    got = charts.class_recall(ev, comp)
    assert got[0]["baseline"] == 0.9 and math.isclose(got[0]["delta"], -0.1)
    assert charts.bar(0.95) == "█████████▌" and charts.bar(0.0) == "··········"


def _plain(c: Comparison) -> dict:
    from ci_ml.artifact import plain

    return plain(c)


def test_the_comment_fits_with_history_and_charts_included() -> None:
    """200 classes (a 200×200 confusion matrix), ten releases of history, the forest:
    the comment drops the details, then the chart, and keeps the forest plot."""
    labels = [f"class-{i}" for i in range(200)]
    matrix = [[5 if i == j else 1 for j in range(200)] for i in range(200)]
    ev = evaluation(confusion_matrix={"labels": labels, "rows_true_cols_pred": matrix})
    comp = comparison(
        row("roc_auc", 0.01, 0.005, 0.02, "improved", label="ROC AUC"),
        row("accuracy", -0.01, -0.02, 0.001, "within noise", label="Accuracy"),
    )
    comp.verdict, comp.scored_on = "pass", "current holdout"
    h = history(*[(f"model-v{i}", 0.9 + i / 100) for i in range(1, 11)])
    ctx = {
        "name": "big", "config_path": "ci-ml.yaml", "comment_id": "abc",
        "marker": marker("abc"), "status": "pass", "manifest": None, "metrics": ev,
        **BASE,
        "comparison": comp, "validation": None, "safeguards": None, "export": None, "train": None,
        "timings": {}, "run_url": None, "sha": "", "reused": None, "release_marker": "",
        **report.pictures(comp, ev, h),
    }  # fmt: skip
    body = report.render_report(ctx)
    assert len(body) > MAX_COMMENT_CHARS and "```mermaid" in body and "```diff" in body
    out, short = fit_comment(body)
    assert short and len(out) <= MAX_COMMENT_CHARS
    assert out.startswith(marker("abc")) and "```diff" in out and "🟢 improved" in out
    assert "```mermaid" in out  # dropping the details was enough: the history stays
    assert out.count("```") % 2 == 0  # every code block closed


def test_a_cut_inside_a_code_block_closes_it() -> None:
    body = marker("abc") + "\n## h\n\n```diff\n" + "+ line\n" * 20_000 + "```\n"
    out, short = fit_comment(body)
    assert short and len(out) <= MAX_COMMENT_CHARS and out.count("```") == 2


def _per_class(label: str, delta: float, verdict: str) -> dict:
    est = {"candidate": 0.5 + delta, "ci_low": 0.4, "ci_high": 0.7, "baseline": 0.5,
           "delta": delta, "delta_ci_low": delta - 0.1, "delta_ci_high": delta + 0.1,
           "verdict": verdict}  # fmt: skip
    return {"label": label, "rows": 30, "candidate": 0.5 + delta, "baseline": 0.5,
            "recall": est, "precision": est}  # fmt: skip


def test_a_multiclass_forest_plot_has_recall_and_precision_per_class() -> None:
    c = comparison(row("accuracy", -0.07, -0.14, -0.01, "regressed"))
    c.per_class = load(
        Comparison,
        {
            "primary_metric": "accuracy",
            "statistics": {"method": "m", "resamples": 100, "confidence": 0.95, "seed": 0},
            "per_class": [_per_class(x, d, v) for x, d, v in
                          [("gold", -0.41, "regressed"), ("silver", 0.0, "within noise"),
                           ("bronze", 0.05, "within noise")]],
        },
    ).per_class  # fmt: skip
    text = charts.forest(c)
    assert "- recall gold ↑" in text and "- precision gold ↑" in text  # regressed: red
    assert "  recall silver ↑" in text and text.count(" ↑") == 7
    c.per_class = c.per_class[:2]  # two classes: the metrics already say it
    assert "recall" not in charts.forest(c)
