"""report.md and model-card.md rendered the way GitHub renders them, in a real
browser: markdown-it-py to HTML, every Mermaid block through Mermaid itself in
Debian's Chromium (render.mjs). Any Mermaid syntax error, chart with nothing
drawn, or broken markdown fails the test.

The documents are real builds: every example's first build (no baseline), and
comparisons with every verdict. The comparison of the README (the binary
example with max_depth lowered from 6 to 2, against a release history served by
the fake GitHub) is also saved as PNGs in tests/output/ for a reviewer to look at.

Chromium and the Node packages come from `.ci/run`; on a machine without them
the tests are skipped with the commands to install them (in CI they must run:
.ci/run sets CI_ML_BROWSER_TESTS=required).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

# `tests.*` is imported from the repository root, which plain `pytest` does not put on sys.path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.browser import gfm  # noqa: E402
from tests.conftest import EXAMPLES, ROOT, run_cli  # noqa: E402
from tests.report_context import BASE  # noqa: E402

OUTPUT = ROOT / "tests" / "output"
REPO = "octo/ml"
SAVED = "compare/max-depth-2"  # the comparison saved as PNGs


# Full run only; one worker renders every case (its builds are session fixtures).
pytestmark = [pytest.mark.browser, pytest.mark.no_cover, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="session")
def browser_ready() -> None:
    why = gfm.missing_tools()
    if why is None:
        return
    message = f"{why}; {gfm.INSTALL_HINT}"
    if os.environ.get("CI_ML_BROWSER_TESTS") == "required":
        pytest.fail(message)
    pytest.skip(message)


def _ok(r, *codes: int) -> None:
    assert r.returncode in (codes or (0,)), r.stdout + r.stderr
    assert "Traceback" not in r.stderr, r.stderr


def _build(config: Path, out: Path, *args: str, codes: tuple[int, ...] = (0,), env=None) -> Path:
    _ok(run_cli("run", "--config", str(config), "--out", str(out), *args, env=env), *codes)
    return out


def _edit(project: Path, change) -> None:
    path = project / "ci-ml.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _copy(name: str, root: Path) -> Path:
    dest = root / "projects" / name
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".ci-ml"))
    return dest


def _release_assets(out: Path) -> dict[str, bytes]:
    names = (out / "SHA256SUMS").read_text().split()[1::2]
    return {n: (out / n).read_bytes() for n in [*names, "SHA256SUMS"]}


def _with_history(first: Path, root: Path, config: Path) -> Path:
    """The README's comparison against a fake GitHub holding three releases:
    model-v1 and model-v2 (only their metrics.json, with made-up ROC AUCs) and
    model-v3 (the first build, the baseline)."""
    from tests.fake_github import DEFAULT_TOKEN, FakeGitHub

    fake = FakeGitHub().start()
    try:
        metrics = json.loads((first / "metrics.json").read_text())
        for tag, auc in [("model-v1", 0.9702), ("model-v2", 0.9731)]:
            metrics["metrics"]["roc_auc"]["value"] = auc
            fake.state.add_release(REPO, tag, assets={"metrics.json": json.dumps(metrics).encode()})
        fake.state.add_release(REPO, "model-v3", assets=_release_assets(first))
        env = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": DEFAULT_TOKEN}
        out = _build(config, root / "depth-2", "--baseline", "release", env=env)
    finally:
        fake.stop()
    assert fake.failures == []
    return out


TIERS = ["bronze", "silver", "gold", "platinum"]


def _four_class(root: Path) -> tuple[Path, Path]:
    """A 4-class model (the diabetes example's target in quartiles) built twice:
    max_depth 4, then 1 (which stops getting one class right)."""
    import csv

    project = _copy("regression", root / "four")
    shutil.rmtree(project / "tests_model")
    data = project / "data" / "diabetes.csv"
    with data.open() as f:
        rows = list(csv.DictReader(f))
    values = sorted(float(r["progression"]) for r in rows)
    cuts = [values[len(values) * i // 4] for i in (1, 2, 3)]
    for r in rows:
        value = float(r.pop("progression"))
        r["tier"] = TIERS[sum(value >= c for c in cuts)]
    with data.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    schema = yaml.safe_load((project / "schema.yaml").read_text())
    del schema["columns"]["progression"]
    schema["columns"]["tier"] = {"dtype": "str", "isin": TIERS}
    (project / "schema.yaml").write_text(yaml.safe_dump(schema, sort_keys=False))

    def four(cfg: dict, depth: int) -> None:
        cfg.update(name="diabetes-tier", task="classification", metrics={"primary": "accuracy"})
        cfg["data"]["target"] = "tier"
        cfg["model"] = {
            "estimator": "sklearn.ensemble.RandomForestClassifier",
            "params": {"n_estimators": 100, "max_depth": depth},
            "seed": 0,
        }
        cfg["gates"] = [{"metric": "accuracy", "max_regression": 0.05}]
        cfg["model_tests"] = {"slices": {"columns": {"sex": "values"}, "min_rows": 20}}  # fmt: skip

    config = project / "ci-ml.yaml"
    _edit(project, lambda c: four(c, 4))
    first = _build(config, root / "four-first")
    _edit(project, lambda c: four(c, 1))
    second = _build(config, root / "four-second", "--baseline", str(first), codes=(0, 4))
    return first, second


@pytest.fixture(scope="session")
def builds(browser_ready, tmp_path_factory, example_build) -> dict[str, Path]:
    """{case: build folder} for every case (the first builds are shared: read only)."""
    root = tmp_path_factory.mktemp("render")
    outs: dict[str, Path] = {}
    for name in ["binary-classification", "regression", "mixed-tabular"]:
        outs[f"first/{name}"] = example_build(name)
    first = outs["first/binary-classification"]

    project = _copy("binary-classification", root)
    _edit(project, lambda c: c["model"]["params"].update(max_depth=2))
    outs[SAVED] = _with_history(first, root, project / "ci-ml.yaml")

    worse = _copy("binary-classification", root / "worse")
    _edit(worse, lambda c: c["model"]["params"].update(n_estimators=3, max_depth=1))
    outs["compare/regressed"] = _build(
        worse / "ci-ml.yaml", root / "regressed", "--baseline", str(first), codes=(4,)
    )
    # The first build again, now against the worse one: improvements.
    improved = root / "improved"
    shutil.copytree(first, improved)
    binary = str(EXAMPLES / "binary-classification" / "ci-ml.yaml")
    base = ["--baseline", str(outs["compare/regressed"])]
    _ok(run_cli("compare", "--config", binary, "--out", str(improved), *base))
    _ok(run_cli("report", "--config", binary, "--out", str(improved)))
    outs["compare/improved"] = improved

    renamed = _copy("binary-classification", root / "renamed")
    for f in ["data/train.csv", "data/test.csv", "schema.yaml", "ci-ml.yaml"]:
        path = renamed / f
        path.write_text(path.read_text().replace("worst_radius", "worst_radius_mm"))
    _edit(renamed, lambda c: c.update(baseline={"on_unscorable": "skip"}))
    outs["compare/incomplete"] = _build(
        renamed / "ci-ml.yaml", root / "incomplete", "--baseline", str(first)
    )

    outs["first/four-class"], outs["compare/four-class"] = _four_class(root)

    reg = _copy("regression", root)
    _edit(reg, lambda c: c["model"]["params"].update(n_estimators=20))
    outs["compare/regression"] = _build(
        reg / "ci-ml.yaml", root / "regression", "--baseline", str(outs["first/regression"]),
        codes=(0, 4),
    )  # fmt: skip
    return outs


@pytest.fixture(scope="session")
def documents(builds) -> dict[str, dict[str, str]]:
    """{case: {"report": text, "model-card": text}} for every case."""
    return {
        case: {
            doc: (out / f"{doc}.md").read_text(encoding="utf-8") for doc in ("report", "model-card")
        }
        for case, out in builds.items()
    }


def _pages(documents: dict[str, dict[str, str]]) -> list[gfm.Page]:
    return [
        gfm.Page(f"{case}/{doc}", text)
        for case, docs in documents.items()
        for doc, text in docs.items()
    ]


def test_the_cases_cover_every_verdict(documents) -> None:
    heads = {case: docs["report"].split("\n")[1] for case, docs in documents.items()}
    assert all("first model" in heads[f"first/{n}"] for n in ["regression", "mixed-tabular"])
    assert "passes its gates" in heads[SAVED]
    assert "fails its gates" in heads["compare/regressed"]
    assert "relative gates not evaluated" in heads["compare/incomplete"]
    reports = "\n".join(d["report"] for d in documents.values())
    for icon in ["🟢 improved", "🔴 regressed", "🔘 within noise"]:
        assert icon in reports, icon


def test_every_document_renders_in_the_browser(documents) -> None:
    """Every report and model card: the markdown parses as meant, every Mermaid
    chart renders without error and draws its data; one comparison is saved."""
    pages = _pages(documents)
    shutil.rmtree(OUTPUT, ignore_errors=True)
    problems = gfm.render(pages, OUTPUT, png={f"{SAVED}/report", f"{SAVED}/model-card"})
    assert problems == []
    charts = {p.name: len(p.charts) for p in pages}
    assert charts[f"{SAVED}/report"] == 1 and charts[f"{SAVED}/model-card"] == 1  # the history
    saved = OUTPUT / SAVED / "report"
    assert (saved / "page.png").stat().st_size > 10_000 and (saved / "chart-1.png").is_file()


def test_a_template_that_emits_broken_mermaid_fails_the_check(
    browser_ready, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check can fail: the history template, broken two ways, rendered in-process
    beside the unbroken one, which passes."""
    from ci_ml import report
    from ci_ml.report import render

    real = render._template

    def rendered(edit=lambda t: t) -> str:
        monkeypatch.setattr(
            render, "_template", lambda n: edit(real(n)) if "history" in n else real(n)
        )
        return report.render_report(_context())

    good = rendered()
    syntax = rendered(lambda t: t.replace("{% endfor %}]", "{% endfor %}", 1))
    # One value where the line needs two: Mermaid accepts it and draws nothing.
    empty = rendered(lambda t: t.replace("{{ history.y | join(', ') }}", "{{ history.y[-1] }}"))
    assert good.count("```mermaid") == syntax.count("```mermaid") == empty.count("```mermaid") == 1
    pages = [gfm.Page("good", good), gfm.Page("syntax", syntax), gfm.Page("empty", empty)]
    problems = gfm.render(pages, tmp_path / "rendered")
    assert len(problems) == 2, problems
    assert problems[0].startswith("syntax#chart-1: Mermaid rejected it: Parse error"), problems
    assert problems[1] == "empty#chart-1: the chart draws no data (no line or bar)"


def test_broken_markdown_is_reported(tmp_path: Path) -> None:
    """No browser needed: the markdown checks alone."""
    text = "# t\n\n| | |\n| --- | --- |\n| a | b |\n\ntext\n| stray | row |\n\n```diff\n+ open"
    page = gfm.Page("bad", text)
    gfm.to_html(page, "assets")
    assert any("empty header row" in p for p in page.problems), page.problems
    assert any("never closed" in p for p in page.problems), page.problems


def _context() -> dict:
    """The template context of a build with a history, without a browser or GitHub."""
    from ci_ml import report
    from ci_ml.marker import marker
    from ci_ml.records import Evaluation, History, load

    metrics = load(
        Evaluation,
        {
            "task": "classification", "primary": "roc_auc", "rows": 10, "confidence": 0.95,
            "resamples": 100,
            "metrics": {"roc_auc": {"label": "ROC AUC", "greater_is_better": True,
                                    "value": 0.97, "ci_low": 0.95, "ci_high": 0.99}},
        },
    )  # fmt: skip
    history = load(
        History,
        {"limit": 10, "releases": [{"tag": "model-v1", "published_at": None, "url": None,
                                    "metrics": {"roc_auc": 0.96}}]},
    )  # fmt: skip
    return {
        "name": "x", "config_path": "ci-ml.yaml", "comment_id": "abc", "status": "no-baseline",
        "marker": marker("abc"), "manifest": None, "metrics": metrics,
        **BASE,
        "comparison": None, "validation": None, "safeguards": None, "export": None,
        "train": None, "timings": {}, "reused": None, "release_marker": "",
        "run_url": None, "sha": "", **report.pictures(None, metrics, history),
    }  # fmt: skip


# --- the first screen ---------------------------------------------------------------

SCREEN = 900  # px: the first screen at GitHub's comment width


def _edited(build: Path, dest: Path, record: str, change) -> Path:
    """A copy of a build with one record edited, its report rendered again: a
    scenario from records, without training."""
    shutil.copytree(build, dest)
    path = dest / record
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    binary = str(EXAMPLES / "binary-classification" / "ci-ml.yaml")
    _ok(run_cli("report", "--config", binary, "--out", str(dest)))
    return dest


def _stop(data: dict) -> None:
    data["passed"] = False
    data["findings"].insert(0, {
        "check": "contamination", "severity": "error", "column": None, "value": 0.07,
        "threshold": 0.01, "examples": [3, 5],
        "message": "12 holdout rows (7.0%) also appear in the training data (limit 1%)",
    })  # fmt: skip


def _failing_slice(data: dict) -> None:
    sl = data["slices"]
    sl["gates"][0]["gate"].update(status="fail", reason="accuracy 0.838 < min 0.85")
    sl["passed"] = data["passed"] = False
    data["failed"] += 1
    name = sl["gates"][0]["slice"]
    data["failures"].insert(
        0, {"kind": "slice", "name": name, "message": "accuracy 0.838 < min 0.85"}
    )


@pytest.fixture(scope="session")
def scenarios(builds, tmp_path_factory) -> dict[str, str]:
    """{scenario: report.md}: the issue's scenarios, built or derived from records."""
    root = tmp_path_factory.mktemp("screens")
    first = builds["first/binary-classification"]
    # The first build compared with itself: an identical rebuild.
    same = root / "identical"
    shutil.copytree(first, same)
    binary = str(EXAMPLES / "binary-classification" / "ci-ml.yaml")
    _ok(run_cli("compare", "--config", binary, "--out", str(same), "--baseline", str(first)))
    _ok(run_cli("report", "--config", binary, "--out", str(same)))
    outs = {
        "regression": builds["compare/regressed"],
        "improvement": builds["compare/improved"],
        "history of three": builds[SAVED],
        "4-class model": builds["compare/four-class"],
        "within noise": builds[SAVED],
        "identical rebuild": same,
        "safeguard stop": _edited(first, root / "stop", "safeguards.json", _stop),
        "failing model test": _edited(
            builds["compare/regressed"], root / "failing", "model-tests.json", _failing_slice
        ),
    }
    return {name: (out / "report.md").read_text(encoding="utf-8") for name, out in outs.items()}


def test_the_first_screen_tells_the_story(scenarios, tmp_path: Path) -> None:
    """At 900 px: the verdict, every failed check and every significant change end
    within the first 900 px (measured in Chromium); a comparison where nothing
    moved is under 900 px in all."""
    pages = [gfm.Page(name.replace(" ", "-"), text) for name, text in scenarios.items()]
    measured = gfm.measure(pages, tmp_path / "screens", width=SCREEN)
    for page in pages:
        m = measured[page.name]
        parts = m["parts"]
        heads = [p for p in parts if p["tag"] == "H2"]
        assert len(heads) == 1 and heads[0]["bottom"] <= SCREEN, page.name
        failed = [p for p in parts if p["tag"] == "LI" and p["text"].startswith("❌")]
        changes = [p for p in parts if p["tag"] == "TR" and p["text"][:1] in "🔴🟢"]
        for p in failed + changes:
            assert p["bottom"] <= SCREEN, (page.name, p)
        # every failure and every significant change the report lists is there
        text = page.markdown
        listed = text.split("**Failed** (")[1].split(")")[0] if "**Failed** (" in text else "0"
        assert len(failed) == min(int(listed), 12), page.name
        n = (
            text.split("**Significant changes** (")[1].split(")")[0]
            if "**Significant changes** (" in text
            else "0"
        )
        assert len(changes) == min(int(n), 15), page.name
    assert measured["identical-rebuild"]["height"] <= SCREEN
    identical = scenarios["identical rebuild"]
    assert "**No significant change**" in identical and "Δ 0 [0, 0]" in identical
    # every interval of a change (signed, or an exact 0) is [0, 0]
    intervals = re.findall(r"\[([−+][\d.]+|0), ([−+][\d.]+|0)\]", identical)
    assert intervals and all(lo == hi == "0" for lo, hi in intervals), intervals
    assert "**Failed** (1)" in scenarios["safeguard stop"]
    four = scenarios["4-class model"]  # recall and precision per class, with intervals
    assert "recall gold ↑" in four and "precision gold ↑" in four  # the forest plot
    assert re.search(r"\| 🔴 \| class gold: recall ↑ \| 0\.\d+ → 0 \| −0\.\d+ \[−", four), four
    assert "(failing a slice gate)" in scenarios["failing model test"]
