"""Rendering: escaping, the sticky marker, and GitHub-flavoured markdown that parses."""

import copy
import re

import pytest
from markdown_it import MarkdownIt

from ci_ml import report
from ci_ml.errors import UsageError
from ci_ml.marker import comment_id, marker
from ci_ml.records import Comparison, Evaluation, Manifest, ValidationResult, load
from tests.report_context import BASE

pytestmark = pytest.mark.no_cover  # every line it runs, other tests trace too

EVIL = "a|b <!-- x --> <script>alert(1)</script> **bold** [link](http://e.vil) `tick`\nnewline"


def _ctx() -> dict:
    metrics = {
        "task": "classification",
        "primary": "roc_auc",
        "rows": 300,
        "confidence": 0.95,
        "resamples": 1000,
        "metrics": {
            "roc_auc": {
                "label": "ROC AUC",
                "greater_is_better": True,
                "value": 0.91,
                "ci_low": 0.88,
                "ci_high": 0.94,
            },
            "log_loss": {
                "label": "Log loss",
                "greater_is_better": False,
                "value": 0.3,
                "ci_low": 0.25,
                "ci_high": 0.35,
            },
        },
        "classes": [EVIL, "b"],
        "confusion_matrix": {"labels": [EVIL, "b"], "rows_true_cols_pred": [[100, 10], [20, 170]]},
        "class_balance": {EVIL: 110, "b": 190},
    }
    comparison = {
        "verdict": "fail",
        "primary_metric": "roc_auc",
        "primary": {"metric": "roc_auc", "candidate": 0.91, "delta": -0.02, "verdict": "regressed"},
        "baseline": {
            "label": "model-v3",
            "commit": "abcdef1234567",
            "source": "release",
            "url": None,
            "created": None,
            "name": None,
        },
        "scored_on": "current holdout",
        "baseline_problem": None,
        "notes": [EVIL],
        "metrics": [
            {
                "metric": "roc_auc",
                "label": "ROC AUC",
                "greater_is_better": True,
                "candidate": {"value": 0.91, "ci_low": 0.88, "ci_high": 0.94},
                "baseline": {"value": 0.93, "ci_low": 0.9, "ci_high": 0.96},
                "baseline_recorded": 0.93,
                "delta": -0.02,
                "ci_low": -0.03,
                "ci_high": -0.01,
                "p_value": 0.0004,
                "verdict": "regressed",
            },
            {
                "metric": "log_loss",
                "label": "Log loss",
                "greater_is_better": False,
                "candidate": {"value": 0.3, "ci_low": 0.25, "ci_high": 0.35},
                "baseline": {"value": 0.3, "ci_low": 0.25, "ci_high": 0.35},
                "baseline_recorded": 0.3,
                "delta": 0.0,
                "ci_low": -0.01,
                "ci_high": 0.01,
                "p_value": 0.9,
                "verdict": "within noise",
            },
        ],
        "tests": {
            "test": "mcnemar_exact",
            "candidate_only_correct": 3,
            "baseline_only_correct": 9,
            "p_value": 0.146,
        },
        "gates": [
            {
                "metric": "roc_auc",
                "rule": "max_regression",
                "threshold": 0.01,
                "actual": 0.02,
                "status": "fail",
                "reason": "roc_auc regressed by 0.02",
            }
        ],
        "data_changes": {
            "holdout_identical": True,
            "rows": {"baseline": 300, "candidate": 300},
            "class_balance": [{"class": EVIL, "baseline": 100, "candidate": 110}],
            "columns": {"added": [EVIL], "removed": [], "retyped": [], "schema_changed": True},
        },
        "params_diff": [{"param": "model__C", "baseline": 1.0, "candidate": EVIL}],
        "statistics": {
            "method": "paired bootstrap (percentile)",
            "resamples": 1000,
            "confidence": 0.95,
            "seed": 0,
        },
    }
    metrics, comparison = load(Evaluation, metrics), load(Comparison, comparison)
    return {
        "name": EVIL,
        "config_path": "ci-ml.yaml",
        "comment_id": "abc123",
        "reused": None,
        "release_marker": "",
        "marker": marker("abc123"),
        **BASE,
        "status": "fail",
        "manifest": None,
        "metrics": metrics,
        "comparison": comparison,
        "validation": None,
        "safeguards": None,
        "export": None,
        "train": None,
        "timings": {},
        **report.pictures(comparison, metrics, None),
        "run_url": "https://github.com/o/r/actions/runs/1",
        "sha": "abcdef123456",
    }


