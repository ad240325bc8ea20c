"""The registry's decisions and its audit trail, as pure functions of release
listings: which release is ours, which one a build compares with, whether a
publish may move "latest", what a rollback does, and the audit lines kept in
release notes.

Each release's notes are the model card, then an audit section of one line per
registry event (published, republished, promoted, rolled back), each with a
hidden JSON copy that these functions read back. So the notes are the audit log,
and a promote or rollback leaves a line even when it changes nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ci_ml.marker import hidden_json, read_release_marker

AUDIT_HEADER = "<!-- ci-ml:audit -->"
_EVENT_RE = re.compile(r"<!-- ci-ml:event (\{.*?\}) -->")
# The files a ci-ml artifact always has: a release made before the marker existed
# is recognised as ci-ml's by them.
LEGACY_ASSETS = frozenset({"model.onnx", "manifest.json", "SHA256SUMS"})


def version_of(tag: str, prefix: str) -> int | None:
    """The integer version in `<prefix><N>`, or None for any other tag."""
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", tag)
    return int(m.group(1)) if m else None


# --- ownership -------------------------------------------------------------------


def ownership_problem(release: dict[str, Any], name: str) -> str | None:
    """Why ci-ml may not reuse `release` for the model `name` (None: it may): it must
    carry ci-ml's marker for this model, or (made before the marker) ci-ml's files."""
    facts = read_release_marker(release.get("body"))
    if facts is not None:
        if facts.get("name") == name:
            return None
        return f"it holds another model ({str(facts.get('name'))[:80]!r})"
    assets = {a["name"] for a in release.get("assets") or []}
    if assets >= LEGACY_ASSETS:
        return None
    return "it was not made by ci-ml (no ci-ml marker in its notes, no model files)"


# --- events ----------------------------------------------------------------------


def events(body: str | None) -> list[dict[str, Any]]:
    """The registry events recorded in a release's notes, oldest first."""
    out = []
    for m in _EVENT_RE.finditer(body or ""):
        try:
            value = json.loads(m.group(1))
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def rolled_back(release: dict[str, Any]) -> bool:
    """True if the release's last registry event is a rollback away from it."""
    state = [e for e in events(release.get("body")) if e.get("action") in STATE_ACTIONS]
    return bool(state) and state[-1]["action"] == "rolled-back"


STATE_ACTIONS = ("published", "promoted", "rolled-back")


def _who(event: dict[str, Any]) -> str:
    by = event.get("by")
    return f"@{by}" if by else "an unknown actor"


def _pr_words(pr: dict[str, Any]) -> str:
    text = f"PR #{pr.get('number')}"
    if pr.get("title"):
        text += f" “{_plain(pr['title'])}”"
    if pr.get("author"):
        text += f" by @{_plain(pr['author'])}"
    approvers = pr.get("approved_by") or []
    if approvers:
        text += ", approved by " + ", ".join(f"@{_plain(a)}" for a in approvers)
    return text


def _plain(text: Any) -> str:
    """User text in one markdown line: no markup, no line breaks, bounded."""
    s = re.sub(r"[\r\n]+", " ", str(text))[:300]
    return re.sub(r"([\\`*_{}\[\]()#+!|~<>])", r"\\\1", s)


def describe(event: dict[str, Any]) -> str:
    """One human line for an event."""
    action = event.get("action", "?")
    at = str(event.get("at", ""))
    words = {
        "published": "published",
        "republished": "republished",
        "promoted": "promoted to latest",
        "rolled-back": "rolled back",
    }.get(action, _plain(action))
    text = f"{_plain(at)} · **{words}** by {_who(event)}"
    if event.get("commit"):
        text += f" from commit `{str(event['commit'])[:12]}`"
    if event.get("pr"):
        text += f" ({_pr_words(event['pr'])})"
    if event.get("sent") is not None:
        text += f"; files sent: {', '.join(map(_plain, event['sent'])) or 'none'}"
    if event.get("previous"):
        text += f"; latest was {_plain(event['previous'])}"
    if event.get("to"):
        text += f"; latest is now {_plain(event['to'])}"
    if event.get("reason"):
        text += f": {_plain(event['reason'])}"
    if event.get("run"):
        text += f" · [run]({_plain(event['run'])})"
    return text


def audit_section(body: str | None) -> str:
    """The audit section of a release's notes (empty if it has none)."""
    body = body or ""
    i = body.find(AUDIT_HEADER)
    return body[i:].rstrip("\n") if i >= 0 else ""


def with_event(card: str, old_body: str | None, event: dict[str, Any] | None) -> str:
    """New notes: `card`, then the old notes' audit section, then `event` (if any)."""
    section = audit_section(old_body) or f"{AUDIT_HEADER}\n### Registry log\n"
    if event is not None:
        section = section.rstrip("\n") + f"\n- <!-- ci-ml:event {hidden_json(event)} --> "
        section += describe(event)
    return card.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"


