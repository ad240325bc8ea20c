"""Closing the monitoring loop on GitHub: a drift check's outcome (drift.json and
drift.md, written by `ci-ml drift`) becomes the model's one sticky issue, opened
or updated while the data drift, closed when they return to normal, and linking
the candidate a retraining run built on the fresh data.

The decisions and the issue's text are pure functions here; the calls are in
ci_ml.github.issues. Nothing here reads the environment: the CLI passes it in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ci_ml.artifact import read_json
from ci_ml.errors import UsageError
from ci_ml.github import issues
from ci_ml.github.client import GitHubClient
from ci_ml.github.comment import fit_comment
from ci_ml.records import Comparison, DriftReport, load, read_manifest
from ci_ml.report.filters import code, md

DRIFT_JSON = "drift.json"
DRIFT_MD = "drift.md"
DEFAULT_LABEL = "ci-ml-drift"
MAX_FINDINGS = 20  # in the headline list; drift.md below has every one


@dataclass(frozen=True)
class DriftOutcome:
    """What the issue needs of a drift check (the fields of drift.json it reads)."""

    drifted: bool
    findings: tuple[str, ...]
    reference: str
    current: tuple[str, ...]
    report: str  # drift.md, as `ci-ml drift` rendered (and escaped) it


@dataclass(frozen=True)
class Candidate:
    """The model retrained on the fresh data, if the run built one."""

    verdict: str | None = None  # the comparison's: pass | fail | no-baseline | ...
    baseline: str | None = None  # what it was compared with
    primary: str | None = None  # "roc_auc 0.91 (+0.02)"
    tag: str | None = None  # its prerelease, when published
    url: str | None = None
    promoted: bool = False
    snapshot: str | None = None  # the data it was trained on, as the user names them


@dataclass(frozen=True)
class RunInfo:
    """Where and when the check ran (for the issue's "last checked" line)."""

    date: str
    url: str | None = None


SEVERITY_ICONS = {"drift": "🔴", "warn": "🟡", "info": "ℹ️"}


def read_drift(directory: Path) -> DriftOutcome:
    """drift.json (a `DriftReport`) and drift.md of a `ci-ml drift` run, checked."""
    path = directory / DRIFT_JSON
    if not path.is_file():
        raise UsageError(
            f"no {DRIFT_JSON} in {directory}",
            hint="run `ci-ml drift --reference latest --current FILE` first, or pass --drift DIR",
        )
    try:
        report = load(DriftReport, read_json(path))
    except (OSError, ValueError) as e:  # RecordError is a ValueError
        raise UsageError(
            f"{path} is not a ci-ml drift report: {str(e)[:300]}",
            hint="pass the folder `ci-ml drift --out` wrote",
        ) from None
    report_path = directory / DRIFT_MD
    return DriftOutcome(
        drifted=report.drifted,
        findings=tuple(
            f"{SEVERITY_ICONS.get(f.severity, '')} {f.message}".strip()
            for f in report.findings
            if f.severity != "info"
        ),
        reference=report.reference.label,
        current=tuple(report.current.files),
        report=report_path.read_text(encoding="utf-8") if report_path.is_file() else "",
    )


def read_candidate(
    build: Path | None, tag: str | None, url: str | None, promoted: bool
) -> Candidate | None:
    """The retrained candidate: its build folder's comparison (if given) and its
    prerelease (if published). None: no retraining in this run."""
    if build is None and tag is None:
        return None
    verdict = baseline = primary = snapshot = None
    if build is not None:
        provenance = read_manifest(build).provenance
        snapshot = provenance.data_snapshot if provenance else None
        path = build / "comparison.json"
        try:
            comparison = load(Comparison, read_json(path))
        except (OSError, ValueError) as e:
            raise UsageError(
                f"{path}: not a ci-ml comparison: {str(e)[:200]}",
                hint="pass the artifact folder of the retraining build (`ci-ml run --out`)",
            ) from None
        verdict = comparison.verdict
        baseline = comparison.baseline.label if comparison.baseline else None
        p = comparison.primary
        if p is not None and isinstance(p.candidate, (int, float)):
            delta = f" ({p.delta:+.4g})" if p.delta is not None else ""
            primary = f"{p.metric} {p.candidate:.4g}{delta}"
    return Candidate(verdict, baseline, primary, tag, url, promoted, snapshot)


# --- the decision and the text (pure) ----------------------------------------------------


def action(outcome: DriftOutcome) -> Literal["upsert", "close"]:
    """Drift: open or update the issue. None: close it if it is open."""
    return "upsert" if outcome.drifted else "close"


def title(model: str) -> str:
    """The issue's title (plain text: GitHub renders no markdown in titles)."""
    return f"ci-ml: the data of {model} drifted"


def _checked(run: RunInfo) -> str:
    where = f" ([the run]({run.url}))" if run.url else ""
    return f"{run.date}{where}"


def _candidate_lines(c: Candidate) -> list[str]:
    lines = ["", "### The model retrained on the fresh data", ""]
    against = f" against {code(c.baseline)}" if c.baseline else ""
    score = f"; {md(c.primary)}" if c.primary else ""
    if c.snapshot:
        lines.append(f"Trained on {code(c.snapshot)} (its manifest has the files' hashes).")
    if c.verdict is not None:
        lines.append(f"Compared{against} on the fresh holdout: **{md(c.verdict)}**{score}.")
    if c.tag and c.url:
        lines.append(f"Published as the prerelease [{md(c.tag)}]({c.url}).")
    elif c.tag:
        lines.append(f"Published as the prerelease {code(c.tag)}.")
    elif c.verdict == "fail":
        lines.append("Not published: it failed its gates (the run's report says which).")
    else:
        lines.append("Not published (the run's log says why).")
    if c.promoted:
        lines.append(f"Promoted to the latest release (`promote-on-pass`): {code(c.tag)}.")
    elif c.tag:
        lines.append(
            f"Promotion is deliberate: `ci-ml promote {c.tag}` makes it the model that the "
            "next pull requests compare with."
        )
    return lines


def issue_body(
    mark: str, model: str, outcome: DriftOutcome, run: RunInfo, candidate: Candidate | None
) -> str:
    """The sticky issue: the marker, what drifted, when it was last checked, the
    retrained candidate, then the whole drift report; fitted to GitHub's limit.
    Every value from the data or the user is escaped."""
    current = ", ".join(code(c) for c in outcome.current) or "the fresh data"
    lines = [
        mark,
        f"## ⚠️ The data of {md(model)} drifted",
        "",
        f"{current} drifted from {code(outcome.reference)}, the data the released model "
        "was trained on.",
        "",
        f"Last checked: {_checked(run)}. This issue is updated by every drift check, "
        "and closed when the data return to normal.",
    ]
    if outcome.findings:
        lines += ["", "**Findings**", ""]
        lines += [f"- {md(f)}" for f in outcome.findings[:MAX_FINDINGS]]
        if len(outcome.findings) > MAX_FINDINGS:
            lines.append(f"- … and {len(outcome.findings) - MAX_FINDINGS} more (below)")
    if candidate is not None:
        lines += _candidate_lines(candidate)
    if outcome.report.strip():
        lines += ["", "---", "", outcome.report.strip()]
    body, _ = fit_comment("\n".join(lines) + "\n", issues.MAX_ISSUE_CHARS, run.url)
    return body


def closing_comment(outcome: DriftOutcome, run: RunInfo) -> str:
    current = ", ".join(code(c) for c in outcome.current) or "the fresh data"
    return (
        f"✅ The data returned to normal: the drift check of {_checked(run)} found no "
        f"drift of {current} from {code(outcome.reference)}. Closing; ci-ml reopens this "
        "issue if the data drift again."
    )


# --- the use-case -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueOrder:
    repo: str
    mark: str
    model: str
    label: str
    run: RunInfo
    author: str | None = None


def sync_issue(
    client: GitHubClient,
    order: IssueOrder,
    outcome: DriftOutcome,
    candidate: Candidate | None,
) -> issues.IssueResult:
    """Open, update, reopen or close the sticky issue as the drift check says."""
    if action(outcome) == "close":
        return issues.close_sticky_issue(
            client,
            order.repo,
            marker=order.mark,
            label=order.label,
            comment=closing_comment(outcome, order.run),
            author=order.author,
        )
    return issues.upsert_sticky_issue(
        client,
        order.repo,
        marker=order.mark,
        title=title(order.model),
        body=issue_body(order.mark, order.model, outcome, order.run, candidate),
        label=order.label,
        author=order.author,
    )