def _tables(text: str) -> int:
    md = MarkdownIt("commonmark").enable("table")
    return sum(1 for t in md.parse(text) if t.type == "table_open")


def test_report_tables_parse_and_marker_is_there_once() -> None:
    text = report.render_report(_ctx())
    assert text.count("<!-- ci-ml:comment id=abc123 -->") == 1
    # significant changes (first screen), gates, metrics, class balance, params diff,
    # recall per class, confusion matrix
    assert _tables(text) == 7


def test_user_text_cannot_break_markdown_or_the_marker() -> None:
    text = report.render_report(_ctx())
    assert "<script>" not in text
    assert "<!-- x -->" not in text  # would end nothing, but a stray '-->' could close the marker
    outside_code = re.sub(r"^```.*?^```$", "", text, flags=re.S | re.M)
    assert outside_code.count("-->") == 1
    assert "a\\|b &lt;\\!-- x --&gt;" in text
    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(text)
    # The confusion-matrix header keeps exactly 3 cells despite the '|' in the class name.
    heads, cells, inside = [], 0, False
    for t in tokens:
        if t.type == "thead_open":
            inside, cells = True, 0
        elif t.type == "th_open" and inside:
            cells += 1
        elif t.type == "thead_close":
            inside = False
            heads.append(cells)
    assert heads[-1] == 3, heads  # the confusion matrix is the last table
    links = [
        t
        for t in tokens
        if t.type == "inline" and any(c.type == "link_open" for c in t.children or [])
    ]
    hrefs = [c.attrGet("href") for t in links for c in t.children if c.type == "link_open"]
    assert hrefs == ["https://github.com/o/r/actions/runs/1"]


def test_first_build_report_without_comparison() -> None:
    ctx = _ctx()
    ctx.update(comparison=None, status="no-baseline", **report.pictures(None, ctx["metrics"], None))
    text = report.render_report(ctx)
    assert "first model" in text and _tables(text) == 3  # metrics, recall, confusion


def test_validation_failure_report() -> None:
    ctx = _ctx()
    ctx.update(
        comparison=None,
        metrics=None,
        status="invalid-data",
        **report.pictures(None, None, None),
        validation=load(
            ValidationResult,
            {
                "passed": False,
                "schema": "schema.yaml",
                "schema_sha256": None,
                "rows": {"train": 10},
                "broken_columns": ["age"],
                "failures": [
                    {
                        "dataset": "train",
                        "column": "age",
                        "check": "greater_than_or_equal_to(0)",
                        "failing_rows": 2,
                        "examples": [-1, -5],
                        "rows": [3, 9],
                    }
                ],
            },
        ),
    )
    text = report.render_report(ctx)
    assert "Schema failures" in text and "age" in text and _tables(text) == 1


def test_a_template_without_marker_fails_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    from ci_ml.report import render

    monkeypatch.setattr(render, "_template", lambda name: "no marker here")
    with pytest.raises(RuntimeError, match="marker"):
        report.render_report(copy.deepcopy(_ctx()))


@pytest.mark.parametrize(
    ("v", "s"),
    [
        (0.91234, "0.9123"),
        (12.3456, "12.35"),
        (None, "—"),
        (1234567.0, "1,234,567"),
        (0.0001234, "0.0001234"),
        (0.924, "0.924"),
        (-0.5, "−0.5"),
        (0.0, "0"),
        (float("nan"), "—"),
    ],
)
def test_num_is_one_positional_format(v, s) -> None:
    assert report.num(v) == s


def test_deltas_and_intervals_share_the_values_format() -> None:
    """The reported headline: '+2.190e-04' beside four-decimal values."""
    assert report.signed(0.000219) == "+0.000219"
    assert report.signed(-0.011695) == "−0.0117"
    # An interval alone gets the decimals its width supports (2 significant digits of it).
    assert report.ci(-0.00534, 0.00745) == "[−0.005, +0.007]"
    assert report.sci(2.504e-07) == "0.00000025"  # round-off: no exponent either


