import math

import pytest

from ci_ml.checks.gates import evaluate_gate, overall
from ci_ml.config import Gate
from ci_ml.stats.bootstrap import Delta, Estimate


def delta(c: float, b: float, verdict: str, gib: bool = True) -> Delta:
    e = float("nan")
    return Delta("m", gib, Estimate(c, e, e), Estimate(b, e, e), c - b, -1, 1, 0.5, verdict)


def recorded(c: float, b: float, gib: bool = True) -> Delta:
    """A delta against recorded metrics: no interval, so no significance."""
    e = float("nan")
    return Delta("m", gib, Estimate(c, e, e), Estimate(b, e, e), c - b, e, e, e, "n/a")


@pytest.mark.parametrize(
    ("gate", "cand", "d", "gib", "status"),
    [
        ({"min": 0.9}, 0.91, None, True, "pass"),
        ({"min": 0.9}, 0.89, None, True, "fail"),
        ({"max": 50}, 51, None, False, "fail"),
        ({"max": 50}, 49, None, False, "pass"),
        ({"max_regression": 0.01}, 0.90, None, True, "skipped"),
        ({"max_regression": 0.01}, 0.90, delta(0.90, 0.905, "within noise"), True, "pass"),
        ({"max_regression": 0.01}, 0.88, delta(0.88, 0.90, "within noise"), True, "fail"),
        (
            {"max_regression": 0.01, "only_if_significant": True},
            0.88,
            delta(0.88, 0.90, "within noise"),
            True,
            "pass",
        ),
        (
            {"max_regression": 0.01, "only_if_significant": True},
            0.88,
            delta(0.88, 0.90, "regressed"),
            True,
            "fail",
        ),
        # error metric: higher is worse
        ({"max_regression": 1.0}, 12.0, delta(12.0, 10.0, "regressed", gib=False), False, "fail"),
        ({"max_regression": 1.0}, 8.0, delta(8.0, 10.0, "improved", gib=False), False, "pass"),
        ({"max_regression_pct": 2}, 10.3, delta(10.3, 10.0, "regressed", gib=False), False, "fail"),
        ({"max_regression_pct": 5}, 10.3, delta(10.3, 10.0, "regressed", gib=False), False, "pass"),
        ({"max_regression_pct": 2}, 0.97, delta(0.97, 1.0, "regressed"), True, "fail"),
        ({"min": 0.5}, math.nan, None, True, "fail"),
        # against recorded metrics significance cannot be shown: over the limit fails
        (
            {"max_regression": 0.01, "only_if_significant": True},
            0.815,
            recorded(0.815, 0.90),
            True,
            "fail",
        ),
        ({"max_regression": 0.01}, 0.899, recorded(0.899, 0.90), True, "pass"),
        # a baseline value that is undefined cannot pass a relative gate
        ({"max_regression": 0.01}, 0.9, recorded(0.9, math.nan), True, "fail"),
    ],
)
def test_gate_table(gate: dict, cand: float, d: Delta | None, gib: bool, status: str) -> None:
    r = evaluate_gate(Gate(metric="m", **gate), cand, d, gib)
    assert r.status == status, r.reason
    assert r.reason


def test_a_baseline_that_gave_no_delta_fails_a_relative_gate_or_is_not_evaluated() -> None:
    gate = Gate(metric="m", max_regression=0.01, only_if_significant=True)
    why = "the baseline could not be scored on this holdout"
    failed = evaluate_gate(gate, 0.8, None, True, missing=why)
    assert failed.status == "fail" and why in failed.reason
    skipped = evaluate_gate(gate, 0.8, None, True, missing=why, on_missing="skip")
    assert skipped.status == "not evaluated" and why in skipped.reason
    # absolute gates still apply whatever happened to the baseline
    assert evaluate_gate(Gate(metric="m", min=0.9), 0.8, None, True, missing=why).status == "fail"


def test_reasons_name_the_configured_confidence() -> None:
    gate = Gate(metric="m", max_regression=0.01, only_if_significant=True)
    r = evaluate_gate(gate, 0.88, delta(0.88, 0.90, "within noise"), True, confidence=0.9)
    assert "90% CI" in r.reason and "95%" not in r.reason


def test_overall() -> None:
    g = evaluate_gate(Gate(metric="m", min=0.5), 0.4, None, True)
    assert overall([g], "scored") == "fail"
    ok = evaluate_gate(Gate(metric="m", min=0.5), 0.6, None, True)
    assert overall([ok], "scored") == "pass"
    assert overall([ok], "none") == "no-baseline"
    assert overall([], "none") == "no-baseline"
    assert overall([], "unscorable") == "pass"  # nothing to gate on, but never "first model"
    gate = Gate(metric="m", max_regression=0.01)
    skipped = evaluate_gate(gate, 0.8, None, True, missing="gone", on_missing="skip")
    assert overall([ok, skipped], "unscorable") == "incomplete"
