"""Candidate versus baseline: paired deltas, tests, data and schema changes, gates.

Everything here is a pure function of predictions, metrics and manifests;
ci_ml.pipeline does the reading and writing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ci_ml import gates as gates_mod
from ci_ml.metrics import METRICS, Scored
from ci_ml.stats import Delta, Estimate, mcnemar_exact, paired_deltas, paired_error_test

if TYPE_CHECKING:
    import numpy as np

    from ci_ml.config import Config


def align_classes(
    candidate_classes: list[Any], baseline_classes: list[Any], pred: np.ndarray, proba: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Map the baseline's labels and probability columns onto the candidate's classes.
    Returns (pred index, proba, notes). A baseline label unknown to the candidate gets
    index -1 (always wrong); its probability mass is dropped."""
    import numpy as np

    key = {str(c): i for i, c in enumerate(candidate_classes)}
    notes = []
    idx = np.array([key.get(str(v), -1) for v in pred], dtype=np.int64)
    out = np.zeros((proba.shape[0], len(candidate_classes)))
    for j, c in enumerate(baseline_classes):
        if str(c) in key:
            out[:, key[str(c)]] = proba[:, j]
    only_base = [c for c in baseline_classes if str(c) not in key]
    only_cand = [c for c in candidate_classes if str(c) not in {str(b) for b in baseline_classes}]
    if only_base:
        notes.append(f"classes only the baseline knows: {', '.join(map(str, only_base))}")
    if only_cand:
        notes.append(f"classes only the candidate knows: {', '.join(map(str, only_cand))}")
    return idx, out, notes


def _scored_baseline(candidate: Scored, pred_idx: np.ndarray, proba: np.ndarray | None) -> Scored:
    import numpy as np

    # A label the candidate does not know can never be right: encode it as a class
    # index no row has (K), which the one-hot encoders treat as a column of its own.
    if candidate.task == "classification":
        k = len(candidate.classes or [])
        safe = np.where(pred_idx < 0, k, pred_idx)
        if (pred_idx < 0).any():
            classes = [*candidate.classes, "<unknown to candidate>"]
            cand_proba = (
                None if proba is None else np.hstack([proba, np.zeros((proba.shape[0], 1))])
            )
            return Scored("classification", candidate.y, safe, cand_proba, classes)
        return Scored("classification", candidate.y, safe, proba, candidate.classes)
    return Scored("regression", candidate.y, pred_idx)


def significance_tests(candidate: Scored, baseline: Scored) -> dict[str, Any]:
    import numpy as np

    if candidate.task == "classification":
        return mcnemar_exact(
            candidate.pred == candidate.y, baseline.pred[: len(candidate.y)] == candidate.y
        )
    ce = candidate.pred.astype(np.float64) - candidate.y
    be = baseline.pred.astype(np.float64) - candidate.y
    return {
        "squared_error": paired_error_test(ce, be, "squared"),
        "absolute_error": paired_error_test(ce, be, "absolute"),
    }


def recorded_deltas(
    candidate_values: dict[str, float], recorded: dict[str, Any], names: list[str]
) -> dict[str, Delta]:
    """Deltas against the baseline's recorded metrics: no interval, no verdict."""
    out = {}
    nan = float("nan")
    for name in names:
        rec = (recorded.get("metrics") or {}).get(name)
        if rec is None or name not in candidate_values:
            continue
        b = float(rec["value"])
        c = candidate_values[name]
        out[name] = Delta(
            name,
            METRICS[name].greater_is_better,
            Estimate(c, nan, nan),
            Estimate(b, rec.get("ci_low", nan), rec.get("ci_high", nan)),
            c - b,
            nan,
            nan,
            nan,
            "n/a",
        )
    return out


def _columns(manifest: dict[str, Any]) -> dict[str, str]:
    cols = {f["name"]: f["dtype"] for f in manifest.get("features", [])}
    if manifest.get("target"):
        cols[manifest["target"]["name"]] = manifest["target"]["dtype"]
    return cols


def schema_changes(base_manifest: dict[str, Any], cand_manifest: dict[str, Any]) -> dict[str, Any]:
    b, c = _columns(base_manifest), _columns(cand_manifest)
    return {
        "added": sorted(set(c) - set(b)),
        "removed": sorted(set(b) - set(c)),
        "retyped": [
            {"column": k, "baseline": b[k], "candidate": c[k]}
            for k in sorted(set(b) & set(c))
            if b[k] != c[k]
        ],
        "schema_changed": (base_manifest.get("schema") or {}).get("sha256")
        != (cand_manifest.get("schema") or {}).get("sha256"),
    }


def holdout_identity(manifest: dict[str, Any]) -> str | None:
    """A fingerprint of the holdout rows: the test file's sha256, or data file + split."""
    data = manifest.get("data") or {}
    files = data.get("files") or {}
    if "test" in files:
        return files["test"]["sha256"]
    if "data" in files:
        split = data.get("split") or {}
        return f"{files['data']['sha256']}:{split.get('test_size')}:{split.get('seed')}:{split.get('stratify')}"
    return None


def class_balance(
    base_metrics: dict[str, Any], cand_metrics: dict[str, Any]
) -> list[dict[str, Any]]:
    b = base_metrics.get("class_balance") or {}
    c = cand_metrics.get("class_balance") or {}
    return [
        {"class": k, "baseline": b.get(k), "candidate": c.get(k)}
        for k in sorted(set(b) | set(c), key=str)
    ]