def test_signed_and_ci() -> None:
    assert report.signed(0.0123) == "+0.0123"
    assert report.signed(-0.5) == "−0.5"
    assert report.ci(-0.01, 0.02) == "[−0.010, +0.020]"


def test_comment_id_is_stable_per_config_path() -> None:
    assert comment_id("ci-ml.yaml") == comment_id("./ci-ml.yaml")
    assert comment_id("a/ci-ml.yaml") != comment_id("b/ci-ml.yaml")
    with pytest.raises(UsageError, match="comment id"):
        marker("x -->")


def test_rows_and_p_values_read_as_english() -> None:
    assert report.rows(1) == "1 row" and report.rows(1234) == "1,234 rows"
    assert report.p_equals(0.0004) == "p < 0.001"
    assert report.p_equals(0.25) == "p = 0.250"


def test_a_build_from_a_dirty_tree_says_so_in_the_report_and_the_card() -> None:
    ctx = _ctx()
    ctx["manifest"] = {
        "git": {"commit": "abcdef1234567890", "dirty": True},
        "model": None,
        "task": "classification",
        "created": "2026-11-26T00:00:00+00:00",
        "data": {"files": {}},
        "schema": {"source": None, "sha256": None},
        "config": {"model": {"seed": 0}},
        "environment": {
            "python": "3.11",
            "packages": {"scikit-learn": "1", "skl2onnx": "1", "onnxruntime": "1"},
        },
        "features": [],
        "classes": None,
    }
    ctx["manifest"] = load(Manifest, ctx["manifest"])
    text = report.render_report(ctx)
    assert "uncommitted changes" in text and "abcdef123456" in text
    card = report.render_model_card(ctx)
    assert "uncommitted changes" in card and "Check out the commit above" not in card
    ctx["manifest"].git.dirty = False
    assert "uncommitted changes" not in report.render_report(ctx)


def test_safeguard_findings_are_listed_errors_first_with_masked_examples() -> None:
    from ci_ml.records import SafeguardsResult

    ctx = _ctx()
    ctx["safeguards"] = load(
        SafeguardsResult,
        {
            "passed": False,
            "findings": [
                {
                    "check": "personal_data",
                    "severity": "error",
                    "column": "notes",
                    "message": "notes holds e-mail addresses (0.5% of 900 values scanned)",
                    "examples": ["a•••@e•••.org"],
                },
                {"check": "skew", "severity": "warn", "column": EVIL, "message": EVIL},
            ],
            "leakage_scores": {},
            "skew": {},
            "allowed_personal_data": {},
            "rows": {"train": 10, "test": 5},
        },
    )
    ctx.update(status="unsafe-data", comparison=None, **report.pictures(None, ctx["metrics"], None))
    text = report.render_report(ctx)
    assert "a data safeguard stopped the build" in text and "Data safeguards" in text
    assert text.index("personal data") < text.index("skew")
    assert "`a•••@e•••.org`" in text and "<script>" not in text


@pytest.mark.parametrize(
    ("install", "shown"),
    [
        (
            {"locked": True, "lock_sha256": "96e33e51a0a9b951", "differs": {}},
            "from ci-ml's lock (sha256 `96e33e51a0a9`)",
        ),
        (
            {"locked": False, "lock_sha256": "96e33e51a0a9b951", "differs": {"numpy": {}}},
            "⚠️ 1 package(s) differ from ci-ml's lock",
        ),
        ({"locked": False, "lock_sha256": None, "differs": {}}, "not from ci-ml's lock"),
        (None, None),  # a manifest from before the install was recorded
    ],
)
def test_the_lineage_says_whether_ci_ml_was_installed_from_its_lock(install, shown) -> None:
    ctx = _ctx()
    environment = {
        "python": "3.12",
        "packages": {"scikit-learn": "1", "skl2onnx": "1", "onnxruntime": "1"},
    }
    if install is not None:
        environment["install"] = install
    ctx["manifest"] = {
        "git": None,
        "model": None,
        "task": "classification",
        "created": "2026-11-26T00:00:00+00:00",
        "data": {"files": {}},
        "schema": {"source": None, "sha256": None},
        "config": {"model": {"seed": 0}},
        "environment": environment,
        "features": [],
        "classes": None,
    }
    text = report.render_report(ctx)
    rows = [line for line in text.splitlines() if line.startswith("| install |")]
    assert rows == ([] if shown is None else [f"| install | {shown} |"])


