"""Promote, roll back and list the model's releases, in any registry. Each
operation is idempotent: run twice, it leaves the registry as once, and only the
first leaves a line in the release's log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ci_ml.errors import UsageError
from ci_ml.registry import audit
from ci_ml.registry.base import Registry, Release
from ci_ml.services.clock import now

LIST_HINT = "`ci-ml registry list` shows the model's releases"


@dataclass(frozen=True)
class Actor:
    """Who acts, for the log line: asked only when a line is written (on GitHub it
    may cost a request)."""

    who: Callable[[], str | None]
    run: str | None = None


@dataclass(frozen=True)
class Model:
    """Whose releases: the config's display name and tag prefix."""

    name: str
    prefix: str


def _check_model_release(release: Release, model: Model) -> None:
    """Promote and rollback touch the model's releases only (their notes get a line)."""
    problem = audit.model_release_problem(release, model.name, model.prefix)
    if problem:
        raise UsageError(
            f"release {release.tag} is not a model release of {model.name}: {problem}",
            hint=LIST_HINT,
        )


@dataclass(frozen=True)
class Promoted:
    release: Release
    changed: bool  # False: it was latest already


def promote(
    registry: Registry, tag: str, model: Model, actor: Actor, reason: str | None = None
) -> Promoted:
    """Make the model release `tag` latest, with a log line; a no-op if it is."""
    with registry.lock():  # what is read is what the write applies to
        return _promote(registry, tag, model, actor, reason)


def _promote(
    registry: Registry, tag: str, model: Model, actor: Actor, reason: str | None
) -> Promoted:
    release = registry.find(tag)
    # A prerelease (a candidate retrained on fresh data) is promoted deliberately:
    # it becomes a full release and the latest.
    if release is None or release.draft:
        raise UsageError(
            f"no published release {tag} in {registry.where} to promote", hint=LIST_HINT
        )
    _check_model_release(release, model)
    latest = registry.marked_latest()
    if latest is not None and latest.key == release.key:
        return Promoted(release, False)
    event = audit.Event(
        "promoted",
        now(),
        by=actor.who(),
        reason=reason,
        previous=latest.tag if latest else None,
        run=actor.run,
    )
    notes = audit.with_event(audit.card_of(release.notes), release.notes, event)
    return Promoted(registry.promote(release, notes), True)


@dataclass(frozen=True)
class RolledBack:
    source: Release  # the release retracted
    target: Release  # the release that is latest now
    changed: bool  # False: the newest was rolled back already


def rollback(
    registry: Registry, model: Model, actor: Actor, reason: str | None = None
) -> RolledBack:
    """Retract the newest model release: the newest earlier one not itself rolled
    back becomes latest, and both releases' logs say so."""
    with registry.lock():  # two rollbacks at once retract one release, not two
        return _rollback(registry, model, actor, reason)


def _rollback(registry: Registry, model: Model, actor: Actor, reason: str | None) -> RolledBack:
    plan = audit.plan_rollback(registry.listing().releases, model.prefix)
    if plan is None or plan.target is None:
        raise UsageError(
            f"nothing to roll back to: {registry.where} has "
            + ("no model release" if plan is None else "no earlier model release in good standing"),
            hint=LIST_HINT,
        )
    src, dst = plan.source, plan.target
    if plan.done_already:
        return RolledBack(src, dst, False)
    _check_model_release(src, model)
    at, by = now(), actor.who()
    off = audit.Event("rolled-back", at, by=by, to=dst.tag, reason=reason, run=actor.run)
    on = audit.Event("promoted", at, by=by, previous=src.tag, reason=reason, run=actor.run)
    registry.rollback(
        src,
        audit.with_event(audit.card_of(src.notes), src.notes, off),
        dst,
        audit.with_event(audit.card_of(dst.notes), dst.notes, on),
    )
    return RolledBack(src, dst, True)


def rows(registry: Registry, prefix: str) -> list[audit.Row]:
    """The model's releases, newest first, for `ci-ml registry list`."""
    listing = registry.listing()
    return audit.registry_rows(listing.releases, listing.latest, prefix)