def params_diff(
    base_manifest: dict[str, Any], cand_manifest: dict[str, Any]
) -> list[dict[str, Any]]:
    b = (base_manifest.get("model") or {}).get("params") or {}
    c = (cand_manifest.get("model") or {}).get("params") or {}
    rows = []
    for k in sorted(set(b) | set(c)):
        if b.get(k, "∅") != c.get(k, "∅"):
            rows.append({"param": k, "baseline": b.get(k), "candidate": c.get(k)})
    b_est = (base_manifest.get("model") or {}).get("estimator")
    c_est = (cand_manifest.get("model") or {}).get("estimator")
    if b_est != c_est:
        rows.insert(0, {"param": "(estimator)", "baseline": b_est, "candidate": c_est})
    return rows


def compare(
    cfg: Config,
    candidate: Scored,
    cand_metrics: dict[str, Any],
    cand_manifest: dict[str, Any],
    baseline: Any | None,  # ci_ml.baseline.Baseline
    baseline_scores: Any | None,  # ci_ml.baseline.BaselineScores
) -> dict[str, Any]:
    """The whole comparison record (comparison.json)."""
    names = [n for n in cand_metrics["metrics"]]
    values = {n: float(v["value"]) for n, v in cand_metrics["metrics"].items()}
    primary = cand_metrics["primary"]
    st = cfg.statistics
    result: dict[str, Any] = {
        "primary_metric": primary,
        "baseline": None,
        "scored_on": None,
        "baseline_problem": None,
        "notes": [],
        "metrics": [],
        "tests": None,
        "statistics": {
            "method": "paired bootstrap (percentile)",
            "resamples": st.resamples,
            "confidence": st.confidence,
            "seed": st.seed,
        },
        "data_changes": None,
        "params_diff": [],
    }
    deltas: dict[str, Delta] = {}
    if baseline is not None:
        result["baseline"] = baseline.identity
        same_holdout = holdout_identity(baseline.manifest) == holdout_identity(cand_manifest)
        result["data_changes"] = {
            "holdout_identical": same_holdout,
            "rows": {
                "baseline": (baseline.metrics.get("rows")),
                "candidate": cand_metrics.get("rows"),
            },
            "class_balance": class_balance(baseline.metrics, cand_metrics),
            "columns": schema_changes(baseline.manifest, cand_manifest),
        }
        if not same_holdout:
            result["notes"].append(
                "the holdout data differ from the baseline's: its recorded metrics are not comparable; "
                "the baseline was re-scored on this holdout, so the deltas below are"
            )
        result["params_diff"] = params_diff(baseline.manifest, cand_manifest)
        if baseline_scores is not None and baseline_scores.problem is None:
            if candidate.task == "classification":
                idx, proba, notes = align_classes(
                    candidate.classes or [],
                    baseline_scores.classes or [],
                    baseline_scores.pred,
                    baseline_scores.proba,
                )
                result["notes"].extend(notes)
                base_scored = _scored_baseline(candidate, idx, proba)
                cand_for_pair = candidate
                if base_scored.classes != candidate.classes:  # an extra "unknown" class column
                    import numpy as np

                    cand_for_pair = Scored(
                        "classification",
                        candidate.y,
                        candidate.pred,
                        None
                        if candidate.proba is None
                        else np.hstack([candidate.proba, np.zeros((len(candidate.y), 1))]),
                        base_scored.classes,
                    )
            else:
                base_scored = _scored_baseline(candidate, baseline_scores.pred, None)
                cand_for_pair = candidate
            deltas = paired_deltas(
                cand_for_pair, base_scored, names, st.resamples, st.confidence, st.seed
            )
            result["tests"] = significance_tests(candidate, base_scored)
            result["scored_on"] = "current holdout"
        else:
            result["baseline_problem"] = (
                baseline_scores.problem if baseline_scores else "not scored"
            )
            if same_holdout:
                deltas = recorded_deltas(values, baseline.metrics, names)
                result["scored_on"] = "recorded metrics (same holdout)"
            else:
                result["scored_on"] = "none (baseline not comparable)"
    for name in names:
        m = METRICS[name]
        d = deltas.get(name)
        rec = (
            ((baseline.metrics.get("metrics") or {}).get(name) or {}).get("value")
            if baseline
            else None
        )
        cm = cand_metrics["metrics"][name]
        row: dict[str, Any] = {
            "metric": name,
            "label": m.label,
            "greater_is_better": m.greater_is_better,
            "candidate": {
                "value": cm["value"],
                "ci_low": cm.get("ci_low"),
                "ci_high": cm.get("ci_high"),
            },
            "baseline_recorded": rec,
        }
        if d is not None:
            row.update(
                {
                    "baseline": d.baseline.as_dict(),
                    "delta": d.delta,
                    "ci_low": d.ci_low,
                    "ci_high": d.ci_high,
                    "p_value": d.p_value,
                    "verdict": d.verdict,
                }
            )
            if candidate.task == "classification" and name == "accuracy" and result["tests"]:
                row["p_value_mcnemar"] = result["tests"]["p_value"]
        else:
            row.update(
                {
                    "baseline": None,
                    "delta": None,
                    "ci_low": None,
                    "ci_high": None,
                    "p_value": None,
                    "verdict": "no baseline" if baseline is None else "n/a",
                }
            )
        result["metrics"].append(row)
    gate_results = [
        gates_mod.evaluate_gate(
            g,
            values.get(g.metric, math.nan),
            deltas.get(g.metric),
            METRICS[g.metric].greater_is_better,
        )
        for g in cfg.gates
    ]
    gate_results.sort(key=lambda r: {"fail": 0, "skipped": 1, "pass": 2}[r.status])
    result["gates"] = [r.as_dict() for r in gate_results]
    result["verdict"] = gates_mod.overall(gate_results, has_baseline=bool(deltas))
    p = next(r for r in result["metrics"] if r["metric"] == primary)
    result["primary"] = {
        "metric": primary,
        "candidate": p["candidate"]["value"],
        "delta": p["delta"],
        "verdict": p["verdict"],
    }
    return result
