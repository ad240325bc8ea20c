"""The model tests in the report, and the pytest runner's verdict on a suite."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from markdown_it import MarkdownIt

from ci_ml import report
from ci_ml.checks.model_tests import failures
from ci_ml.marker import marker
from ci_ml.records import ModelTestsResult, load
from ci_ml.testing.runner import Collector, summarise
from tests.report_context import BASE

EVIL = "a|b <!-- x --> <script>alert(1)</script> [link](http://e.vil) `tick`"


def _gate(status: str, reason: str) -> dict:
    return {
        "metric": "roc_auc",
        "rule": "max_regression",
        "threshold": 0.05,
        "actual": 0.08,
        "status": status,
        "reason": reason,
    }


def _slice(name: str, rows: int, delta: float, verdict: str, gated: bool = True) -> dict:
    return {
        "name": name,
        "by": "plan",
        "rows": rows,
        "gated": gated,
        "metrics": {
            "roc_auc": {
                "candidate": 0.7 + delta,
                "ci_low": 0.6,
                "ci_high": 0.8,
                "baseline": 0.7,
                "delta": delta,
                "delta_ci_low": delta - 0.02,
                "delta_ci_high": delta + 0.02,
                "p_value": 0.001,
                "p_adjusted": 0.003,
                "verdict": verdict,
            }
        },
    }


def _tests_result() -> ModelTestsResult:
    result = {
        "configured": True,
        "baseline": "compared",
        "slices": {
            "metrics": ["roc_auc"],
            "ranked_by": "roc_auc",
            "min_rows": 30,
            "confidence": 0.95,
            "resamples": 1000,
            "slices": [_slice(f"plan={EVIL}", 400, -0.08, "regressed")]
            + [_slice(f"plan=p{i}", 100, 0.001 * i, "within noise") for i in range(11)]
            + [_slice("plan=tiny", 5, 0.2, "too small to test", gated=False)],
            "gates": [
                {"slice": f"plan={EVIL}", "gate": _gate("fail", f"plan={EVIL}: roc_auc regressed")},
                {"slice": "plan=p1", "gate": _gate("pass", "plan=p1: fine")},
            ],
            "passed": False,
            "worst": f"plan={EVIL}",
        },
        "golden": {
            "path": "golden.csv",
            "rows": 3,
            "failed": 1,
            "max_failures": 0,
            "passed": False,
            "failures": [{"row": 2, "expected": "yes", "got": "no", "note": EVIL}],
        },
        "invariance": [
            {
                "kind": "invariance",
                "name": EVIL,
                "column": "region",
                "change": "values redrawn from the training rows",
                "rows": 100,
                "rate": 0.02,
                "baseline_rate": 0.01,
                "threshold": 0.05,
                "passed": True,
                "reason": "flip rate 2% ≤ 5%",
                "examples": ["3"],
            }
        ],
        "directional": [],
        "calibration": {
            "bins": 2,
            "confidence": 0.95,
            "what": "positive class's probability",
            "metrics": [
                {
                    "metric": "ece",
                    "label": "Expected calibration error",
                    "candidate": 0.05,
                    "ci_low": 0.03,
                    "ci_high": 0.07,
                    "baseline": 0.04,
                    "delta": 0.01,
                    "delta_ci_low": -0.01,
                    "delta_ci_high": 0.03,
                    "p_value": 0.4,
                    "verdict": "within noise",
                }
            ],
            "reliability": [
                {"low": 0, "high": 0.5, "rows": 10, "confidence": 0.2, "observed": 0.3},
                {"low": 0.5, "high": 1, "rows": 0, "confidence": None, "observed": None},
            ],
            "gates": [],
            "passed": True,
        },
        "budgets": {
            "repeats": 30,
            "measures": [
                {
                    "name": "model size",
                    "unit": "bytes",
                    "candidate": 2048,
                    "baseline": 1024,
                    "limit": 1000,
                    "ratio_limit": None,
                    "passed": False,
                    "reason": "2,048 bytes > budget 1,000 bytes",
                },
                {
                    "name": "latency, 1 row",
                    "unit": "ms",
                    "candidate": 0.05,
                    "baseline": None,
                    "limit": None,
                    "ratio_limit": None,
                    "passed": True,
                    "reason": "0.05 ms, no budget set",
                },
            ],
            "passed": False,
        },
        "pytest": {
            "paths": ["tests_model"],
            "exit_code": 1,
            "tests": [
                {
                    "nodeid": f"t.py::test_{EVIL}",
                    "outcome": "failed",
                    "message": EVIL,
                    "duration": 0.1,
                },
                {"nodeid": "t.py::test_ok", "outcome": "passed", "message": None, "duration": 0.01},
                {
                    "nodeid": "t.py::test_skip",
                    "outcome": "skipped",
                    "message": "no baseline",
                    "duration": 0,
                },
            ],
            "problem": None,
            "passed": False,
        },
    }
    typed = load(ModelTestsResult, result)
    typed.total, typed.failures = failures(typed)
    typed.failed, typed.passed = len(typed.failures), False
    return typed


def _ctx(tests: ModelTestsResult | None) -> dict:
    return {
        "name": "churn",
        "config_path": "ci-ml.yaml",
        "comment_id": "abc123",
        "reused": None,
        "release_marker": "",
        "marker": marker("abc123"),
        **BASE,
        "status": "tests-failed",
        "manifest": None,
        "metrics": None,
        "comparison": None,
        "validation": None,
        "safeguards": None,
        "export": None,
        "train": None,
        "timings": {},
        "chart": None,
        **report.pictures(None, None, None),
        "run_url": None,
        "sha": "",
        "model_tests": tests,
        "worst_slice": report.worst_slice(tests),
    }


def test_failures_come_first_and_every_kind_is_counted() -> None:
    t = _tests_result()
    kinds = [f.kind for f in t.failures]
    assert kinds == ["slice", "golden", "budget", "pytest"]
    # 2 slice gates, golden, 1 invariance, 1 budget with a limit, 3 pytest tests
    assert t.total == 8


def test_the_report_shows_model_tests_failures_first_and_the_failing_slice() -> None:
    text = report.render_report(_ctx(_tests_result()))
    assert "fails its model tests" in text
    head, section = text.split("❌ Model tests: 4 of 8 passed</summary>", 1)
    # The first screen: every failure with its reason, then the significant
    # changes (the slice that regressed, its gate failed), then the failing slice.
    assert "**Failed** (4):" in head and head.count("\n- ❌ model test (") == 4
    assert "| 🔴 | slice plan=a\\|b" in head and "❌ gate failed |" in head
    assert "**Slice** (failing a slice gate): plan=a\\|b" in head
    assert section.index("| ❌ slice |") < section.index("**Slices**")
    assert "<script>" not in text and "<!-- x -->" not in text
    assert text.count("-->") == 1  # only the marker's
    md = MarkdownIt("commonmark").enable("table")
    tables = [t for t in md.parse(text) if t.type == "table_open"]
    # significant changes, failures, slices (10 of 13), all slices, golden, checks,
    # calibration, reliability, budgets, pytest tests
    assert len(tables) == 10
    top = section.split("**Slices**")[1].split("<details><summary>All 13 slices</summary>")[0]
    assert top.count("| plan=") == 10 and "plan=tiny" not in top


def test_nothing_configured_means_no_section() -> None:
    assert "Model tests" not in report.render_report(_ctx(None))
    assert report.worst_slice(None) is None


def test_run_status_puts_failed_gates_before_failed_model_tests() -> None:
    failed = SimpleNamespace(passed=False)
    assert report.run_status(None, SimpleNamespace(verdict="fail"), 1, 1, None, failed) == "fail"
    assert (
        report.run_status(None, SimpleNamespace(verdict="pass"), 1, 1, None, failed)
        == "tests-failed"
    )
    ok = SimpleNamespace(passed=True)
    assert report.run_status(None, SimpleNamespace(verdict="pass"), 1, 1, None, ok) == "pass"


@pytest.mark.parametrize(("v", "s"), [(None, "—"), (0.0, "0%"), (0.0123, "1.23%"), (1.0, "100%")])
def test_pct(v, s) -> None:
    assert report.pct(v) == s


# --- the runner's verdict ---------------------------------------------------------------


def _report(nodeid: str, when: str, outcome: str, longrepr=None, **extra) -> SimpleNamespace:
    return SimpleNamespace(
        nodeid=nodeid,
        when=when,
        passed=outcome == "passed",
        failed=outcome == "failed",
        skipped=outcome == "skipped",
        duration=0.5,
        longrepr=longrepr,
        **extra,
    )


def test_collector_outcomes_and_messages() -> None:
    c = Collector()
    c.pytest_collection_finish(SimpleNamespace(items=[1, 2, 3, 4]))
    crash = SimpleNamespace(reprcrash=SimpleNamespace(message="assert 1 == 2"))
    for r in [
        _report("a", "setup", "passed"),
        _report("a", "call", "passed"),
        _report("a", "teardown", "passed"),
        _report("b", "setup", "passed"),
        _report("b", "call", "failed", crash),
        _report("c", "setup", "skipped", ("f.py", 3, "Skipped: no baseline")),
        _report("d", "setup", "failed", "E   boom\nFixtureError: broken"),
        _report("e", "call", "skipped", None, wasxfail="known"),
    ]:
        c.pytest_runtest_logreport(r)
    got = {t.nodeid: (t.outcome, t.message) for t in c.cases.values()}
    assert got == {
        "a": ("passed", None),
        "b": ("failed", "assert 1 == 2"),
        "c": ("skipped", "no baseline"),
        "d": ("error", "FixtureError: broken"),
        "e": ("skipped", "xfail: known"),
    }
    assert c.cases["a"].duration == 1.5
    result = summarise(c, 1, ["t"])
    assert not result.passed and result.problem is None and result.count("failed") == 1


@pytest.mark.parametrize(
    ("code", "collected", "ran", "uncollected", "problem"),
    [
        (0, 2, 2, False, None),
        (5, 0, 0, False, "no tests ran"),
        (0, 0, 0, False, "no tests ran"),
        (0, 3, 1, False, "stopped after 1 of 3"),
        (2, 1, 0, True, "could not collect t.py"),
        (3, 1, 1, False, "exit status 3"),
    ],
)
def test_a_suite_that_did_not_run_fully_fails(code, collected, ran, uncollected, problem) -> None:
    c = Collector()
    c.collected = collected
    if uncollected:
        c.pytest_collectreport(
            SimpleNamespace(nodeid="t.py", failed=True, longrepr="E   SyntaxError: bad")
        )
    for i in range(ran):
        c.pytest_runtest_logreport(_report(f"t{i}", "call", "passed"))
    result = summarise(c, code, ["t"])
    if problem is None:
        assert result.passed and result.problem is None
    else:
        assert not result.passed and problem in result.problem
