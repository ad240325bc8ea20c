"""Quality gates: pure decisions over numbers, no I/O.

Semantics (the README's "Gates" section says the same):
- `min` / `max`: absolute bounds on the candidate's value. Always apply,
  with or without a baseline.
- `max_regression`: the candidate may be worse than the baseline by at most
  this much, in the metric's own units. "Worse" follows the metric's
  direction: lower for accuracy, higher for rmse.
- `max_regression_pct`: the same, relative to the baseline's absolute value, in percent.
- `only_if_significant`: a regression gate fails only if, in addition, the
  paired bootstrap says the metric regressed (its interval excludes zero).
Relative gates are skipped when there is no baseline (first build), and the
overall verdict is then `no-baseline` unless an absolute gate failed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ci_ml.config import Gate
    from ci_ml.stats import Delta


@dataclass
class GateResult:
    metric: str
    rule: str
    threshold: float
    actual: float | None
    status: str  # pass | fail | skipped
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def worsening(candidate: float, baseline: float, greater_is_better: bool) -> float:
    """How much worse the candidate is (positive = worse), in the metric's units."""
    return (baseline - candidate) if greater_is_better else (candidate - baseline)


def evaluate_gate(
    gate: Gate, candidate: float, delta: Delta | None, greater_is_better: bool
) -> GateResult:
    rule = gate.rule
    threshold = float(getattr(gate, rule))
    m = gate.metric
    if math.isnan(candidate):
        return GateResult(
            m, rule, threshold, None, "fail", f"{m} could not be computed on the holdout set"
        )
    if rule == "min":
        ok = candidate >= threshold
        return GateResult(
            m,
            rule,
            threshold,
            candidate,
            "pass" if ok else "fail",
            f"{m} = {candidate:.4g} {'≥' if ok else '<'} min {threshold:g}",
        )
    if rule == "max":
        ok = candidate <= threshold
        return GateResult(
            m,
            rule,
            threshold,
            candidate,
            "pass" if ok else "fail",
            f"{m} = {candidate:.4g} {'≤' if ok else '>'} max {threshold:g}",
        )
    if delta is None:
        return GateResult(m, rule, threshold, None, "skipped", f"no baseline to compare {m} with")
    worse = worsening(delta.candidate.value, delta.baseline.value, greater_is_better)
    if rule == "max_regression_pct":
        base = abs(delta.baseline.value)
        amount = (
            math.inf if base == 0 and worse > 0 else (0.0 if base == 0 else 100.0 * worse / base)
        )
        unit, shown = "%", f"{amount:.3g}%"
    else:
        amount, unit, shown = worse, "", f"{worse:.4g}"
    over = amount > threshold
    significant = delta.verdict == "regressed"
    if over and gate.only_if_significant and not significant:
        return GateResult(
            m,
            rule,
            threshold,
            amount,
            "pass",
            f"{m} worse by {shown} (limit {threshold:g}{unit}) but within noise "
            f"(95% CI of Δ {delta.ci_low:+.4g} … {delta.ci_high:+.4g})",
        )
    if over:
        sig = " (significant)" if significant else ""
        return GateResult(
            m,
            rule,
            threshold,
            amount,
            "fail",
            f"{m} regressed by {shown}{sig}: {delta.baseline.value:.4g} → "
            f"{delta.candidate.value:.4g}, limit {threshold:g}{unit}",
        )
    return GateResult(
        m,
        rule,
        threshold,
        amount,
        "pass",
        f"{m} worse by {shown}, within limit {threshold:g}{unit}"
        if worse > 0
        else f"{m} did not regress ({delta.baseline.value:.4g} → {delta.candidate.value:.4g})",
    )


def overall(results: list[GateResult], has_baseline: bool) -> str:
    """fail if any gate failed, else pass with a baseline, else no-baseline."""
    if any(r.status == "fail" for r in results):
        return "fail"
    return "pass" if has_baseline else "no-baseline"
