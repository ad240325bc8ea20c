"""The report's one number format (ci_ml.report.numbers): decimals from the
interval's width, the same value printed the same everywhere, never an
exponent, exact zeros as 0."""

from __future__ import annotations

import re

import pytest

from ci_ml import report
from ci_ml.records import Comparison, Evaluation, load
from ci_ml.report import numbers
from tests.report_context import BASE

EXPONENT = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(
    ("width", "d"),
    [(0.0205, 3), (0.3, 2), (5.0, 1), (50.0, 0), (0.0099, 4), (1.0, 1), (1e-9, 6)],
)
def test_decimals_show_the_width_to_two_significant_digits(width, d) -> None:
    assert numbers.decimals(width) == d


@pytest.mark.parametrize("width", [0.0, None, float("nan"), float("inf")])
def test_no_width_no_decimals(width) -> None:
    assert numbers.decimals(width) is None
    assert numbers.places((0.0, width)) == numbers.DEFAULT_DECIMALS


def test_the_first_interval_with_a_width_decides() -> None:
    # A Δ of exactly [0, 0] (identical predictions) falls back to the value's own interval.
    assert numbers.places((0.0, 0.0), (0.93, 0.97)) == 3
    assert numbers.places((-0.0069, 0.0136), (0.9, 1.0)) == 3


def test_values_keep_their_trailing_zeros_so_a_column_lines_up() -> None:
    """The reported '0.9 beside 0.9181': one metric, one number of decimals."""
    assert [numbers.fixed(v, 3) for v in (0.9, 0.9181, 1.0)] == ["0.900", "0.918", "1.000"]


def test_exact_zero_is_zero_and_a_rounded_zero_is_not() -> None:
    assert numbers.fixed(0.0, 3) == numbers.signed(0.0, 3) == "0"
    assert numbers.interval(0.0, 0.0, 3) == "[0, 0]"
    assert numbers.signed(0.0002, 3) == "+0.000"  # not zero: only below the resolution
    assert numbers.signed(-0.0002, 3) == "−0.000"


def test_signs_and_intervals() -> None:
    assert numbers.signed(-0.00347, 3) == "−0.003"
    assert numbers.interval(-0.0069, 0.0136, 3) == "[−0.007, +0.014]"
    assert numbers.fixed(None, 3) == numbers.interval(None, 0.1, 3) == "—"


@pytest.mark.parametrize(
    ("v", "text"),
    [
        (0.0045, "0.0045"),
        (66.2, "66"),
        (311.4, "311"),
        (1.104, "1.1"),
        (4.603e-08, "0.000000046"),
        (2e-16, "< 0.000000000001"),
        (123456.0, "123,456"),
    ],
)
def test_general_is_positional(v, text) -> None:
    assert numbers.general(v, 2) == text


def test_ratios() -> None:
    """The reported '0.00×' for 0.0045×."""
    assert numbers.times(0.0045) == "0.0045×" and numbers.times(66.0) == "66×"


@pytest.mark.parametrize("exp", range(-20, 21))
def test_no_exponent_at_any_magnitude(exp) -> None:
    for v in (1.234 * 10.0**exp, -9.87 * 10.0**exp):
        texts = [
            numbers.general(v),
            numbers.fixed(v, numbers.places((0, abs(v)))),
            numbers.signed(v, numbers.places((0, abs(v)))),
            numbers.interval(-v, v, numbers.places((-v, v))),
            report.num(v),
            report.signed(v),
            report.ci(-v, v),
            report.sci(v),
        ]
        for text in texts:
            assert not EXPONENT.search(text), (v, text)


def _metric(value, low, high, label="ROC AUC", better=True) -> dict:
    return {
        "label": label,
        "greater_is_better": better,
        "value": value,
        "ci_low": low,
        "ci_high": high,
    }


def _row(name, label, better, base, cand, delta, low, high, verdict) -> dict:
    return {
        "metric": name,
        "label": label,
        "greater_is_better": better,
        "candidate": {"value": cand, "ci_low": cand - 0.03, "ci_high": cand + 0.03},
        "baseline": {"value": base, "ci_low": base - 0.03, "ci_high": base + 0.03},
        "baseline_recorded": base,
        "delta": delta,
        "ci_low": low,
        "ci_high": high,
        "p_value": 0.2,
        "verdict": verdict,
    }


def test_metric_places_come_from_the_comparison_else_the_value() -> None:
    metrics = load(
        Evaluation,
        {
            "task": "classification",
            "primary": "roc_auc",
            "rows": 171,
            "confidence": 0.95,
            "resamples": 1000,
            "metrics": {
                "roc_auc": _metric(0.97312, 0.95, 0.99),
                "log_loss": _metric(0.1931, 0.15, 0.25, "Log loss", False),
            },
        },
    )
    assert numbers.metric_places(None, metrics) == {"roc_auc": 3, "log_loss": 2}
    comparison = load(
        Comparison,
        {
            "primary_metric": "roc_auc",
            "statistics": {"method": "m", "resamples": 1000, "confidence": 0.95, "seed": 0},
            "metrics": [
                _row("roc_auc", "ROC AUC", True, 0.9755, 0.97312, -0.00238, -0.0069, 0.0136, "x")
            ],
        },
    )
    assert numbers.metric_places(comparison, metrics) == {"roc_auc": 3, "log_loss": 2}


def test_one_value_reads_the_same_in_every_place_of_the_report() -> None:
    """The reported '0.007447 vs −0.00745' and '0.9 beside 0.9181': the primary
    metric's value and Δ in the headline, the table and the forest plot."""
    row = _row("roc_auc", "ROC AUC", True, 0.9, 0.91812, 0.01812, 0.00744712, 0.0291, "improved")
    comparison = load(
        Comparison,
        {
            "primary_metric": "roc_auc",
            "statistics": {"method": "m", "resamples": 1000, "confidence": 0.95, "seed": 0},
            "metrics": [row],
            "scored_on": "current holdout",
            "verdict": "pass",
            "primary": {
                "metric": "roc_auc",
                "candidate": 0.91812,
                "delta": 0.01812,
                "verdict": "improved",
            },
        },
    )
    metrics = load(
        Evaluation,
        {
            "task": "classification",
            "primary": "roc_auc",
            "rows": 171,
            "confidence": 0.95,
            "resamples": 1000,
            "metrics": {"roc_auc": _metric(0.91812, 0.88, 0.95)},
        },
    )
    from ci_ml.marker import marker

    ctx = {
        **BASE,
        "name": "x",
        "config_path": "ci-ml.yaml",
        "comment_id": "abc",
        "marker": marker("abc"),
        "reused": None,
        "release_marker": "",
        "status": "pass",
        "manifest": None,
        "metrics": metrics,
        "comparison": comparison,
        "validation": None,
        "safeguards": None,
        "export": None,
        "train": None,
        "timings": {},
        "run_url": None,
        "sha": "",
        **report.pictures(comparison, metrics, None),
    }
    text = report.render_report(ctx)
    # Δ interval width 0.0217 -> 3 decimals for every number of this metric.
    assert text.count("0.918") >= 2 and "0.9181" not in text
    assert "0.900" in text and "| 0.9 |" not in text
    assert text.count("+0.018") >= 2  # the headline/table and the forest plot
    assert "[+0.007, +0.029]" in text and "0.00745" not in text and "0.007447" not in text
    assert not EXPONENT.search(text)
