"""Quality gates: pure decisions over numbers, no I/O.

Semantics (docs/guide/statistics.md's "Gates" says the same):
- `min` / `max`: absolute bounds on the candidate's value. Always apply,
  with or without a baseline.
- `max_regression`: the candidate may be worse than the baseline by at most
  this much, in the metric's own units. "Worse" follows the metric's
  direction: lower for accuracy, higher for rmse.
- `max_regression_pct`: the same, relative to the baseline's absolute value, in percent.
- `only_if_significant`: a regression gate fails only if, in addition, the
  paired bootstrap says the metric regressed (its interval excludes zero).
Relative gates are skipped when there is no baseline (first build), and the
overall verdict is then `no-baseline` unless an absolute gate failed. A
baseline that exists but gives no comparable number never reads as "no
baseline": its relative gates fail, or with `baseline.on_unscorable: skip`
are reported as not evaluated (verdict `incomplete`).
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

from ci_ml.records import GateResult

if TYPE_CHECKING:
    from ci_ml.config import Gate
    from ci_ml.stats.bootstrap import Delta


# rule -> (passes, symbol when it passes, symbol when it fails)
ABSOLUTE = {
    "min": (operator.ge, "≥", "<"),
    "max": (operator.le, "≤", ">"),
}


def worsening(candidate: float, baseline: float, greater_is_better: bool) -> float:
    """How much worse the candidate is (positive = worse), in the metric's units."""
    return (baseline - candidate) if greater_is_better else (candidate - baseline)


def _absolute(gate: Gate, rule: str, threshold: float, candidate: float) -> GateResult:
    passes, yes, no = ABSOLUTE[rule]
    ok = passes(candidate, threshold)
    reason = f"{gate.metric} = {candidate:.4g} {yes if ok else no} {rule} {threshold:g}"
    return GateResult(gate.metric, rule, threshold, candidate, "pass" if ok else "fail", reason)


def _regression_amount(rule: str, worse: float, baseline: float) -> tuple[float, str, str]:
    """(amount compared with the threshold, its unit, how to show it)."""
    if rule == "max_regression_pct":
        base = abs(baseline)
        amount = math.inf if base == 0 and worse > 0 else (0.0 if base == 0 else 100 * worse / base)
        return amount, "%", f"{amount:.3g}%"
    return worse, "", f"{worse:.4g}"


def evaluate_gate(
    gate: Gate,
    candidate: float,
    delta: Delta | None,
    greater_is_better: bool,
    confidence: float = 0.95,
    missing: str | None = None,
    on_missing: str = "fail",
) -> GateResult:
    """One gate's verdict. `delta` is None without a baseline; `missing` then says
    why a baseline that exists gave no delta, and `on_missing` ("fail" or "skip")
    whether that fails the gate or leaves it explicitly not evaluated."""
    rule = gate.rule
    threshold = float(getattr(gate, rule))
    m = gate.metric
    # A relative gate of a first build is skipped, whatever the candidate's value:
    # there is nothing to be relative to (an absolute gate catches an undefined metric).
    if rule not in ABSOLUTE and delta is None and missing is None:
        return GateResult(m, rule, threshold, None, "skipped", f"no baseline to compare {m} with")
    if math.isnan(candidate):
        return GateResult(
            m, rule, threshold, None, "fail", f"{m} could not be computed on the holdout set"
        )
    if rule in ABSOLUTE:
        return _absolute(gate, rule, threshold, candidate)
    if delta is None or math.isnan(delta.baseline.value):
        why = missing or f"the baseline's {m} is undefined"
        status = "not evaluated" if on_missing == "skip" else "fail"
        return GateResult(m, rule, threshold, None, status, f"{m} cannot be compared: {why}")
    return _relative(gate, rule, threshold, delta, greater_is_better, confidence)


def _relative(
    gate: Gate,
    rule: str,
    threshold: float,
    delta: Delta,
    greater_is_better: bool,
    confidence: float,
) -> GateResult:
    m = gate.metric
    worse = worsening(delta.candidate.value, delta.baseline.value, greater_is_better)
    amount, unit, shown = _regression_amount(rule, worse, delta.baseline.value)
    limit = f"{threshold:g}{unit}"
    change = f"{delta.baseline.value:.4g} → {delta.candidate.value:.4g}"
    if amount <= threshold:
        reason = (
            f"{m} worse by {shown}, within limit {limit}"
            if worse > 0
            else f"{m} did not regress ({change})"
        )
        return GateResult(m, rule, threshold, amount, "pass", reason)
    testable = not (math.isnan(delta.ci_low) or math.isnan(delta.ci_high))
    significant = delta.verdict == "regressed"
    unreliable = getattr(delta, "unreliable", None)
    if gate.only_if_significant and unreliable:
        # An interval a few rows dominate can hide a real regression: the gate is
        # the plain limit, without the significance escape.
        reason = (
            f"{m} regressed by {shown}: {change}, limit {limit} (only_if_significant does not "
            f"apply: its interval is not trustworthy, {unreliable})"
        )
        return GateResult(m, rule, threshold, amount, "fail", reason)
    if gate.only_if_significant and testable and not significant:
        level = f"{confidence * 100:g}%"
        reason = (
            f"{m} worse by {shown} (limit {limit}) but within noise "
            f"({level} CI of Δ {delta.ci_low:+.4g} … {delta.ci_high:+.4g})"
        )
        return GateResult(m, rule, threshold, amount, "pass", reason)
    if significant:
        sig = " (significant)"
    elif gate.only_if_significant:
        # No interval (recorded metrics): significance cannot be shown either way.
        sig = " (significance not testable against recorded metrics)"
    else:
        sig = ""
    reason = f"{m} regressed by {shown}{sig}: {change}, limit {limit}"
    return GateResult(m, rule, threshold, amount, "fail", reason)


ORDER = {"fail": 0, "not evaluated": 1, "skipped": 2, "pass": 3}


def overall(results: list[GateResult], baseline_status: str) -> str:
    """fail if any gate failed; no-baseline for a first build; incomplete when a
    relative gate could not be evaluated (and the config said to skip it); else pass."""
    if any(r.status == "fail" for r in results):
        return "fail"
    if baseline_status == "none":
        return "no-baseline"
    if any(r.status == "not evaluated" for r in results):
        return "incomplete"
    return "pass"