def test_the_model_card_is_a_release_body_to_keep() -> None:
    """Reported: 'Check out the commit above' with no commit, the command split in
    two code spans, no training rows, intended use or limitations, ROC AUC not
    named as macro one-vs-rest."""
    ctx = _ctx()
    ctx["manifest"] = load(
        Manifest,
        {
            "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False,
                    "config_path": "models/ci-ml.yaml"},
            "model": {"estimator": "RandomForestClassifier", "params": {"max_depth": 4},
                      "seed": 7},
            "task": "classification",
            "created": "2026-11-26T00:00:00+00:00",
            "data": {"files": {"train": {"path": "train.csv", "sha256": "ab" * 32, "rows": 800,
                                         "columns": 5}},
                     "train_rows": 800, "test_rows": 300},
            "schema": {"source": None, "sha256": None},
            "config": {"model": {"params": {"max_depth": 4}, "seed": 7},
                       "card": {"intended_use": "triage <b>only</b>",
                                "limitations": "not for children"}},
            "environment": {"python": "3.11",
                            "packages": {"scikit-learn": "1", "skl2onnx": "1", "onnxruntime": "1"}},
            "features": [{"name": "age", "dtype": "int64"}],
            "classes": ["a", "b", "c"],
        },
    )  # fmt: skip
    ctx["metrics"].classes = ["a", "b", "c"]
    card = report.render_model_card(ctx)
    assert "Check out the commit above" not in card
    assert (
        "```sh\ngit checkout 0123456789abcdef0123456789abcdef01234567\n"
        "ci-ml run --config models/ci-ml.yaml --no-cache\n```" in card
    )
    assert "**Intended use**: triage &lt;b&gt;only&lt;/b&gt;" in card
    assert "**Limitations**: not for children" in card
    assert "| trained on | 800 rows; holdout 300 rows |" in card
    assert "macro one-vs-rest" in card  # three classes
    assert "`max_depth` 4" in card and "seed 7" in card
    ctx["manifest"].git = None
    card = report.render_model_card(ctx)
    assert "recorded no commit" in card and "git checkout" not in card
    # engine: dask: the rows the booster trained on, or the sample a model was fitted on
    from ci_ml.records import EngineFit

    assert ctx["manifest"].model is not None
    ctx["manifest"].model.engine = EngineFit(
        rows=3_000, of=3_000, trainer="lightgbm.DaskLGBMClassifier", preprocess_rows=833
    )
    assert (
        "| trained on | 3,000 rows (every training row), the steps before the booster on "
        "833 rows; holdout 300 rows |"
    ) in report.render_model_card(ctx)
    ctx["manifest"].model.engine = EngineFit(rows=833, of=3_000, sampled_because="no trainer")
    assert "| trained on | 833 rows of 3,000 rows (a seeded sample); holdout" in (
        report.render_model_card(ctx)
    )


def test_a_search_and_a_training_command_are_collapsed_escaped_sections() -> None:
    from ci_ml.records import CommandRun, ExportResult, SearchResult, SearchTrial, TrainResult

    trials = [
        SearchTrial({EVIL: 3, "max_features": 0.212345678, "bootstrap": True}, 0.98, 0.0123, 1),
        SearchTrial({EVIL: None, "max_features": 0.5, "bootstrap": False}, 0.97, 0.02, 2),
    ]
    search = SearchResult("random", "roc_auc", True, 3, 6, 4, 2.5, trials[0].params, trials)
    search.stopped = "max_minutes (1) spent after 4 of 6 candidates"
    command = CommandRun([EVIL, "train.py", "--out", "{model_dir}"], 0, 1.5, EVIL)
    train = TrainResult("command: python train.py", {}, [], 1.5, ["a", "b"], "classification")
    train.search, train.command = search, command
    export = ExportResult("model.onnx", 4966, "float", [], ["label", "probabilities"], {})
    export.parity = {"skipped": "trained by model.command: no scikit-learn model"}
    ctx = _ctx()
    ctx.update(train=train, export=export, timings={"train": 1.5})
    text = report.render_report(ctx)
    assert "<script>" not in text and text.count("-->") == 1
    assert "<details><summary>Search: best of 4 candidates by 3-fold roc\\_auc" in text
    assert "max\\_features 0.2123" in text and "bootstrap True" in text and "null" in text
    assert "stopped early: max\\_minutes \\(1\\) spent after 4 of 6 candidates" in text
    assert "<details><summary>Trained by command: exit 0 in 1.5 s; ONNX parity not checked" in text
    assert "parity not checked (trained by command), model.onnx 4.8 KiB" in text
    assert _tables(text) == 7 + 3  # the search's, the command's and the build's
    assert "the model was refitted on every training row with rank 1's params" in text
    from ci_ml.records import EngineFit

    train.engine = EngineFit(rows=1_000, of=5_000, sampled_because="no Dask trainer")
    text = report.render_report(ctx)
    assert "refitted on the client's sample of 1,000 training rows with rank 1's params" in text