def card_of(body: str | None) -> str:
    """The notes without their audit section."""
    body = body or ""
    i = body.find(AUDIT_HEADER)
    return (body[:i] if i >= 0 else body).rstrip("\n") + "\n"


def approvers(reviews: list[dict[str, Any]]) -> list[str]:
    """Logins whose last deciding review (approved, changes requested, dismissed)
    approves, in the order they approved. Comments do not change a decision."""
    last: dict[str, str] = {}
    for r in reviews:
        login = (r.get("user") or {}).get("login")
        if login and r.get("state") in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            last.pop(login, None)  # re-insert: the order is that of the last decision
            last[login] = r["state"]
    return [login for login, state in last.items() if state == "APPROVED"]


# --- which release --------------------------------------------------------------------


def _model_releases(
    releases: list[dict[str, Any]],
    prefix: str,
    include_prereleases: bool = False,
    include_drafts: bool = False,
) -> list[dict[str, Any]]:
    return [
        r
        for r in releases
        if r["tag_name"].startswith(prefix)
        and (include_drafts or not r.get("draft"))
        and (include_prereleases or not r.get("prerelease"))
    ]


def _published_order(r: dict[str, Any]) -> tuple[str, int]:
    # ISO-8601 UTC strings sort chronologically; drafts have no published_at.
    return (r.get("published_at") or r["created_at"], r["id"])


def pick_baseline(
    releases: list[dict[str, Any]],
    latest_id: int | None,
    prefix: str,
    *,
    include_prereleases: bool = False,
    include_drafts: bool = False,
    exclude_commit: str | None = None,
) -> dict[str, Any] | None:
    """The release a build compares with: GitHub's latest if it is one of the
    model's, else the newest one not rolled back (else the newest). A release made
    for `exclude_commit` is skipped: a re-run compares with the model before it."""
    candidates = [
        r
        for r in _model_releases(releases, prefix, include_prereleases, include_drafts)
        if not (exclude_commit and r.get("target_commitish") == exclude_commit)
    ]
    if not candidates:
        return None
    for r in candidates:
        if r["id"] == latest_id:
            return r
    good = [r for r in candidates if not rolled_back(r)] or candidates
    return max(good, key=_published_order)


def latest_decision(
    existing: dict[str, Any] | None, latest: dict[str, Any] | None, tag: str, prefix: str
) -> bool | None:
    """Should publishing `tag` make it latest? None: leave "latest" alone.

    A re-publish of a published release never moves latest (a re-run after a
    rollback must not undo it); a new model does, unless it would move latest
    backwards (a lower version than the latest model's)."""
    if existing is not None and not existing.get("draft"):
        return None
    if latest is None or not latest["tag_name"].startswith(prefix):
        return True
    mine, theirs = version_of(tag, prefix), version_of(latest["tag_name"], prefix)
    return not (mine is not None and theirs is not None and mine < theirs)


@dataclass(frozen=True)
class Rollback:
    """What `ci-ml rollback` does: retract `source` and make `target` latest."""

    source: dict[str, Any]
    target: dict[str, Any] | None
    done_already: bool  # the newest model is rolled back already: nothing to do


def plan_rollback(releases: list[dict[str, Any]], prefix: str) -> Rollback | None:
    """Roll back the newest model release: its predecessor not itself rolled back
    becomes latest. Idempotent: once the newest is rolled back, a second rollback
    changes nothing (go further back with `ci-ml promote`). None: no model release."""
    models = sorted(_model_releases(releases, prefix), key=_published_order, reverse=True)
    if not models:
        return None
    newest = models[0]
    target = next((r for r in models[1:] if not rolled_back(r)), None)
    return Rollback(newest, target, rolled_back(newest))


# --- the listing ------------------------------------------------------------------------


def registry_rows(
    releases: list[dict[str, Any]], latest_id: int | None, prefix: str
) -> list[dict[str, Any]]:
    """One row per model release, newest first, for `ci-ml registry list`."""
    rows = []
    for r in sorted(_model_releases(releases, prefix, True, True), key=_published_order)[::-1]:
        facts = read_release_marker(r.get("body")) or {}
        state = "draft" if r.get("draft") else "prerelease" if r.get("prerelease") else ""
        if rolled_back(r):
            state = "rolled back"
        rows.append(
            {
                "tag": r["tag_name"],
                "commit": facts.get("commit") or r.get("target_commitish"),
                "published_at": r.get("published_at"),
                "primary_metric": facts.get("primary"),
                "primary_value": facts.get("value"),
                "latest": r["id"] == latest_id,
                "state": state,
                "url": r.get("html_url"),
            }
        )
    return rows
