"""Publishing a build to the registry: only a complete, current build that passed
its gates (unless forced) becomes a release. Its tag, whether it becomes latest and
its log line are decided here, the same for every registry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ci_ml import stages
from ci_ml.artifact import REQUIRED_FOR_PUBLISH, SUMS, read_json, verify_sums
from ci_ml.build import Build
from ci_ml.config import Config
from ci_ml.errors import UsageError
from ci_ml.marker import read_release_marker
from ci_ml.records import read_manifest
from ci_ml.registry import audit
from ci_ml.registry.base import Listing, Published, Registry, Release, Upload
from ci_ml.services.clock import now
from ci_ml.signing import SIGNATURE


@dataclass(frozen=True)
class Reused:
    """The build cache took its baseline release's own model: nothing new to publish."""

    label: str
    url: str


def _check(b: Build, force: bool) -> None:
    """Only a complete build whose every stage is current may become a release;
    `force` overrides failed gates and model tests, never a broken chain."""
    problems = b.publish_problems()
    if problems:
        raise UsageError(
            f"refusing to publish {b.out}: it is not a complete, current build: "
            + "; ".join(problems),
            hint="run `ci-ml run` and publish what it builds (--force cannot override this)",
        )
    if read_json(b.out / "comparison.json").get("verdict") == "fail" and not force:
        raise UsageError(
            "this build failed its gates: refusing to publish it as the latest model",
            hint="fix the regression, or pass --force to publish anyway",
        )
    if read_json(b.out / "model-tests.json").get("passed") is False and not force:
        raise UsageError(
            "this build failed its model tests: refusing to publish it as the latest model",
            hint="see model-tests.json; fix the model, or pass --force to publish anyway",
        )


@contextlib.contextmanager
def publishable_build(cfg: Config, out: Path, force: bool) -> Iterator[Reused | None]:
    """Hold the build folder's lock while it is checked, signed and published;
    yields what the build reused (None: a model of its own, to publish)."""
    with Build(cfg, out, stages.chain()).open(create=False) as b:
        _check(b, force)
        reused = getattr(b.result("train"), "reused_from", None)
        if isinstance(reused, dict) and reused.get("source") == "release":
            yield Reused(str(reused.get("label") or ""), str(reused.get("url") or ""))
        else:
            yield None


def publishable_files(out: Path) -> list[Path]:
    """The artifact files to publish: exactly those SHA256SUMS lists, plus SHA256SUMS
    and the signature over both (if signed), after checking them (a build changed
    after `ci-ml report` is not published)."""
    if not (out / SUMS).is_file():
        raise UsageError(
            f"{out} has no {SUMS}: nothing complete to publish",
            hint="run `ci-ml run` (or `ci-ml report`) before `ci-ml publish`",
        )
    listed = verify_sums(out, required=REQUIRED_FOR_PUBLISH)
    signature = [out / SIGNATURE] if (out / SIGNATURE).is_file() else []
    return [out / name for name in listed] + [out / SUMS] + signature


@dataclass(frozen=True)
class Staged:
    """What a publish sends, read and checked before any registry is asked."""

    files: tuple[Path, ...]
    card: str
    commit: str
    pr: audit.PullRequest | None


def stage(out: Path, commit: str | None) -> Staged:
    """The build's files, model card, commit (`commit`, else the manifest's) and the
    pull request its manifest names."""
    files = publishable_files(out)
    manifest = read_manifest(out)
    sha = commit or manifest.commit
    if not sha:
        raise UsageError(
            "ci-ml publish needs the commit to tag: set GITHUB_SHA or build inside a git checkout"
        )
    card = (out / "model-card.md").read_text(encoding="utf-8")
    pr = audit.PullRequest.from_json(
        manifest.provenance.pull_request if manifest.provenance else None
    )
    return Staged(tuple(files), card, sha, pr)


@dataclass(frozen=True)
class PublishOrder:
    model: str  # the config's display name: whose releases these are
    prefix: str
    tag: str | None = None  # None: `<prefix><next N>`, or the commit's own release
    by: str | None = None
    run: str | None = None
    prerelease: bool = False


@dataclass(frozen=True)
class PublishOutcome:
    published: Published
    verb: str  # created or updated
    latest: bool | None  # made latest, not, or left where it was (None)


@dataclass(frozen=True)
class PublishPlan:
    tag: str
    reused: bool  # the commit's own release, found again (a re-run)
    existing: Release | None
    make_latest: bool | None


def plan_publish(
    listing: Listing, order: PublishOrder, commit: str, fingerprint: str | None = None
) -> PublishPlan:
    """Which release a publish goes to and whether it becomes latest: the commit's
    own release on a re-run of its build (`fingerprint`: a model retrained on fresh
    data at that commit gets a release of its own), never one that is not this
    model's, never latest backwards, never a prerelease. Pure."""
    if order.tag:
        tag, reused = order.tag, False
    else:
        tag, reused = audit.choose_tag(listing.releases, order.prefix, commit, fingerprint)
    existing = listing.by_tag(tag)
    if existing is not None and (problem := audit.ownership_problem(existing, order.model)):
        raise UsageError(
            f"refusing to publish into release {tag}: {problem}; its assets would be "
            "replaced and its other files deleted",
            hint="pick another --tag (or none: ci-ml numbers its own releases)",
        )
    latest = next((r for r in listing.releases if r.key == listing.latest), None)
    make_latest = audit.latest_decision(existing, latest, tag, order.prefix)
    if order.prerelease and make_latest:
        make_latest = False
    return PublishPlan(tag, reused, existing, make_latest)


def publish(registry: Registry, order: PublishOrder, staged: Staged) -> PublishOutcome:
    """Create or update the release `plan_publish` picks, with its log line."""
    with registry.lock():  # what is listed is what the publish applies to
        fingerprint = (read_release_marker(staged.card) or {}).get("fingerprint")
        plan = plan_publish(  # the one listing
            registry.listing(),
            order,
            staged.commit,
            fingerprint if isinstance(fingerprint, str) else None,
        )
        existing = plan.existing
        event = audit.Event(
            "published" if existing is None or existing.draft else "republished",
            now(),
            by=order.by,
            commit=staged.commit,
            pr=staged.pr,
            run=order.run,
        )
        upload = Upload(
            tag=plan.tag,
            commit=staged.commit,
            title=f"{order.model} {plan.tag}",
            files=staged.files,
            notes=lambda sent: audit.publish_notes(staged.card, existing, event, sent),
            make_latest=plan.make_latest,
            prerelease=order.prerelease,
        )
        published = registry.publish(upload)
    verb = "updated" if (plan.reused or not published.created) else "created"
    return PublishOutcome(published, verb, plan.make_latest)
