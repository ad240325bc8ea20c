"""The registry's decisions and its audit trail, as pure functions of release
listings: which tag a build gets, which release is the model's, which one a build
compares with, whether a publish may move "latest", what a rollback does, and the
audit lines kept in release notes. Every registry makes the same decisions.

Each release's notes are the model card, then an audit section of one line per
registry event (published, republished, promoted, rolled back), each with a
hidden JSON copy that these functions read back. So the notes are the audit log,
and a promote or rollback leaves a line even when it changes nothing else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from ci_ml.marker import hidden_json, read_release_marker
from ci_ml.registry.base import Release

AUDIT_HEADER = "<!-- ci-ml:audit -->"
_EVENT_RE = re.compile(r"<!-- ci-ml:event (\{.*?\}) -->")
# The files a ci-ml artifact always has: a release made before the marker existed
# is recognised as ci-ml's by them.
LEGACY_ASSETS = frozenset({"model.onnx", "manifest.json", "SHA256SUMS"})
STATE_ACTIONS = ("published", "promoted", "rolled-back")


def version_of(tag: str, prefix: str) -> int | None:
    """The integer version in `<prefix><N>`, or None for any other tag."""
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", tag)
    return int(m.group(1)) if m else None


def _same_build(release: Release, fingerprint: str | None) -> bool:
    """Whether `release` may hold the build with this fingerprint: a re-run of its
    build. A model retrained on fresh data at the same commit has another
    fingerprint (the data are in it) and must not overwrite the commit's release.
    Without a fingerprint on either side (older releases), the commit decides."""
    if fingerprint is None:
        return True
    theirs = (read_release_marker(release.notes) or {}).get("fingerprint")
    return not isinstance(theirs, str) or theirs == fingerprint


def choose_tag(
    releases: Iterable[Release], prefix: str, sha: str, fingerprint: str | None = None
) -> tuple[str, bool]:
    """(tag, reused): the release already made for this commit and build (a re-run),
    else the next integer version after the highest `<prefix><N>`."""
    releases = list(releases)
    for r in releases:
        if (
            version_of(r.tag, prefix) is not None
            and r.commit == sha
            and _same_build(r, fingerprint)
        ):
            return r.tag, True
    taken = [v for r in releases if (v := version_of(r.tag, prefix)) is not None]
    return f"{prefix}{max(taken, default=0) + 1}", False


# --- who and what: the facts an audit line records ----------------------------------


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class PullRequest:
    """The pull request that brought a build's commit, with who approved it."""

    number: int | None
    title: str | None = None
    author: str | None = None
    url: str | None = None
    approved_by: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "number": self.number,
            "title": self.title,
            "author": self.author,
            "url": self.url,
            "approved_by": list(self.approved_by),
        }

    @classmethod
    def from_json(cls, value: object) -> PullRequest | None:
        """Read back from a manifest or a log line (tolerant: never trusted blindly)."""
        if not isinstance(value, Mapping):
            return None
        number = value.get("number")
        approvers = value.get("approved_by")
        return cls(
            number if isinstance(number, int) and not isinstance(number, bool) else None,
            _text(value.get("title")),
            _text(value.get("author")),
            _text(value.get("url")),
            tuple(a for a in approvers if isinstance(a, str))
            if isinstance(approvers, list)
            else (),
        )


@dataclass(frozen=True)
class Event:
    """One line of a release's registry log."""

    action: str  # published, republished, promoted, rolled-back
    at: str
    by: str | None = None
    commit: str | None = None
    pr: PullRequest | None = None
    sent: tuple[str, ...] | None = None  # a republish: the files sent again
    previous: str | None = None  # a promote: the release that was latest
    to: str | None = None  # a rollback: the release that is latest now
    reason: str | None = None
    run: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"action": self.action, "at": self.at}
        for name in ("by", "commit", "previous", "to", "reason", "run"):
            if (value := getattr(self, name)) is not None:
                out[name] = value
        if self.pr is not None:
            out["pr"] = self.pr.as_json()
        if self.sent is not None:
            out["sent"] = list(self.sent)
        return out

    @classmethod
    def from_json(cls, value: Mapping[str, object]) -> Event | None:
        action = value.get("action")
        if not isinstance(action, str):
            return None
        sent = value.get("sent")
        return cls(
            action,
            str(value.get("at", "")),
            _text(value.get("by")),
            _text(value.get("commit")),
            PullRequest.from_json(value.get("pr")),
            tuple(str(s) for s in sent) if isinstance(sent, list) else None,
            _text(value.get("previous")),
            _text(value.get("to")),
            _text(value.get("reason")),
            _text(value.get("run")),
        )


