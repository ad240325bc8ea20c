import math

import pytest

from ci_ml.config import Gate
from ci_ml.stages.gates import evaluate_gate, overall
from ci_ml.stats.bootstrap import Delta, Estimate


def delta(c: float, b: float, verdict: str, gib: bool = True) -> Delta:
    e = float("nan")
    return Delta("m", gib, Estimate(c, e, e), Estimate(b, e, e), c - b, -1, 1, 0.5, verdict)


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
    ],
)
def test_gate_table(gate: dict, cand: float, d: Delta | None, gib: bool, status: str) -> None:
    r = evaluate_gate(Gate(metric="m", **gate), cand, d, gib)
    assert r.status == status, r.reason
    assert r.reason


def test_overall() -> None:
    g = evaluate_gate(Gate(metric="m", min=0.5), 0.4, None, True)
    assert overall([g], True) == "fail"
    ok = evaluate_gate(Gate(metric="m", min=0.5), 0.6, None, True)
    assert overall([ok], True) == "pass"
    assert overall([ok], False) == "no-baseline"
    assert overall([], False) == "no-baseline"
