"""GitHub Releases as a model registry (`ci_ml.registry.base.Registry`): the
HTTP calls are in ci_ml.github.api (draft, upload, verify, publish; the release
list read once per command), the decisions in ci_ml.registry.audit."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ci_ml.errors import GitHubError
from ci_ml.github import api
from ci_ml.github.client import GitHubClient
from ci_ml.json_types import JSONObject
from ci_ml.registry.audit import pick_baseline
from ci_ml.registry.base import (
    Check,
    Fetched,
    Listing,
    Published,
    Release,
    ReleaseFile,
    Upload,
)
from ci_ml.registry.fetching import land


class GitHubRegistry:
    """The releases of one repository. It keeps the replies it has read until it
    writes, so a command lists the releases once and acts on what it listed."""

    def __init__(self, client: GitHubClient, repo: str) -> None:
        self.client = client
        self.repo = repo
        self._replies: dict[int, JSONObject] = {}
        self._listed: list[JSONObject] | None = None

    @property
    def where(self) -> str:
        return self.repo

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """GitHub has no lock: a workflow's `concurrency` group keeps two publishes
        of one repository apart (and a racing draft is found and deduplicated)."""
        return contextlib.nullcontext()

    def _record(self, reply: JSONObject) -> Release:
        self._replies[reply["id"]] = reply
        return api.release_record(reply)

    def _reply(self, release: Release) -> JSONObject:
        reply = self._replies.get(release.key)
        if reply is None:
            reply = api.get_release_by_tag(self.client, self.repo, release.tag)
            if reply is None:
                raise GitHubError(f"release {release.tag} is gone from {self.repo}")
        return reply

    def _forget(self) -> None:
        """After a write: what was read before is stale (notes, asset ids)."""
        self._replies.clear()
        self._listed = None

    def listing(self) -> Listing:
        self._listed = api.list_releases(self.client, self.repo)
        releases = tuple(self._record(r) for r in self._listed)
        latest = api.get_latest_release(self.client, self.repo)
        return Listing(releases, latest["id"] if latest else None)

    def find(self, tag: str) -> Release | None:
        reply = api.get_release_by_tag(self.client, self.repo, tag)
        return self._record(reply) if reply is not None else None

    def marked_latest(self) -> Release | None:
        reply = api.get_latest_release(self.client, self.repo)
        return self._record(reply) if reply is not None else None

    def latest(
        self,
        prefix: str,
        *,
        include_prereleases: bool = False,
        exclude_commit: str | None = None,
        listing: Listing | None = None,
    ) -> Release | None:
        listing = listing or self.listing()
        return pick_baseline(
            listing.releases,
            listing.latest,
            prefix,
            include_prereleases=include_prereleases,
            exclude_commit=exclude_commit,
        )

    def fetch(
        self, release: Release, into: Path, check: Check | None = None, kind: str = "baseline"
    ) -> Fetched:
        """Through the API, so private repositories work; each file checked against
        the size and digest GitHub lists, then the whole against SHA256SUMS."""
        reply = self._reply(release)

        def fill(tmp: Path) -> None:
            api.download_release_assets(self.client, reply, tmp)

        return land(release, self.repo, into, fill, check, kind)

    def publish(self, upload: Upload) -> Published:
        result = api.publish_release(
            self.client,
            self.repo,
            upload.tag,
            upload.commit,
            upload.title,
            lambda sent: upload.notes(sent),
            list(upload.files),
            make_latest=False if upload.prerelease else upload.make_latest,
            releases=self._listed,
            prerelease=upload.prerelease,
        )
        self._forget()
        return Published(
            tag=result.tag,
            url=result.html_url,
            created=result.created,
            sent=tuple(result.sent),
            assets=tuple(a.name for a in result.assets),
        )

    def promote(self, release: Release, notes: str) -> Release:
        api.mark_latest(
            self.client, self.repo, release.tag, notes, self._reply(release),
            prerelease_off=release.prerelease,
        )  # fmt: skip
        self._forget()
        return replace(release, notes=notes, prerelease=False)

    def rollback(
        self, source: Release, source_notes: str, target: Release, target_notes: str
    ) -> None:
        source_reply = self._reply(source)
        try:
            api.mark_latest(self.client, self.repo, target.tag, target_notes, self._reply(target))
            api.update_notes(self.client, self.repo, source_reply, source_notes)
        finally:
            self._forget()

    def history(
        self,
        releases: Sequence[Release],
        name: str,
        max_bytes: int,
        have: Mapping[str, bytes] | None = None,
    ) -> list[ReleaseFile]:
        """Each file downloaded once, size and digest checked by the client. GitHub's
        errors are the caller's."""
        have = have or {}
        out = []
        with tempfile.TemporaryDirectory(prefix="ci-ml-history-") as tmp:
            for i, r in enumerate(releases):
                info = (r.tag, r.published_at, r.url)
                assets = self._reply(r).get("assets") or []
                asset = next((a for a in assets if a["name"] == name), None)
                if r.tag in have:
                    out.append(ReleaseFile(*info, have[r.tag]))
                elif asset is None or asset["state"] != "uploaded":
                    out.append(ReleaseFile(*info, None, f"{r.tag} has no {name}"))
                elif asset["size"] > max_bytes:
                    out.append(
                        ReleaseFile(*info, None, f"{r.tag}'s {name} is {asset['size']} bytes")
                    )
                else:
                    dest = self.client.download(
                        asset["url"], Path(tmp) / f"{i}-{name}", size=asset["size"],
                        digest=asset.get("digest"),
                    )  # fmt: skip
                    out.append(ReleaseFile(*info, dest.read_bytes()))
        return out