# --- ownership -------------------------------------------------------------------


def ownership_problem(release: Release, name: str) -> str | None:
    """Why ci-ml may not reuse `release` for the model `name` (None: it may): it must
    carry ci-ml's marker for this model, or (made before the marker) ci-ml's files."""
    facts = read_release_marker(release.notes)
    if facts is not None:
        if facts.get("name") == name:
            return None
        return f"it holds another model ({str(facts.get('name'))[:80]!r})"
    if set(release.assets) >= LEGACY_ASSETS:
        return None
    return "it was not made by ci-ml (no ci-ml marker in its notes, no model files)"


def model_release_problem(release: Release, name: str, prefix: str) -> str | None:
    """Why promote and rollback may not touch `release` (None: they may): its tag
    must start with the prefix, and no ci-ml marker may name another model."""
    facts = read_release_marker(release.notes)
    if facts is not None and facts.get("name") != name:
        return f"it holds another model ({str(facts.get('name'))[:80]!r})"
    if not release.tag.startswith(prefix):
        return f"its tag does not start with {prefix}"
    return None


# --- events ----------------------------------------------------------------------


def events(notes: str | None) -> list[Event]:
    """The registry events recorded in a release's notes, oldest first."""
    out = []
    for m in _EVENT_RE.finditer(notes or ""):
        try:
            value = json.loads(m.group(1))
        except ValueError:
            continue
        if isinstance(value, dict) and (event := Event.from_json(value)) is not None:
            out.append(event)
    return out


def rolled_back(release: Release) -> bool:
    """True if the release's last registry event is a rollback away from it."""
    state = [e for e in events(release.notes) if e.action in STATE_ACTIONS]
    return bool(state) and state[-1].action == "rolled-back"


def _who(event: Event) -> str:
    return f"@{event.by}" if event.by else "an unknown actor"


def _pr_words(pr: PullRequest) -> str:
    text = f"PR #{pr.number}"
    if pr.title:
        text += f" “{_plain(pr.title)}”"
    if pr.author:
        text += f" by @{_plain(pr.author)}"
    if pr.approved_by:
        text += ", approved by " + ", ".join(f"@{_plain(a)}" for a in pr.approved_by)
    return text


def _plain(text: object) -> str:
    """User text in one markdown line: no markup, no line breaks, bounded."""
    s = re.sub(r"[\r\n]+", " ", str(text))[:300]
    return re.sub(r"([\\`*_{}\[\]()#+!|~<>])", r"\\\1", s)


def describe(event: Event) -> str:
    """One human line for an event."""
    words = {
        "published": "published",
        "republished": "republished",
        "promoted": "promoted to latest",
        "rolled-back": "rolled back",
    }.get(event.action, _plain(event.action))
    text = f"{_plain(event.at)} · **{words}** by {_who(event)}"
    if event.commit:
        text += f" from commit `{event.commit[:12]}`"
    if event.pr:
        text += f" ({_pr_words(event.pr)})"
    if event.sent is not None:
        text += f"; files sent: {', '.join(map(_plain, event.sent)) or 'none'}"
    if event.previous:
        text += f"; latest was {_plain(event.previous)}"
    if event.to:
        text += f"; latest is now {_plain(event.to)}"
    if event.reason:
        text += f": {_plain(event.reason)}"
    if event.run:
        text += f" · [run]({_plain(event.run)})"
    return text


def audit_section(notes: str | None) -> str:
    """The audit section of a release's notes (empty if it has none)."""
    notes = notes or ""
    i = notes.find(AUDIT_HEADER)
    return notes[i:].rstrip("\n") if i >= 0 else ""


def with_event(card: str, old_notes: str | None, event: Event | None) -> str:
    """New notes: `card`, then the old notes' audit section, then `event` (if any)."""
    section = audit_section(old_notes) or f"{AUDIT_HEADER}\n### Registry log\n"
    if event is not None:
        section = section.rstrip("\n") + f"\n- <!-- ci-ml:event {hidden_json(event.as_json())} --> "
        section += describe(event)
    return card.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"


def card_of(notes: str | None) -> str:
    """The notes without their audit section."""
    notes = notes or ""
    i = notes.find(AUDIT_HEADER)
    return (notes[:i] if i >= 0 else notes).rstrip("\n") + "\n"