def _build_section(engine: dict | None, fitted: object = None) -> str:
    from types import SimpleNamespace as NS

    from ci_ml.report.render import render

    # as ExportResult holds it: a dict
    parity = {"passed": True, "rows": 10, "max_abs_diff": 1e-9, "tolerance": 1e-4}
    export = NS(bytes=1000, parity=parity, precision="double", opset={"": 17},
                latency_ms_per_1k_rows=1.0)  # fmt: skip
    manifest = NS(data=NS(engine=engine))
    train = NS(fit_seconds=1.0, engine=fitted)
    ctx = {"export": export, "train": train, "timings": {}, "manifest": manifest}
    return render("build.md.j2", ctx)


def test_the_build_details_say_what_a_sampled_dask_build_held_of_the_rows() -> None:
    engine = {
        "kind": "dask",
        "workers": 4,
        "sample": {
            "train": {"rows": 1_000_184, "of": 40_001_544, "seed": 7},
            "test": {"rows": 999_960, "of": 9_998_456, "seed": 7},
        },
    }
    text = _build_section(engine)
    assert (
        "| engine | dask, 4 worker(s); validation on every row; the model trained on "
        "1,000,184 of 40,001,544 training rows, the holdout's per-row stages on 999,960 of "
        "9,998,456 rows (seeded samples, seed 7; engine.sample_rows) |"
    ) in text
    assert "| engine |" not in _build_section(None)  # a local build: no such row


def test_the_build_details_say_a_booster_trained_on_every_row_and_why_others_did_not() -> None:
    from ci_ml.records import EngineFit

    engine = {
        "kind": "dask",
        "workers": 2,
        "sample": {
            "train": {"rows": 833, "of": 3_000, "seed": 0},
            "test": {"rows": 400, "of": 400, "seed": 0},
        },
    }
    on_cluster = EngineFit(
        rows=3_000, of=3_000, trainer="xgboost.dask.DaskXGBClassifier", partitions=3,
        workers=2, preprocess_rows=833,
    )  # fmt: skip
    text = _build_section(engine, on_cluster)
    assert (
        "validation on every row; the booster trained on all 3,000 training rows on the "
        "cluster (xgboost.dask.DaskXGBClassifier), the steps before it fitted on 833 of them, "
        "the holdout's per-row stages on 400 of 400 rows (seeded samples, seed 0; "
        "engine.sample_rows) |"
    ) in text
    on_cluster.preprocess_rows = None  # nothing in front of the booster
    assert "DaskXGBClassifier), the holdout's" in _build_section(engine, on_cluster)
    sampled = EngineFit(
        rows=833, of=3_000, sampled_because="CatBoostClassifier: CatBoost has no Dask trainer"
    )
    assert (
        "the model trained on 833 of 3,000 training rows (CatBoostClassifier: CatBoost has no "
        "Dask trainer), the holdout's"
    ) in _build_section(engine, sampled)
    whole = EngineFit(
        rows=3_000, of=3_000, sampled_because="the client's sample holds every training row"
    )
    engine["sample"]["train"] = {"rows": 3_000, "of": 3_000, "seed": 0}
    assert "the model trained on 3,000 of 3,000 training rows, the holdout's" in _build_section(
        engine, whole
    )