def publish_notes(card: str, existing: Release | None, event: Event, sent: Sequence[str]) -> str:
    """A publish's notes: the model card, the log so far, and this publish's line
    (a re-run that sent nothing adds none; a republish names what it sent)."""
    old = existing.notes if existing else None
    if event.action == "republished":
        if not sent:
            return with_event(card, old, None)
        event = replace(event, sent=tuple(sent))
    return with_event(card, old, event)


# --- which release --------------------------------------------------------------------


def _model_releases(
    releases: Iterable[Release],
    prefix: str,
    include_prereleases: bool = False,
    include_drafts: bool = False,
) -> list[Release]:
    return [
        r
        for r in releases
        if r.tag.startswith(prefix)
        and (include_drafts or not r.draft)
        and (include_prereleases or not r.prerelease)
    ]


def published_order(r: Release) -> tuple[str, int]:
    # ISO-8601 UTC strings sort chronologically; drafts have no published_at.
    return (r.published_at or r.created_at, r.key)


def pick_baseline(
    releases: Iterable[Release],
    latest: int | None,
    prefix: str,
    *,
    include_prereleases: bool = False,
    include_drafts: bool = False,
    exclude_commit: str | None = None,
) -> Release | None:
    """The release a build compares with: the registry's latest (key `latest`) if it
    is one of the model's, else the newest one not rolled back (else the newest). A
    release made for `exclude_commit` is skipped: a re-run compares with the model
    before it."""
    candidates = [
        r
        for r in _model_releases(releases, prefix, include_prereleases, include_drafts)
        if not (exclude_commit and r.commit == exclude_commit)
    ]
    if not candidates:
        return None
    for r in candidates:
        if r.key == latest:
            return r
    good = [r for r in candidates if not rolled_back(r)] or candidates
    return max(good, key=published_order)


def model_releases(releases: Iterable[Release], prefix: str, limit: int) -> list[Release]:
    """The last `limit` published model releases, oldest first, chosen as the
    baseline is (the tag prefix, no drafts or prereleases, by publication), so
    the baseline is the last of them."""
    ours = sorted(_model_releases(releases, prefix), key=published_order)
    return ours[-limit:] if limit > 0 else []


def latest_decision(
    existing: Release | None, latest: Release | None, tag: str, prefix: str
) -> bool | None:
    """Should publishing `tag` make it latest? None: leave "latest" alone.

    A re-publish of a published release never moves latest (a re-run after a
    rollback must not undo it); a new model does, unless it would move latest
    backwards (a lower version than the latest model's)."""
    if existing is not None and not existing.draft:
        return None
    if latest is None or not latest.tag.startswith(prefix):
        return True
    mine, theirs = version_of(tag, prefix), version_of(latest.tag, prefix)
    return not (mine is not None and theirs is not None and mine < theirs)


@dataclass(frozen=True)
class Rollback:
    """What `ci-ml rollback` does: retract `source` and make `target` latest."""

    source: Release
    target: Release | None
    done_already: bool  # the newest model is rolled back already: nothing to do


def plan_rollback(releases: Iterable[Release], prefix: str) -> Rollback | None:
    """Roll back the newest model release: its predecessor not itself rolled back
    becomes latest. Idempotent: once the newest is rolled back, a second rollback
    changes nothing (go further back with `ci-ml promote`). None: no model release."""
    models = sorted(_model_releases(releases, prefix), key=published_order, reverse=True)
    if not models:
        return None
    newest = models[0]
    target = next((r for r in models[1:] if not rolled_back(r)), None)
    return Rollback(newest, target, rolled_back(newest))


# --- the listing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One model release in `ci-ml registry list`."""

    tag: str
    commit: str | None
    published_at: str | None
    primary_metric: str | None
    primary_value: float | None
    latest: bool
    state: str  # "", draft, prerelease, rolled back
    url: str | None


def registry_rows(releases: Iterable[Release], latest: int | None, prefix: str) -> list[Row]:
    """One row per model release, newest first, for `ci-ml registry list`."""
    rows = []
    for r in sorted(_model_releases(releases, prefix, True, True), key=published_order)[::-1]:
        facts = read_release_marker(r.notes) or {}
        state = "draft" if r.draft else "prerelease" if r.prerelease else ""
        if rolled_back(r):
            state = "rolled back"
        value = facts.get("value")
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            value = None
        rows.append(
            Row(
                tag=r.tag,
                commit=_text(facts.get("commit")) or r.commit,
                published_at=r.published_at,
                primary_metric=_text(facts.get("primary")),
                primary_value=None if value is None else float(value),
                latest=r.key == latest,
                state=state,
                url=r.url,
            )
        )
    return rows
